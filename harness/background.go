package harness

import (
	"context"
	"fmt"
	"sync"
)

// background runs jobs by key beside the caller's other steps and keeps
// their results until asked; stop cancels what still runs and waits, so no
// job outlives the step that started it (Up, when it fails half-way).
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	done   map[string]chan struct{}
	errs   map[string]error
}

// newBackground runs jobs under ctx (and stop).
func newBackground(ctx context.Context) *background {
	ctx, cancel := context.WithCancel(ctx)
	return &background{ctx: ctx, cancel: cancel, done: map[string]chan struct{}{}, errs: map[string]error{}}
}

// start runs f under key; a key runs once.
func (b *background) start(key string, f func(ctx context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.done[key]; ok {
		return
	}
	ch := make(chan struct{})
	b.done[key] = ch
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		err := f(b.ctx)
		b.mu.Lock()
		b.errs[key] = err
		b.mu.Unlock()
		close(ch)
	}()
}

// wait returns the result of key's job once it has ended; a key never
// started is an error, not a wait forever.
func (b *background) wait(key string) error {
	b.mu.Lock()
	ch, ok := b.done[key]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: its background job never started", key)
	}
	<-ch
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.errs[key]
}

// stop cancels the jobs still running and waits for all of them.
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}
