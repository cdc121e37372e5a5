package gcpiam_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idlab/idlab/emulators/gcpiam"
)

// FuzzFixtures: any document either loads or fails with a located error;
// never a panic.
func FuzzFixtures(f *testing.F) {
	f.Add(labFixture)
	f.Add("projects:\n  - id: idlab\n    color: red\n")
	f.Add("projects: [{id: p, bindings: [{resource: projects/p, role: roles/owner, members: [allUsers]}]}]")
	f.Fuzz(func(t *testing.T, doc string) {
		h, err := gcpiam.New(gcpiam.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = h.LoadFixtureYAML("f.yaml", []byte(doc))
	})
}

// FuzzSTSRequest: the parser never panics, and the handler never issues a
// token for arbitrary input.
func FuzzSTSRequest(f *testing.F) {
	h, err := gcpiam.New(gcpiam.Options{HTTPClient: &http.Client{Transport: failingTransport{}}})
	if err != nil {
		f.Fatal(err)
	}
	if err := h.LoadFixtureYAML("lab.yaml", []byte(labFixture)); err != nil {
		f.Fatal(err)
	}
	f.Add("application/x-www-form-urlencoded", exchangeForm("idlab.svc.id.goog", "a.b.c").Encode())
	f.Add("application/json", `{"grantType":"urn:ietf:params:oauth:grant-type:token-exchange","audience":"identitynamespace:idlab.svc.id.goog:https://x","subjectToken":"e30.e30.e30","subjectTokenType":"urn:ietf:params:oauth:token-type:jwt"}`)
	f.Add("application/json", `{"grantType":1}`)
	f.Add("text/plain", "%zz")
	f.Fuzz(func(t *testing.T, ct, body string) {
		_, _ = gcpiam.ParseSTSRequest(ct, []byte(body))
		r := httptest.NewRequest(http.MethodPost, "https://sts.googleapis.com/v1/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("issued a token for %q: %s", body, w.Body.String())
		}
		if !bytes.Contains(w.Body.Bytes(), []byte(`"error"`)) {
			t.Fatalf("status %d body %q", w.Code, w.Body.String())
		}
	})
}

// FuzzCredentialsRequest: arbitrary paths and bodies never panic and never
// succeed without a token.
func FuzzCredentialsRequest(f *testing.F) {
	h, err := gcpiam.New(gcpiam.Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := h.LoadFixtureYAML("lab.yaml", []byte(labFixture)); err != nil {
		f.Fatal(err)
	}
	f.Add("/v1/projects/-/serviceAccounts/"+reader+":generateAccessToken", `{"scope":["x"],"lifetime":"3600s"}`)
	f.Add("/v1/projects/-/serviceAccounts/"+reader+":generateIdToken", `{"audience":"a","includeEmail":true}`)
	f.Add("/v1/projects/-/serviceAccounts/"+reader+":signJwt", `{"payload":"{}","delegates":["projects/-/serviceAccounts/x"]}`)
	f.Add("/v1/projects/-/serviceAccounts/"+reader+":signBlob", `{"payload":"!!"}`)
	f.Add("/v1/projects/p/serviceAccounts/x:nope", `{"lifetime":"1e400s"}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		_, _ = gcpiam.ParseCredentialsRequest(http.MethodPost, path, []byte(body))
		if !strings.HasPrefix(path, "/") {
			return
		}
		r := httptest.NewRequest(http.MethodPost, "https://iamcredentials.googleapis.com/", strings.NewReader(body))
		r.URL.Path = path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("answered 200 without a token: %s", w.Body.String())
		}
	})
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrHandlerTimeout
}
