package gcs_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func TestClassify(t *testing.T) {
	tests := []struct {
		method, host, path, query string
		perms                     []string
		resource                  string
		xml                       bool
		err                       bool
	}{
		{"GET", "127.0.0.1:1", "/storage/v1/b", "project=idlab", []string{"storage.buckets.list"}, "projects/idlab", false, false},
		{"POST", "127.0.0.1:1", "/storage/v1/b", "project=idlab", []string{"storage.buckets.create"}, "projects/idlab", false, false},
		{"GET", "127.0.0.1:1", "/storage/v1/b/bk", "", []string{"storage.buckets.get"}, "projects/_/buckets/bk", false, false},
		{"DELETE", "127.0.0.1:1", "/storage/v1/b/bk", "", []string{"storage.buckets.delete"}, "projects/_/buckets/bk", false, false},
		{"GET", "127.0.0.1:1", "/storage/v1/b/bk/iam", "", []string{"storage.buckets.getIamPolicy"}, "projects/_/buckets/bk", false, false},
		{"GET", "127.0.0.1:1", "/storage/v1/b/bk/o", "", []string{"storage.objects.list"}, "projects/_/buckets/bk", false, false},
		{"GET", "127.0.0.1:1", "/storage/v1/b/bk/o/a%2Fb", "alt=media", []string{"storage.objects.get"}, "projects/_/buckets/bk", false, false},
		{"PATCH", "127.0.0.1:1", "/storage/v1/b/bk/o/a", "", []string{"storage.objects.update"}, "projects/_/buckets/bk", false, false},
		{"DELETE", "127.0.0.1:1", "/storage/v1/b/bk/o/a", "", []string{"storage.objects.delete"}, "projects/_/buckets/bk", false, false},
		{"GET", "127.0.0.1:1", "/storage/v1/b/bk/o/a/acl", "", []string{"storage.objects.getIamPolicy"}, "projects/_/buckets/bk", false, false},
		{"POST", "127.0.0.1:1", "/storage/v1/b/bk/o/a/rewriteTo/b/dst/o/b", "", []string{"storage.objects.get", "storage.objects.create"}, "projects/_/buckets/bk", false, false},
		{"POST", "127.0.0.1:1", "/storage/v1/b/bk/o/a/compose", "", []string{"storage.objects.get", "storage.objects.create"}, "projects/_/buckets/bk", false, false},
		{"POST", "127.0.0.1:1", "/upload/storage/v1/b/bk/o", "uploadType=multipart", []string{"storage.objects.create"}, "projects/_/buckets/bk", false, false},
		{"GET", "127.0.0.1:1", "/download/storage/v1/b/bk/o/a", "", []string{"storage.objects.get"}, "projects/_/buckets/bk", false, false},
		{"GET", "storage.googleapis.com", "/bk/a/b.txt", "", []string{"storage.objects.get"}, "projects/_/buckets/bk", true, false},
		{"HEAD", "127.0.0.1:1", "/bk/a", "", []string{"storage.objects.get"}, "projects/_/buckets/bk", true, false},
		{"GET", "127.0.0.1:1", "/bk", "", []string{"storage.objects.list"}, "projects/_/buckets/bk", true, false},
		{"PUT", "bk.storage.googleapis.com", "/obj", "", []string{"storage.objects.create"}, "projects/_/buckets/bk", true, false},
		{"POST", "127.0.0.1:1", "/batch/storage/v1", "", nil, "", false, true},
		{"PUT", "127.0.0.1:1", "/_internal/reseed", "", nil, "", false, true},
		{"GET", "127.0.0.1:1", "/", "", nil, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.host+tc.path, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			rt, err := gcs.Classify(tc.method, tc.host, tc.path, q)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var perms []string
			for _, c := range rt.Checks {
				perms = append(perms, c.Permission)
			}
			require.Equal(t, tc.perms, perms)
			require.Equal(t, tc.resource, rt.Checks[0].Resource)
			require.Equal(t, tc.xml, rt.XML)
		})
	}
}

// TestXMLErrors: XML API callers get XML error documents.
func TestXMLErrors(t *testing.T) {
	iam, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	h, err := gcs.New(gcs.Options{IAM: iam})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://storage.googleapis.com/bk/obj", nil))
	require.Equal(t, 401, rec.Code)
	require.True(t, strings.HasPrefix(rec.Body.String(), "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AuthenticationRequired</Code>"), rec.Body.String())
	require.Contains(t, rec.Body.String(), "Anonymous caller does not have storage.objects.get access")
}

// FuzzClassify: any request line maps to checks on a bucket or project, or
// is refused; never a panic, never a check without a resource.
func FuzzClassify(f *testing.F) {
	f.Add("GET", "127.0.0.1:1", "/storage/v1/b/bk/o/a%2Fb", "alt=media")
	f.Add("POST", "bk.storage.googleapis.com", "/o", "")
	f.Add("POST", "x", "/storage/v1/b/a/o/b/rewriteTo/b/c/o/d", "")
	f.Add("DELETE", "", "//", "%zz")
	f.Fuzz(func(t *testing.T, method, host, path, query string) {
		q, _ := url.ParseQuery(query)
		rt, err := gcs.Classify(method, host, path, q)
		if err != nil {
			return
		}
		if len(rt.Checks) == 0 {
			t.Fatalf("no checks for %s %s%s", method, host, path)
		}
		for _, c := range rt.Checks {
			if c.Permission == "" || !strings.HasPrefix(c.Resource, "projects/") {
				t.Fatalf("bad check %+v for %s %s%s", c, method, host, path)
			}
		}
	})
}
