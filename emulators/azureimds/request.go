package azureimds

import (
	"net/url"

	"github.com/idlab/idlab/emulators/entra"
)

// tokenRequest is a parsed token request.
type tokenRequest struct {
	APIVersion string
	Resource   string
	Selector   entra.IdentitySelector
}

// parseTokenRequest checks a token request's Metadata header and query in
// IMDS's order (header, api-version, resource) and reads the identity
// selector. A query that does not parse keeps the pairs that do, as Go's
// url.ParseQuery returns them. It never panics on any input.
func parseTokenRequest(metadata, rawQuery string) (tokenRequest, *imdsError) {
	var req tokenRequest
	if metadata != "true" {
		return req, errMetadataHeader
	}
	q, _ := url.ParseQuery(rawQuery)
	req.APIVersion = q.Get("api-version")
	if req.APIVersion == "" {
		return req, errNoAPIVersion
	}
	req.Resource = q.Get("resource")
	if req.Resource == "" {
		return req, errNoResource
	}
	switch {
	case q.Get("client_id") != "":
		req.Selector.ClientID = q.Get("client_id")
	case q.Get("object_id") != "":
		req.Selector.ObjectID = q.Get("object_id")
	case q.Get("msi_res_id") != "":
		req.Selector.ResourceID = q.Get("msi_res_id")
	case q.Get("mi_res_id") != "":
		req.Selector.ResourceID = q.Get("mi_res_id")
	}
	return req, nil
}
