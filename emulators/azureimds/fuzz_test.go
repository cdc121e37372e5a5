package azureimds

import (
	"testing"
)

// FuzzParseTokenRequest: the token request parser never panics, and an
// accepted request always has an api-version, a resource and at most one
// selector.
func FuzzParseTokenRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"true", "api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F"},
		{"true", "api-version=2018-02-01&resource=x&client_id=1&object_id=2&msi_res_id=3&mi_res_id=4"},
		{"", "api-version=2018-02-01&resource=x"},
		{"true", "resource=x"},
		{"true", "api-version=1&resource=%zz&client_id=%"},
		{"true", ";;&&=="},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, metadata, raw string) {
		req, err := parseTokenRequest(metadata, raw)
		if err != nil {
			return
		}
		if metadata != "true" || req.APIVersion == "" || req.Resource == "" {
			t.Fatalf("accepted %q %q: %+v", metadata, raw, req)
		}
		n := 0
		for _, v := range []string{req.Selector.ClientID, req.Selector.ObjectID, req.Selector.ResourceID} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("two selectors in %+v", req.Selector)
		}
	})
}
