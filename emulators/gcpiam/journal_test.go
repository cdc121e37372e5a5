package gcpiam_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/internal/jsonlog"
)

// setClock is a settable clock.
type setClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *setClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newSetClock() *setClock { return &setClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// tokenFiles counts the token journal's files and the state file's size.
func tokenFiles(t *testing.T, dir string) (journal int, stateSize int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), gcpiam.TokensPrefix) {
			journal++
		}
	}
	fi, err := os.Stat(filepath.Join(dir, gcpiam.StateFile))
	require.NoError(t, err)
	return journal, fi.Size()
}

func openGCP(t *testing.T, dir string, now func() time.Time) *gcpiam.Handler {
	t.Helper()
	h, err := gcpiam.New(gcpiam.Options{DataDir: dir, Now: now})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h
}

// TestTokenJournal: tokens minted, revoked and expired are as they were
// after a restart (closed or abandoned), many tokens cost a journal that
// stays O(live), and the state file never grows with tokens.
func TestTokenJournal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		close bool
	}{
		{"few, closed", 20, true},
		{"few, abandoned", 20, false},
		{"many, abandoned", 3 * jsonlog.CompactMin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			clk := newSetClock()
			h := openGCP(t, dir, clk.Now)
			require.NoError(t, h.LoadFixtureYAML("lab.yaml", []byte(labFixture)))
			_, stateBefore := tokenFiles(t, dir)
			expired, _, err := h.MintAccessToken(ctx, reader, nil, time.Minute)
			require.NoError(t, err)
			var live, revoked []string
			for k := range tc.n {
				tok, _, err := h.MintAccessToken(ctx, reader, nil, time.Hour)
				require.NoError(t, err)
				if k%10 == 3 {
					require.NoError(t, h.RevokeAccessToken(tok))
					revoked = append(revoked, tok)
				} else {
					live = append(live, tok)
				}
				if k == tc.n/2 {
					clk.Advance(2 * time.Minute) // the first token expires
				}
			}
			journal, stateAfter := tokenFiles(t, dir)
			require.Equal(t, stateBefore, stateAfter, "tokens never go to the state file")
			require.LessOrEqual(t, journal, 3, "compacted files deleted")
			if tc.close {
				h.Close()
			}

			again := openGCP(t, dir, clk.Now)
			for _, tok := range live {
				info, err := again.VerifyAccessToken(tok)
				require.NoError(t, err, "acknowledged token lost")
				require.Equal(t, reader, info.Email)
			}
			for _, tok := range append(revoked, expired) {
				_, err := again.VerifyAccessToken(tok)
				require.ErrorIs(t, err, gcpiam.ErrInvalidToken)
			}
		})
	}
}

// TestTokensOfAnEarlierStateFile: a state file that still holds tokens
// (as every version before the journal wrote it) keeps them, moved into
// the journal, and is written again without them.
func TestTokensOfAnEarlierStateFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := openGCP(t, dir, nil)
	require.NoError(t, h.LoadFixtureYAML("lab.yaml", []byte(labFixture)))
	h.Close()
	path := filepath.Join(dir, gcpiam.StateFile)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, json.Unmarshal(raw, &st))
	st["tokens"] = map[string]any{"ya29.c.legacy": map[string]any{"email": reader, "members": []string{"serviceAccount:" + reader},
		"scopes": []string{gcpiam.ScopeCloudPlatform}, "issued": time.Now().UTC(), "expiry": time.Now().Add(time.Hour).UTC()}}
	raw, err = json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	again := openGCP(t, dir, nil)
	info, err := again.VerifyAccessToken("ya29.c.legacy")
	require.NoError(t, err)
	require.Equal(t, reader, info.Email)
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "ya29.c.legacy", "the state file no longer holds tokens")
	again.Close()
	third := openGCP(t, dir, nil)
	_, err = third.VerifyAccessToken("ya29.c.legacy")
	require.NoError(t, err, "kept in the journal")
	_, _, err = third.MintAccessToken(ctx, reader, nil, 0)
	require.NoError(t, err)
}

// TestTokenJournalSurvivesKill kills, with SIGKILL, a process minting
// tokens as fast as it can (compacting several times, on a clock that
// expires the older ones) and checks that every token it acknowledged and
// still unexpired at its last clock verifies when the data dir is opened
// again.
func TestTokenJournalSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	h := openGCP(t, dir, nil)
	require.NoError(t, h.LoadFixtureYAML("lab.yaml", []byte(labFixture)))
	h.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IDLAB_GCPIAM_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	type ack struct {
		tok string
		exp int64
	}
	var acked []ack
	var last int64
	sc := bufio.NewScanner(out)
	read := func() {
		var a ack
		var now int64
		if _, err := fmt.Sscanf(sc.Text(), "acked %s %d %d .", &a.tok, &a.exp, &now); err == nil && strings.HasSuffix(sc.Text(), " .") {
			acked, last = append(acked, a), now
		}
	}
	for len(acked) < 3*jsonlog.CompactMin && sc.Scan() {
		read()
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for sc.Scan() {
		read()
	}
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &ee, "the helper was killed")
	snaps := 0
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), jsonlog.SnapSuffix) {
			snaps++
		}
	}
	require.GreaterOrEqual(t, snaps, 1, "the helper compacted before it was killed")

	at := time.Unix(last, 0)
	again := openGCP(t, dir, func() time.Time { return at })
	kept := 0
	for _, a := range acked {
		_, err := again.VerifyAccessToken(a.tok)
		if time.Unix(a.exp, 0).After(at) {
			require.NoError(t, err, "acknowledged token %s lost", a.tok)
			kept++
		} else {
			require.ErrorIs(t, err, gcpiam.ErrInvalidToken)
		}
	}
	require.Greater(t, kept, 0)
}

// TestMain runs TestTokenJournalSurvivesKill's victim when the test binary
// is started as one (IDLAB_GCPIAM_HELPER_DIR set), else the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("IDLAB_GCPIAM_HELPER_DIR"); dir != "" {
		if err := tokenKillVictim(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// tokenKillVictim mints tokens until it is killed, printing each once
// MintAccessToken acknowledged it, unbuffered, with its expiry and the
// clock; the clock jumps so that older tokens expire.
func tokenKillVictim(dir string) error {
	clk := newSetClock()
	h, err := gcpiam.New(gcpiam.Options{DataDir: dir, Now: clk.Now})
	if err != nil {
		return err
	}
	for n := 1; ; n++ {
		if n%1000 == 0 {
			clk.Advance(20 * time.Minute)
		}
		tok, exp, err := h.MintAccessToken(context.Background(), reader, nil, time.Hour)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "acked %s %d %d .\n", tok, exp.Unix(), clk.Now().Unix())
	}
}
