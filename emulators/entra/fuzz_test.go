package entra

import (
	"net/url"
	"testing"
)

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id=c&scope=https%3A%2F%2Fstorage.azure.com%2F.default+openid&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c", true)
	f.Add("grant_type=client_credentials&client_id=c&resource=https://storage.azure.com/&client_secret=x", false)
	f.Add("scope=%2F.default&grant_type=client_credentials&client_id=", true)
	f.Fuzz(func(t *testing.T, body string, v2 bool) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, aerr := parseTokenRequest(form, v2)
		if (req == nil) == (aerr == nil) {
			t.Fatalf("want exactly one of request and error, got %v %v", req, aerr)
		}
		if req != nil && (req.ClientID == "" || req.Resource == "" || (req.Assertion == "" && req.ClientSecret == "")) {
			t.Fatalf("accepted incomplete request %+v", req)
		}
		if aerr != nil && (aerr.Code == 0 || aerr.Error == "") {
			t.Fatalf("error without code: %+v", aerr)
		}
	})
}

func FuzzParseFixtures(f *testing.F) {
	f.Add("tenants:\n- id: t\n  apps:\n  - clientId: c\n    federatedCredentials:\n    - issuer: https://i\n      subject: s\n    roles:\n      r: [a]\n")
	f.Add("tenants: [{id: common}]")
	f.Add("tenants:\n- id: t\n  apps:\n  - clientId: c\n  - clientId: c\n")
	f.Fuzz(func(t *testing.T, doc string) {
		_, apps, err := parseFixtures("f.yaml", []byte(doc))
		if err != nil {
			return
		}
		for _, a := range apps {
			if _, err := a.normalize(); err != nil {
				t.Fatalf("parsed app fails normalize: %v", err)
			}
		}
	})
}
