package awss3

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// openTestStore opens a disk store on dir with a bucket "b", compacting
// past compactMin dead bytes.
func openTestStore(t *testing.T, dir string, compactMin int64) *diskStore {
	t.Helper()
	d, err := openDiskStore(context.Background(), dir, false, nil, compactMin)
	require.NoError(t, err)
	if _, err := d.Bucket(context.Background(), "b"); err != nil {
		require.NoError(t, d.CreateBucket(context.Background(), Bucket{Name: "b", Owner: "111111111111"}))
	}
	return d
}

func putString(t *testing.T, d *diskStore, key, data string) {
	t.Helper()
	require.NoError(t, d.PutObject(context.Background(), "b", Object{Key: key, Size: int64(len(data)), ETag: `"e"`}, []byte(data)))
}

// contents reads every object of bucket b.
func contents(t *testing.T, d *diskStore) map[string]string {
	t.Helper()
	ctx := context.Background()
	objs, err := d.Objects(ctx, "b", "")
	require.NoError(t, err)
	out := map[string]string{}
	for _, o := range objs {
		data, err := d.ObjectData(ctx, "b", o)
		require.NoError(t, err)
		out[o.Key] = string(data)
	}
	return out
}

// onlySegment is the one segment in dir.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	var segs []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if _, suffix, ok := parseObjLogName(e.Name()); ok && suffix == objSegmentSuffix {
			segs = append(segs, filepath.Join(dir, e.Name()))
		}
	}
	require.Len(t, segs, 1)
	return segs[0]
}

// logFiles counts the object log's segments and snapshots in dir.
func logFiles(t *testing.T, dir string) (segs, snaps int, size int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if _, suffix, ok := parseObjLogName(e.Name()); ok {
			fi, err := e.Info()
			require.NoError(t, err)
			size += fi.Size()
			if suffix == objSnapSuffix {
				snaps++
			} else {
				segs++
			}
		}
	}
	return segs, snaps, size
}

// TestObjectLogRestart: puts, overwrites and deletes are all there after a
// restart, whether the store was closed or abandoned as a killed process
// leaves it, before or after compactions, and with a large object written
// in several writes.
func TestObjectLogRestart(t *testing.T) {
	big := strings.Repeat("x", oneWriteMax+10)
	tests := []struct {
		name       string
		close      bool
		compactMin int64
		rounds     int
	}{
		{"closed", true, compactMinBytes, 1},
		{"abandoned", false, compactMinBytes, 1},
		{"compacted, closed", true, 4 << 10, 50},
		{"compacted, abandoned", false, 4 << 10, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openTestStore(t, dir, tc.compactMin)
			want := map[string]string{}
			for r := range tc.rounds {
				for k := range 20 {
					v := fmt.Sprintf("round %d key %d %s", r, k, strings.Repeat("y", 100))
					putString(t, d, fmt.Sprintf("k%02d", k), v)
					want[fmt.Sprintf("k%02d", k)] = v
				}
				require.NoError(t, d.DeleteObject(context.Background(), "b", "k05"))
				delete(want, "k05")
				d.wg.Wait() // a compaction still writing is a test's race, not a kill's
			}
			putString(t, d, "big", big)
			want["big"] = big
			putString(t, d, "empty", "")
			want["empty"] = ""
			require.Equal(t, want, contents(t, d))
			if tc.close {
				require.NoError(t, d.Close())
			}
			again := openTestStore(t, dir, tc.compactMin)
			defer again.Close()
			require.Equal(t, want, contents(t, again))
			if tc.rounds > 1 {
				_, snaps, size := logFiles(t, dir)
				require.GreaterOrEqual(t, snaps, 1, "compacted")
				require.Less(t, size, int64(4*len(big)), "the files hold about the live objects, not every put")
			}
		})
	}
}

