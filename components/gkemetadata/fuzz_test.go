package gkemetadata

import (
	"strings"
	"testing"
)

// FuzzParseRequest: any path and query parse without panicking, and what
// parses is consistent.
func FuzzParseRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"/computeMetadata/v1/", ""},
		{"/computeMetadata/v1", "recursive=true"},
		{"/computeMetadata/v1/instance/service-accounts/default/token", "scopes=a,b,,c"},
		{"/computeMetadata/v1/instance/service-accounts/x@y.iam.gserviceaccount.com/identity", "audience=https://a&format=full"},
		{"/computeMetadata/v1/instance/service-accounts//token", ""},
		{"/computeMetadata/v1/instance/service-accounts/default/token/extra", ""},
		{"/computeMetadata/v1/project/project-id", "%zz"},
		{"/computeMetadata/v1beta1/", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		r, ok := parseRequest(path, query)
		if !ok {
			if r != nil {
				t.Fatalf("not ok but request %+v", r)
			}
			return
		}
		if !strings.HasPrefix(path, "/computeMetadata/v1") {
			t.Fatalf("parsed %q outside the v1 tree", path)
		}
		if r.Kind == routeUnknown {
			t.Fatalf("ok with unknown kind for %q", path)
		}
		if r.Kind > routeAccountsDir && (r.Account == "" || strings.Contains(r.Account, "/")) {
			t.Fatalf("account route %q with account %q", path, r.Account)
		}
		for _, s := range r.Scopes {
			if s == "" || s != strings.TrimSpace(s) {
				t.Fatalf("bad scope %q", s)
			}
		}
	})
}
