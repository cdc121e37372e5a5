package awsiam

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/jsonlog"
)

// testClock is a settable clock for the journal tests.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// issueN issues n sessions of duration d and returns their key IDs.
func issueN(t *testing.T, i *IAM, n int, d time.Duration) []string {
	t.Helper()
	ids := make([]string, n)
	for k := range ids {
		s, err := i.IssueSession(SessionSpec{Duration: d, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111",
			ARN: "arn:aws:sts::111111111111:assumed-role/app-a/s" + strconv.Itoa(k), RoleARN: "arn:aws:iam::111111111111:role/app-a"}})
		require.NoError(t, err)
		ids[k] = s.Credentials.AccessKeyID
	}
	return ids
}

// journalFiles lists the journal's files in dir by suffix.
func journalFiles(t *testing.T, dir string) (segs, snaps int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		switch name := e.Name(); {
		case !strings.HasPrefix(name, journalPrefix):
		case strings.HasSuffix(name, jsonlog.SnapSuffix):
			snaps++
		case strings.HasSuffix(name, jsonlog.SegmentSuffix):
			segs++
		}
	}
	return segs, snaps
}

// TestJournalRestart: every acknowledged key is back after a restart,
// whether the store was closed or abandoned as a killed process leaves it,
// with or without compactions in between and with or without fsync;
// sessions expired for longer than expiredKeep are not.
func TestJournalRestart(t *testing.T) {
	tests := []struct {
		name    string
		live    int  // sessions still valid at the restart
		expired int  // sessions expired for more than expiredKeep at the restart
		close   bool // Close before the restart; else abandoned, as a kill leaves it
		fsync   bool
	}{
		{name: "few, closed", live: 10, close: true},
		{name: "few, abandoned", live: 10},
		{name: "few, fsync", live: 10, fsync: true},
		{name: "many, abandoned", live: jsonlog.CompactMin + 500},
		{name: "expired ones dropped", live: 20, expired: 30, close: true},
		{name: "expired past a compaction", live: 100, expired: 2*jsonlog.CompactMin + 100},
		{name: "nothing issued", close: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := newTestClock()
			i, err := New(Options{DataDir: dir, Now: clock.Now, Fsync: tc.fsync})
			require.NoError(t, err)
			t.Cleanup(func() { _ = i.Close() })
			old := issueN(t, i, tc.expired, 15*time.Minute)
			clock.Advance(15*time.Minute + expiredKeep)
			live := issueN(t, i, tc.live, time.Hour)
			user, err := i.CreateAccessKey("111111111111", "nobody")
			require.ErrorIs(t, err, ErrNoSuchEntity, "no user: no key")
			require.Empty(t, user.AccessKeyID)
			if tc.close {
				require.NoError(t, i.Close())
			} else {
				i.jr.Wait() // a compaction still writing is a test's race, not a kill's
			}

			j, err := New(Options{DataDir: dir, Now: clock.Now})
			require.NoError(t, err)
			t.Cleanup(func() { _ = j.Close() })
			for _, id := range live {
				_, _, err := j.LookupAccessKey(id)
				require.NoError(t, err, "acknowledged session %s lost", id)
			}
			for _, id := range old {
				_, _, err := j.LookupAccessKey(id)
				require.ErrorIs(t, err, ErrUnknownAccessKey, "expired session %s kept", id)
			}
			j.mu.RLock()
			require.Len(t, j.keys, tc.live)
			j.mu.RUnlock()
		})
	}
}

// TestJournalCompacts: the files on disk hold O(live) records whatever
// was issued, and a compaction leaves one snapshot and the live segment.
func TestJournalCompacts(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	i, err := New(Options{DataDir: dir, Now: clock.Now})
	require.NoError(t, err)
	const rounds = 4
	for r := range rounds {
		issueN(t, i, jsonlog.CompactMin, time.Minute)
		clock.Advance(time.Minute + expiredKeep) // all of them purgeable
		i.jr.Wait()
		_ = r
	}
	live := issueN(t, i, 10, time.Hour)
	require.NoError(t, i.Close())
	segs, snaps := journalFiles(t, dir)
	require.Equal(t, 1, snaps, "one snapshot after compactions")
	require.LessOrEqual(t, segs, 2, "compacted segments deleted")
	var size int64
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		size += fi.Size()
	}
	rec, err := jsonlog.Encode(keyRecord{&accessKey{}})
	require.NoError(t, err)
	require.Less(t, size, int64(3*jsonlog.CompactMin*(len(rec)+450)), "disk holds about the live keys and one segment, not all %d issued", rounds*jsonlog.CompactMin)
	i.mu.RLock()
	require.Less(t, len(i.keys), jsonlog.CompactMin+10, "expired sessions purged from memory")
	i.mu.RUnlock()

	j, err := New(Options{DataDir: dir, Now: clock.Now})
	require.NoError(t, err)
	defer j.Close()
	for _, id := range live {
		_, _, err := j.LookupAccessKey(id)
		require.NoError(t, err)
	}
}

