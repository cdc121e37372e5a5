package azureblob

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseTarget: any host, path and query either addresses a valid
// account/container/blob with an operation, or is a storage error; never a
// panic, never an invalid name accepted.
func FuzzParseTarget(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "idlab.blob.core.windows.net", "/team-a-data/hello.txt"},
		{"GET", "idlab.blob.core.windows.net", "/team-a-data?restype=container&comp=list"},
		{"PUT", "127.0.0.1:10000", "/idlab/c0ntainer/a%2Fb"},
		{"HEAD", "IDLAB.blob.core.windows.net:443", "/x--y/z"},
		{"GET", "[::1]", "/idlab/abc/%zz"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, method, host, target string) {
		path, rawQuery, _ := strings.Cut(target, "?")
		q, _ := url.ParseQuery(rawQuery)
		tg, serr := parseTarget(method, host, path, q)
		if serr != nil {
			if serr.status < 400 || serr.code == "" {
				t.Fatalf("error without status/code: %+v", serr)
			}
			return
		}
		if !accountNameRE.MatchString(tg.Account) || !containerNameRE.MatchString(tg.Container) || strings.Contains(tg.Container, "--") {
			t.Fatalf("accepted invalid names %+v", tg)
		}
		if tg.Op == "" || tg.Action == "" {
			t.Fatalf("no operation for %+v", tg)
		}
		if tg.Op != OpListBlobs && !validBlobName(tg.Blob) {
			t.Fatalf("accepted blob name %q", tg.Blob)
		}
		if tg.Action == ActionBlobWrite && method != http.MethodPut {
			t.Fatalf("write action for %s", method)
		}
	})
}

// FuzzParseRange: an accepted range lies within the blob.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=5-", "bytes=-3", "bytes=9-1", "bytes=0-99999999999999999999", ""} {
		f.Add(s, int64(22))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		start, end, ok := ParseRange(v, size)
		if ok && (start < 0 || end < start || end >= size) {
			t.Fatalf("ParseRange(%q, %d) = %d-%d", v, size, start, end)
		}
	})
}

// FuzzBearerToken: a token is only ever returned for the Bearer scheme,
// without blanks.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer a.b.c", "bearer  x", "SharedKey a:b", "Bearer", "Bearer a b", " Bearer\tt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, scheme, ok := bearerToken(h)
		if ok && (!strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t")) {
			t.Fatalf("bearerToken(%q) = %q, %q", h, tok, scheme)
		}
	})
}

// FuzzFixture: any document loads or fails with an error; never a panic.
func FuzzFixture(f *testing.F) {
	f.Add("tenants:\n- id: t\n  storageAccounts:\n  - name: idlab\n    containers: [{name: abc, blobs: {x: y}}]\n    roleAssignments: [{assignee: a, role: Storage Blob Data Reader, container: abc}]\n")
	f.Add("tenants: [{id: t, storageAccounts: [{name: A}]}]")
	f.Fuzz(func(t *testing.T, doc string) {
		h, err := New(Options{Tokens: nopVerifier{}})
		if err != nil {
			t.Fatal(err)
		}
		_ = h.LoadFixtureYAML("fuzz.yaml", []byte(doc))
	})
}
