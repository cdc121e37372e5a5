package awssts_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
)

// FuzzQueryParams sends arbitrary query strings and form bodies to the STS
// handler: it must answer every one with a well-formed status and never
// issue credentials without a valid token or signature.
func FuzzQueryParams(f *testing.F) {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := iam.LoadFixtureYAML("f.yaml", []byte(fixture)); err != nil {
		f.Fatal(err)
	}
	h, err := awssts.New(awssts.Options{IAM: iam, HTTPClient: &http.Client{Transport: failingTransport{}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/app-a&RoleSessionName=s&WebIdentityToken=a.b.c")
	f.Add("Action=GetCallerIdentity&Version=2011-06-15", "")
	f.Add("Action=AssumeRole&Version=2011-06-15", "Policy=%7B&DurationSeconds=-1&Tags.member.1.Key=k")
	f.Add("%zz", "a=%zz")
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest(http.MethodPost, "https://sts.amazonaws.com/", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("answered 200 to an unauthenticated request: %s", w.Body.String())
		}
		if w.Code < 400 || w.Code > 599 || !strings.Contains(w.Body.String(), "<ErrorResponse") {
			t.Fatalf("status %d body %q", w.Code, w.Body.String())
		}
	})
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, http.ErrHandlerTimeout
}
