package gkemetadata

import (
	"net/url"
	"strings"
)

// MetadataPrefix is the path every metadata value lives under.
const MetadataPrefix = "/computeMetadata/v1/"

// routeKind is what a metadata path asks for.
type routeKind int

const (
	routeUnknown routeKind = iota
	routeV1                // /computeMetadata/v1/ directory
	routeProjectDir
	routeProjectID
	routeProjectNumber
	routeInstanceDir
	routeInstanceID
	routeInstanceName
	routeInstanceHostname
	routeInstanceZone
	routeAttributesDir
	routeClusterName
	routeClusterLocation
	routeUniverseDomain
	routeAccountsDir // instance/service-accounts/
	routeAccountDir  // instance/service-accounts/ACCT/
	routeEmail
	routeAliases
	routeScopes
	routeToken
	routeIdentity
)

var staticRoutes = map[string]routeKind{
	"":                                     routeV1,
	"project/":                             routeProjectDir,
	"project/project-id":                   routeProjectID,
	"project/numeric-project-id":           routeProjectNumber,
	"instance/":                            routeInstanceDir,
	"instance/id":                          routeInstanceID,
	"instance/name":                        routeInstanceName,
	"instance/hostname":                    routeInstanceHostname,
	"instance/zone":                        routeInstanceZone,
	"instance/attributes/":                 routeAttributesDir,
	"instance/attributes/cluster-name":     routeClusterName,
	"instance/attributes/cluster-location": routeClusterLocation,
	"universe/universe-domain":             routeUniverseDomain,
	"instance/service-accounts/":           routeAccountsDir,
}

var accountLeaves = map[string]routeKind{
	"":         routeAccountDir,
	"email":    routeEmail,
	"aliases":  routeAliases,
	"scopes":   routeScopes,
	"token":    routeToken,
	"identity": routeIdentity,
}

// mdRequest is a parsed metadata request.
type mdRequest struct {
	Kind    routeKind
	Suffix  string // the path below MetadataPrefix
	Account string // "default" or an email, for service-account routes
	// Query parameters the clients send.
	Recursive bool
	JSON      bool     // alt=json
	Scopes    []string // token?scopes=a,b
	Audience  string   // identity?audience=
	Format    string   // identity?format=standard|full
}

// needsIdentity reports whether answering needs the caller's identity.
func (r *mdRequest) needsIdentity() bool { return r.Kind >= routeAccountsDir }

// parseRequest maps a metadata URL path and query to what it asks for; ok
// is false for paths the server does not know (404). Directory paths may
// omit the trailing slash, as the clients' suffixes sometimes do.
func parseRequest(path, rawQuery string) (r *mdRequest, ok bool) {
	suffix, found := strings.CutPrefix(path, MetadataPrefix)
	if !found {
		if path != strings.TrimSuffix(MetadataPrefix, "/") {
			return nil, false
		}
		suffix = ""
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, false
	}
	r = &mdRequest{Suffix: suffix, Recursive: strings.EqualFold(q.Get("recursive"), "true"),
		JSON: q.Get("alt") == "json", Audience: q.Get("audience"), Format: q.Get("format")}
	if s := q.Get("scopes"); s != "" {
		for _, sc := range strings.Split(s, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				r.Scopes = append(r.Scopes, sc)
			}
		}
	}
	if k, ok := staticRoutes[suffix]; ok {
		r.Kind = k
		return r, true
	}
	if k, ok := staticRoutes[suffix+"/"]; ok && suffix != "" {
		r.Kind = k
		return r, true
	}
	rest, found := strings.CutPrefix(suffix, "instance/service-accounts/")
	if !found {
		return nil, false
	}
	acct, leaf, _ := strings.Cut(rest, "/")
	if acct == "" || strings.ContainsAny(acct, "?#") {
		return nil, false
	}
	k, ok := accountLeaves[leaf]
	if !ok {
		return nil, false
	}
	r.Kind, r.Account = k, acct
	return r, true
}