// TestExpiredSessionAnswersForAnHour: a session expired less than
// expiredKeep ago is still found (so its caller hears ExpiredToken), one
// expired longer is purged from memory within a minute of lab time.
func TestExpiredSessionAnswersForAnHour(t *testing.T) {
	clock := newTestClock()
	i, err := New(Options{Now: clock.Now})
	require.NoError(t, err)
	ids := issueN(t, i, 3, 15*time.Minute)
	tests := []struct {
		name    string
		advance time.Duration
		found   bool
	}{
		{"valid", 0, true},
		{"just expired", 16 * time.Minute, true},
		{"expired under an hour ago", 50 * time.Minute, true},
		{"expired over an hour ago", 30 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.Advance(tc.advance)
			issueN(t, i, 1, 24*time.Hour) // a call that may purge
			for _, id := range ids {
				_, _, err := i.LookupAccessKey(id)
				if tc.found {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, ErrUnknownAccessKey)
				}
			}
		})
	}
}

// TestJournalLoadErrors: a half-written last line is a killed write and is
// skipped; anything else that is not a record fails the open, naming the
// file and line.
func TestJournalLoadErrors(t *testing.T) {
	good, err := jsonlog.Encode(keyRecord{&accessKey{Credentials: Credentials{AccessKeyID: "ASIAGOOD", Expiration: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}}})
	require.NoError(t, err)
	tests := []struct {
		name    string
		content string
		wantErr string // "" opens
		keys    int
	}{
		{"whole records", string(good) + string(good), "", 1},
		{"half a last record", string(good) + string(good[:20]), "", 1},
		{"empty", "", "", 0},
		{"garbage line", string(good) + "garbage\n" + string(good), "line 2", 0},
		{"no key ID", string(good) + "{}\n", "line 2: parse record: parse access key record: no access key ID", 0},
		{"unknown field", `{"credentials":{"accessKeyId":"A"},"bogus":1}` + "\n", "line 1", 0},
		{"two values", `{"credentials":{"accessKeyId":"A"}} {}` + "\n", "more than one value", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, segment(3)), []byte(tc.content), 0o600))
			i, err := New(Options{DataDir: dir, Now: newTestClock().Now})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, segment(3))
				return
			}
			require.NoError(t, err)
			defer i.Close()
			require.Len(t, i.keys, tc.keys)
			segs, _ := journalFiles(t, dir)
			require.Equal(t, 1, segs, "created at the first append only")
			issueN(t, i, 1, time.Hour)
			require.FileExists(t, filepath.Join(dir, segment(4)), "appends go to a new segment")
		})
	}
}

// TestJournalMigratesLegacyKeysFile: an earlier version's access-keys.json
// is read, turned into a snapshot and deleted.
func TestJournalMigratesLegacyKeysFile(t *testing.T) {
	dir := t.TempDir()
	exp := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	legacy := `[{"credentials":{"accessKeyId":"ASIAOLD","secretAccessKey":"s","expiration":"` + exp.Format(time.RFC3339) + `"},"principal":{"type":"AssumedRole"},"issuedAt":"2026-01-01T00:00:00Z"}]`
	require.NoError(t, os.WriteFile(filepath.Join(dir, legacyKeysFile), []byte(legacy), 0o600))
	i, err := New(Options{DataDir: dir, Now: newTestClock().Now})
	require.NoError(t, err)
	require.NoError(t, i.Close())
	require.NoFileExists(t, filepath.Join(dir, legacyKeysFile))
	_, snaps := journalFiles(t, dir)
	require.Equal(t, 1, snaps)
	j, err := New(Options{DataDir: dir, Now: newTestClock().Now})
	require.NoError(t, err)
	defer j.Close()
	c, _, err := j.LookupAccessKey("ASIAOLD")
	require.NoError(t, err)
	require.Equal(t, "s", c.SecretAccessKey)

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, legacyKeysFile), []byte("[{"), 0o600))
	_, err = New(Options{DataDir: bad})
	require.ErrorContains(t, err, "parse persisted access keys")
}