// TestObjectLogTornRecord: a record a killed process left half written
// at the end of a segment is ignored, whichever byte it stops at; the
// records before it are kept, and the store appends to a new segment.
func TestObjectLogTornRecord(t *testing.T) {
	src := t.TempDir()
	d := openTestStore(t, src, compactMinBytes)
	putString(t, d, "kept", "kept bytes")
	putString(t, d, "torn", "the record a kill cuts short")
	require.NoError(t, d.Close())
	seg := onlySegment(t, src)
	raw, err := os.ReadFile(seg)
	require.NoError(t, err)
	head, _, _, err := encodeObjRecord(recordMeta{Op: opPut, Bucket: "b", Object: &Object{Key: "torn"}}, nil)
	require.NoError(t, err)
	require.Greater(t, len(raw), len(head))
	for _, cut := range []int{1, 3, headerSize, headerSize + 5, len(raw) - 1} {
		t.Run(fmt.Sprintf("cut %d bytes short", cut), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
			require.NoError(t, os.Truncate(filepath.Join(dir, filepath.Base(seg)), int64(len(raw)-cut)))
			again := openTestStore(t, dir, compactMinBytes)
			defer again.Close()
			got := contents(t, again)
			if cut <= len(raw)-len("torn")-64 { // the whole first record survives
				require.Equal(t, "kept bytes", got["kept"])
			}
			require.NotContains(t, got, "torn")
			putString(t, again, "after", "appended after the torn record")
			require.NoError(t, again.Close())
			third := openTestStore(t, dir, compactMinBytes)
			defer third.Close()
			require.Equal(t, "appended after the torn record", contents(t, third)["after"])
		})
	}
}

// TestObjectLogCorruptMiddleRecord: a bad record that is not a segment's
// last is corruption, not a kill: opening fails naming it.
func TestObjectLogCorruptMiddleRecord(t *testing.T) {
	dir := t.TempDir()
	d := openTestStore(t, dir, compactMinBytes)
	putString(t, d, "a", "first")
	putString(t, d, "b", "second")
	require.NoError(t, d.Close())
	seg := onlySegment(t, dir)
	raw, err := os.ReadFile(seg)
	require.NoError(t, err)
	raw[headerSize+2] ^= 0xff // inside the first record's metadata
	require.NoError(t, os.WriteFile(seg, raw, 0o644))
	_, err = openDiskStore(context.Background(), dir, false, nil, compactMinBytes)
	require.ErrorIs(t, err, ErrCorruptDataStore)
	require.ErrorContains(t, err, "header checksum")
}

// TestObjectLogMigratesLegacyLayout: the per-object files of the layout
// before the log are read into it once, and deleted.
func TestObjectLogMigratesLegacyLayout(t *testing.T) {
	dir := t.TempDir()
	d := openTestStore(t, dir, compactMinBytes)
	require.NoError(t, d.Close())
	objects := filepath.Join(dir, "buckets", hashName("b"), "objects")
	for key, data := range map[string]string{"old/one": "legacy one", "old/two": "legacy two"} {
		h := hashName(key)
		sub := filepath.Join(objects, h[:2])
		require.NoError(t, os.MkdirAll(sub, 0o755))
		o := Object{Key: key, Size: int64(len(data)), ETag: `"e"`, DataFile: h + ".0123456789abcdef.data", LastModified: time.Unix(1, 0).UTC()}
		raw, err := json.Marshal(o)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(sub, h+".json"), raw, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(sub, o.DataFile), []byte(data), 0o644))
	}
	again := openTestStore(t, dir, compactMinBytes)
	want := map[string]string{"old/one": "legacy one", "old/two": "legacy two"}
	require.Equal(t, want, contents(t, again))
	require.NoDirExists(t, objects)
	require.NoError(t, again.Close())
	third := openTestStore(t, dir, compactMinBytes)
	defer third.Close()
	require.Equal(t, want, contents(t, third), "migrated once, kept in the log")
}

