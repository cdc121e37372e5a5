package lazyre

import (
	"slices"
	"testing"
)

func TestRegexp(t *testing.T) {
	r := New(`^arn:aws:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256})$`)
	if got := r.String(); got != `^arn:aws:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256})$` {
		t.Errorf("String() = %q", got)
	}
	if !r.MatchString("arn:aws:sns:us-east-1:111111111111:t") || r.MatchString("arn:aws:sns:us-east-1:1:t") {
		t.Error("MatchString disagrees with the expression")
	}
	if got, want := r.FindStringSubmatch("arn:aws:sns:us-east-1:111111111111:t"), []string{"arn:aws:sns:us-east-1:111111111111:t", "us-east-1", "111111111111", "t"}; !slices.Equal(got, want) {
		t.Errorf("FindStringSubmatch = %q, want %q", got, want)
	}
	if r.Regexp() != r.Regexp() {
		t.Error("compiled more than once")
	}
}

func TestBadExpressionPanicsOnUse(t *testing.T) {
	r := New(`(`)
	defer func() {
		if recover() == nil {
			t.Error("no panic on the first match of a bad expression")
		}
	}()
	r.MatchString("x")
}

func TestConcurrentFirstUse(t *testing.T) {
	r := New(`^[a-z]{1,64}$`)
	done := make(chan bool)
	for range 8 {
		go func() { done <- r.MatchString("abc") }()
	}
	for range 8 {
		if !<-done {
			t.Error("no match")
		}
	}
}