// TestJournalSurvivesKill kills, with SIGKILL, a process issuing sessions
// as fast as it can on a clock that jumps two hours every 1000 sessions
// (so that it compacts several times) and checks that every session it
// acknowledged (printed after IssueSession returned) and still unexpired
// at its last clock is there when the journal is opened again.
func TestJournalSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IDLAB_JOURNAL_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	type ack struct {
		id          string
		issued, exp int64
	}
	var acked []ack
	sc := bufio.NewScanner(out)
	read := func() {
		var a ack
		if _, err := fmt.Sscanf(sc.Text(), "acked %s %d %d", &a.id, &a.issued, &a.exp); err == nil {
			acked = append(acked, a)
		}
	}
	for len(acked) < 3*jsonlog.CompactMin && sc.Scan() {
		read()
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for sc.Scan() { // what it printed before dying was acknowledged too
		read()
	}
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &ee, "the helper was killed")
	require.GreaterOrEqual(t, len(acked), 3*jsonlog.CompactMin)
	_, snaps := journalFiles(t, dir)
	require.GreaterOrEqual(t, snaps, 1, "the helper compacted before it was killed")

	last := time.Unix(acked[len(acked)-1].issued, 0)
	i, err := New(Options{DataDir: dir, Now: func() time.Time { return last }})
	require.NoError(t, err)
	defer i.Close()
	kept := 0
	for _, a := range acked {
		_, _, err := i.LookupAccessKey(a.id)
		if time.Unix(a.exp, 0).Add(expiredKeep).After(last) {
			require.NoError(t, err, "acknowledged session %s lost", a.id)
			kept++
		} else {
			require.ErrorIs(t, err, ErrUnknownAccessKey, "session %s expired long ago", a.id)
		}
	}
	require.Greater(t, kept, 0)
}

// TestMain runs TestJournalSurvivesKill's victim when the test binary is
// started as one (IDLAB_JOURNAL_HELPER_DIR set), else the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("IDLAB_JOURNAL_HELPER_DIR"); dir != "" {
		if err := journalKillVictim(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// journalKillVictim issues sessions until it is killed, printing each one
// once IssueSession has acknowledged it, with the clock jumping ahead so
// that some expire and compactions run.
func journalKillVictim(dir string) error {
	clock := newTestClock()
	i, err := New(Options{DataDir: dir, Now: clock.Now})
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 0)
	for n := 1; ; n++ {
		if n%1000 == 0 {
			clock.Advance(2 * time.Hour)
		}
		s, err := i.IssueSession(SessionSpec{Duration: time.Hour, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111",
			ARN: fmt.Sprintf("arn:aws:sts::111111111111:assumed-role/app-a/s%d", n)}})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "acked %s %d %d\n", s.Credentials.AccessKeyID, s.IssuedAt.Unix(), s.Credentials.Expiration.Unix())
		_ = w.Flush()
	}
}

// segment is the name of journal segment n.
func segment(n int64) string {
	return fmt.Sprintf("%s%016d%s", journalPrefix, n, jsonlog.SegmentSuffix)
}

// readRecords reads journal lines as the journal does.
func readRecords(r io.Reader, apply func(*accessKey)) error {
	return jsonlog.Read(r, func(rec keyRecord) { apply(rec.k) })
}

// encodeRecord is k as the journal writes it.
func encodeRecord(k *accessKey) ([]byte, error) { return jsonlog.Encode(keyRecord{k}) }

func FuzzReadRecords(f *testing.F) {
	good, err := encodeRecord(&accessKey{Credentials: Credentials{AccessKeyID: "ASIAX", SessionToken: "t"}, Principal: Principal{Type: PrincipalAssumedRole, Tags: map[string]string{"a": "b"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good[:10]...))
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"credentials":{"accessKeyId":"A"},"principal":{"sessionPolicy":{"Statement":[]}}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var keys []*accessKey
		err := readRecords(bytes.NewReader(data), func(k *accessKey) { keys = append(keys, k) })
		for _, k := range keys {
			if k.Credentials.AccessKeyID == "" {
				t.Fatal("a record without an ID was applied")
			}
			// What was read writes back to a line that reads the same.
			rec, err := encodeRecord(k)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			var again []*accessKey
			if err := readRecords(bytes.NewReader(rec), func(k *accessKey) { again = append(again, k) }); err != nil || len(again) != 1 {
				t.Fatalf("re-read %q: %v (%d records)", rec, err, len(again))
			}
			a := again[0].Credentials
			if a.AccessKeyID != k.Credentials.AccessKeyID || a.SecretAccessKey != k.Credentials.SecretAccessKey ||
				a.SessionToken != k.Credentials.SessionToken || !a.Expiration.Equal(k.Credentials.Expiration) {
				t.Fatalf("round trip changed credentials: %+v -> %+v", k.Credentials, again[0].Credentials)
			}
		}
		if err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatal("a last line without newline read as whole")
		}
	})
}