// TestObjectLogSurvivesKill kills, with SIGKILL, a process putting and
// deleting objects as fast as it can (compacting often) and checks that
// the store holds what the changes it acknowledged made, plus at most the
// one change it was making when it died.
func TestObjectLogSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IDLAB_OBJLOG_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	acked := 0
	sc := bufio.NewScanner(out)
	read := func() {
		// The last line may be cut short by the kill: whole lines end in ".".
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "acked %d .", &n); err == nil && strings.HasSuffix(sc.Text(), " .") {
			acked = n
		}
	}
	for acked < 20000 && sc.Scan() {
		read()
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for sc.Scan() { // what it printed before dying was acknowledged too
		read()
	}
	var ee *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &ee, "the helper was killed")
	_, snaps, _ := logFiles(t, dir)
	require.GreaterOrEqual(t, snaps, 1, "the helper compacted before it was killed")

	want := map[string]string{}
	for n := 1; n <= acked; n++ {
		victimOp(n, want)
	}
	next := maps.Clone(want)
	victimOp(acked+1, next)
	d := openTestStore(t, dir, 1<<20)
	defer d.Close()
	got := contents(t, d)
	if !maps.Equal(got, next) && !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("object %s: want %.12q, got %.12q (next change touches %s)", k, v, got[k], fmt.Sprintf("k%03d", (acked+1)%300))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("object %s should not exist: %.8s", k, got[k])
			}
		}
		t.Fatalf("the store does not hold what %d acknowledged changes made", acked)
	}
}

// victimOp applies change n of objLogKillVictim to objects.
func victimOp(n int, objects map[string]string) (key, value string, del bool) {
	key = fmt.Sprintf("k%03d", n%300)
	if n%7 == 0 {
		delete(objects, key)
		return key, "", true
	}
	value = fmt.Sprintf("v%d-%s", n, strings.Repeat("p", 2000))
	objects[key] = value
	return key, value, false
}

// TestMain runs TestObjectLogSurvivesKill's victim when the test binary is
// started as one (IDLAB_OBJLOG_HELPER_DIR set), else the tests.
func TestMain(m *testing.M) {
	if dir := os.Getenv("IDLAB_OBJLOG_HELPER_DIR"); dir != "" {
		if err := objLogKillVictim(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// objLogKillVictim makes the changes of victimOp until it is killed,
// printing the number of each once the store acknowledged it.
func objLogKillVictim(dir string) error {
	ctx := context.Background()
	d, err := openDiskStore(ctx, dir, false, nil, 1<<20)
	if err != nil {
		return err
	}
	if err := d.CreateBucket(ctx, Bucket{Name: "b"}); err != nil {
		return err
	}
	scratch := map[string]string{}
	for n := 1; ; n++ {
		key, v, del := victimOp(n, scratch)
		if del {
			err = d.DeleteObject(ctx, "b", key)
		} else {
			err = d.PutObject(ctx, "b", Object{Key: key, Size: int64(len(v))}, []byte(v))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "acked %d .\n", n) // unbuffered: printed is acknowledged
	}
}

func FuzzScanLog(f *testing.F) {
	rec := func(m recordMeta, data []byte) []byte {
		head, _, whole, err := encodeObjRecord(m, data)
		if err != nil {
			f.Fatal(err)
		}
		if !whole {
			f.Fatal("seed too large")
		}
		return head
	}
	put := rec(recordMeta{Op: opPut, Bucket: "b", Object: &Object{Key: "k", Size: 5}}, []byte("hello"))
	del := rec(recordMeta{Op: opDelete, Bucket: "b", Key: "k"}, nil)
	f.Add(put)
	f.Add(append(append([]byte{}, put...), del...))
	f.Add(put[:len(put)-3])
	f.Add([]byte(recordMagic))
	f.Add(rec(recordMeta{Op: "put", Bucket: "b"}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "seg")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		_ = scanLog(fh, func(r scanRecord) error {
			if r.meta.Bucket == "" || r.meta.Op == opPut && r.meta.Object == nil {
				t.Fatalf("an invalid record was applied: %+v", r.meta)
			}
			if r.off < 0 || r.dataOff < r.off || r.off+r.recLen > int64(len(data)) {
				t.Fatalf("record out of the file: %+v of %d bytes", r, len(data))
			}
			if r.meta.Op == opPut && !bytes.Equal(data[r.off:r.off+4], []byte(recordMagic)) {
				t.Fatalf("record at %d without magic", r.off)
			}
			return nil
		})
	})
}
