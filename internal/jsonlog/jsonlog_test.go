package jsonlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rec is a test record: a key set to a value, or deleted.
type rec struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	Del   bool   `json:"del,omitempty"`
}

// set is what the test keeps in memory and the journal persists.
type set map[string]string

func (s set) apply(r rec) {
	if r.Del {
		delete(s, r.Key)
		return
	}
	s[r.Key] = r.Value
}

func (s set) live() []rec {
	out := make([]rec, 0, len(s))
	for k, v := range s {
		out = append(out, rec{Key: k, Value: v})
	}
	return out
}

func open(t *testing.T, dir string) (*Journal[rec], set) {
	t.Helper()
	s := set{}
	j, err := Open(Options{Dir: dir, Prefix: "t-"}, s.apply)
	require.NoError(t, err)
	return j, s
}

// change applies r to s and journals it, compacting when due, as a caller
// does under its own lock.
func change(t *testing.T, j *Journal[rec], s set, r rec) {
	t.Helper()
	s.apply(r)
	due, err := j.Append(len(s), r)
	require.NoError(t, err)
	if due {
		j.Compact(s.live())
	}
}

func files(t *testing.T, dir string) (segs, snaps int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), SnapSuffix):
			snaps++
		case strings.HasSuffix(e.Name(), SegmentSuffix):
			segs++
		}
	}
	return segs, snaps
}

// TestRestart: what was appended is back after a restart, closed or
// abandoned, with compactions in between; the files hold O(live) records.
func TestRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes int
		close   bool
	}{
		{"none", 0, true},
		{"few, closed", 10, true},
		{"few, abandoned", 10, false},
		{"compacted, abandoned", 5 * CompactMin, false},
		{"compacted, closed", 5 * CompactMin, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j, s := open(t, dir)
			for n := range tc.changes {
				key := "k" + strconv.Itoa(n%50)
				if n%5 == 4 {
					change(t, j, s, rec{Key: key, Del: true})
				} else {
					change(t, j, s, rec{Key: key, Value: strconv.Itoa(n)})
				}
			}
			j.Wait()
			if tc.close {
				require.NoError(t, j.Close())
				_, err := j.Append(0, rec{Key: "late"})
				require.Error(t, err, "closed")
			}
			j2, s2 := open(t, dir)
			defer j2.Close()
			require.Equal(t, s, s2)
			if tc.changes > CompactMin {
				segs, snaps := files(t, dir)
				require.Equal(t, 1, snaps)
				require.LessOrEqual(t, segs, 2)
			}
		})
	}
}

// TestTornLastLine: a last line without its newline is ignored, the lines
// before it kept, and appends go on in a new segment.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	j, s := open(t, dir)
	change(t, j, s, rec{Key: "a", Value: "1"})
	change(t, j, s, rec{Key: "b", Value: "2"})
	require.NoError(t, j.Close())
	seg := filepath.Join(dir, j.name(1, SegmentSuffix))
	raw, err := os.ReadFile(seg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(seg, raw[:len(raw)-4], 0o600))
	j2, s2 := open(t, dir)
	require.Equal(t, set{"a": "1"}, s2)
	change(t, j2, s2, rec{Key: "c", Value: "3"})
	require.NoError(t, j2.Close())
	_, s3 := open(t, dir)
	require.Equal(t, set{"a": "1", "c": "3"}, s3)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t-0000000000000001.log"), []byte("{\"key\":\"a\"}\nnot json\n{\"key\":\"b\"}\n"), 0o600))
	_, err := Open(Options{Dir: dir, Prefix: "t-"}, func(rec) {})
	require.ErrorContains(t, err, "line 2")
	_, err = Open(Options{Dir: dir}, func(rec) {})
	require.ErrorContains(t, err, "Prefix")
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "t-0000000000000001.log"), []byte("{\"key\":\"a\",\"extra\":1}\n"), 0o600))
	_, err = Open(Options{Dir: other, Prefix: "t-"}, func(rec) {})
	require.ErrorContains(t, err, "unknown field")
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("{\"key\":\"a\",\"value\":\"1\"}\n"))
	f.Add([]byte("{\"key\":\"a\"}\n{\"key\":\"b\",\"del\":true}\n{\"key\":"))
	f.Add([]byte("\n"))
	f.Add([]byte("{} {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []rec
		err := Read(bytes.NewReader(data), func(r rec) { got = append(got, r) })
		for _, r := range got {
			line, err := Encode(r)
			if err != nil {
				t.Fatalf("encode %+v: %v", r, err)
			}
			var again []rec
			if err := Read(bytes.NewReader(line), func(r rec) { again = append(again, r) }); err != nil || len(again) != 1 || again[0] != r {
				t.Fatalf("round trip of %+v: %v %+v", r, err, again)
			}
		}
		if err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatal("a last line without newline read as whole")
		}
		if errors.Is(err, ErrTruncated) && bytes.HasSuffix(data, []byte("\n")) {
			t.Fatal("truncated reported for whole lines")
		}
	})
}

// TestReplaces: a file Options.Replaces names survives until a snapshot
// lands, then goes with the segments the snapshot replaces; other files
// in the directory stay.
func TestReplaces(t *testing.T) {
	dir := t.TempDir()
	old, other := filepath.Join(dir, "state.json"), filepath.Join(dir, "other.json")
	for _, f := range []string{old, other} {
		require.NoError(t, os.WriteFile(f, []byte("{}"), 0o600))
	}
	j, err := Open(Options{Dir: dir, Prefix: "t-", Replaces: []string{"state.json"}}, func(rec) {})
	require.NoError(t, err)
	_, err = j.Append(1, rec{Key: "a", Value: "1"})
	require.NoError(t, err)
	require.FileExists(t, old, "no snapshot yet")
	j.Compact([]rec{{Key: "a", Value: "1"}})
	j.Wait()
	require.NoFileExists(t, old)
	require.FileExists(t, other)
	require.NoError(t, j.Close())
}

// TestParseFileName: a log file's name is the prefix, 16 digits and a
// segment or snapshot suffix; anything else is not one of its files.
func TestParseFileName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int64
		suffix string
		ok     bool
	}{
		{"tokens-0000000000000007.log", 7, SegmentSuffix, true},
		{"tokens-0000000000000012.snap", 12, SnapSuffix, true},
		{"tokens-000000000000007.log", 0, "", false},
		{"tokens-00000000000000x7.log", 0, "", false},
		{"tokens-0000000000000007.tmp", 0, "", false},
		{"other-0000000000000007.log", 0, "", false},
		{"tokens--000000000000007.log", 0, "", false},
	} {
		n, suffix, ok := ParseFileName(tc.name, "tokens-")
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.n, n, tc.name)
		require.Equal(t, tc.suffix, suffix, tc.name)
	}
}