// TestDerivedSessionTokens: tokens look as before (prefix, length), differ
// per session, are the same after a restart over the data dir, and a
// session journaled with an explicit token (an earlier version's) keeps
// it; a token key of the wrong size fails the open.
func TestDerivedSessionTokens(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	i, err := New(Options{DataDir: dir, Now: clock.Now})
	require.NoError(t, err)
	spec := SessionSpec{Duration: time.Hour, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111"}}
	a, err := i.IssueSession(spec)
	require.NoError(t, err)
	b, err := i.IssueSession(spec)
	require.NoError(t, err)
	require.NoError(t, i.Close())
	legacy, err := encodeRecord(&accessKey{Credentials: Credentials{AccessKeyID: "ASIALEGACY", SessionToken: "IQoJb3JpZ2luX2VjEold", Expiration: clock.Now().Add(time.Hour)}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, segment(99)), legacy, 0o600))

	j, err := New(Options{DataDir: dir, Now: clock.Now})
	require.NoError(t, err)
	defer j.Close()
	tests := []struct {
		id, token string
	}{
		{a.Credentials.AccessKeyID, a.Credentials.SessionToken},
		{b.Credentials.AccessKeyID, b.Credentials.SessionToken},
		{"ASIALEGACY", "IQoJb3JpZ2luX2VjEold"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			c, _, err := j.LookupAccessKey(tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.token, c.SessionToken)
		})
	}
	require.NotEqual(t, a.Credentials.SessionToken, b.Credentials.SessionToken)
	require.Regexp(t, `^IQoJb3JpZ2luX2VjE[A-Za-z0-9+/]{352}$`, a.Credentials.SessionToken)

	other, err := New(Options{DataDir: t.TempDir(), Now: clock.Now})
	require.NoError(t, err)
	defer other.Close()
	require.NotEqual(t, a.Credentials.SessionToken, other.sessionToken(a.Credentials.AccessKeyID), "another store, another key")

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, tokenKeyFile), []byte("short"), 0o600))
	_, err = New(Options{DataDir: bad})
	require.ErrorContains(t, err, "5 bytes, want 32")
}

// TestJournalReadsEarlierFiles opens a segment the journal of the version
// before internal/jsonlog wrote (testdata/journal-v1: a user's two keys,
// one deleted, and three sessions aged by an hour), and checks that what
// the journal writes now is what that version wrote, line for line.
func TestJournalReadsEarlierFiles(t *testing.T) {
	dir := t.TempDir()
	const seg = "sessions-0000000000000001.log"
	raw, err := os.ReadFile(filepath.Join("testdata", "journal-v1", seg))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, seg), raw, 0o600))
	i, err := New(Options{DataDir: dir, Now: newTestClock().Now})
	require.NoError(t, err)
	defer i.Close()
	start := newTestClock().Now()
	for _, tc := range []struct {
		id, secret string
		expires    time.Time // zero: a user's key
		gone       bool
	}{
		{id: "AKIASAXX6QIWFJWL34UF", secret: "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"},
		{id: "AKIABPNCGDTI3GP7KZTL", gone: true},
		{id: "ASIARANIUA3CYZBUP2SX", expires: start.Add(11 * time.Hour)},
		{id: "ASIA2HRRIUKSCOFFL53Z", expires: start.Add(11 * time.Hour)},
		{id: "ASIAQT47T574OMHNUYED", expires: start.Add(11 * time.Hour)},
	} {
		c, _, err := i.LookupAccessKey(tc.id)
		if tc.gone {
			require.ErrorIs(t, err, ErrUnknownAccessKey, tc.id)
			continue
		}
		require.NoError(t, err, tc.id)
		if tc.secret != "" {
			require.Equal(t, tc.secret, c.SecretAccessKey)
		}
		require.True(t, tc.expires.Equal(c.Expiration), "%s expires %s, want %s", tc.id, c.Expiration, tc.expires)
	}
	var lines []string
	require.NoError(t, readRecords(strings.NewReader(string(raw)), func(k *accessKey) {
		line, err := encodeRecord(k)
		require.NoError(t, err)
		old, err := json.Marshal(k) // the earlier encodeRecord: the accessKey's JSON and a newline
		require.NoError(t, err)
		require.Equal(t, string(old)+"\n", string(line))
		lines = append(lines, string(line))
	}))
	require.Equal(t, string(raw), strings.Join(lines, ""), "records written now are the earlier version's bytes")
}
