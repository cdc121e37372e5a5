package oidc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/jwtverify"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// decodePart returns a JWT segment's JSON bytes.
func decodePart(t *testing.T, tok string, n int) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[n])
	require.NoError(t, err)
	return b
}

// topLevelKeys lists an object's keys in wire order.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	_, err := dec.Token()
	require.NoError(t, err)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

func TestMintServiceAccountTokenMatchesKubeAPIServer(t *testing.T) {
	iat := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	h, err := oidc.New(oidc.Options{Now: func() time.Time { return iat }})
	require.NoError(t, err)
	iss, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.AddSigner(loadSigner(t, "rsa"))
	require.NoError(t, err)
	capped, err := h.AddIssuer(gkeIssuer, oidc.WithMaxTokenExpiration(2*time.Hour), oidc.WithAPIAudiences("https://kubernetes.default.svc"))
	require.NoError(t, err)
	_, err = capped.AddSigner(loadSigner(t, "ec"))
	require.NoError(t, err)

	pod := &oidc.ObjectRef{Name: "app-7d9f", UID: "pod-uid"}
	node := &oidc.ObjectRef{Name: "lab-worker", UID: "node-uid"}
	sa := func(extra map[string]any) map[string]any {
		k := map[string]any{"namespace": "team-a", "serviceaccount": map[string]any{"name": "app", "uid": "sa-uid"}}
		for n, v := range extra {
			k[n] = v
		}
		return k
	}
	ref := func(r *oidc.ObjectRef) map[string]any { return map[string]any{"name": r.Name, "uid": r.UID} }
	tests := []struct {
		name     string
		iss      *oidc.Issuer
		req      oidc.TokenRequest
		aud      []any
		lifetime int64
		k8s      map[string]any
	}{
		{"IRSA pod token", iss, oidc.TokenRequest{Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 86400, Pod: pod, Node: node},
			[]any{"sts.amazonaws.com"}, 86400, sa(map[string]any{"pod": ref(pod), "node": ref(node)})},
		{"default lifetime and API audience", iss, oidc.TokenRequest{Pod: pod},
			[]any{eksIssuer}, 3600, sa(map[string]any{"pod": ref(pod)})},
		{"kubelet kube-api-access token is extended", iss, oidc.TokenRequest{ExpirationSeconds: 3607, Pod: pod, Node: node},
			[]any{eksIssuer}, oidc.ExtendedExpirationSeconds, sa(map[string]any{"pod": ref(pod), "node": ref(node), "warnafter": json.Number(strconv.FormatInt(iat.Unix()+oidc.WarnOnlyExpirationSeconds, 10))})},
		{"3607 for another audience is not extended", iss, oidc.TokenRequest{ExpirationSeconds: 3607, Pod: pod, Audiences: []string{"sts.amazonaws.com"}},
			[]any{"sts.amazonaws.com"}, 3607, sa(map[string]any{"pod": ref(pod)})},
		{"3607 without a pod is not extended", iss, oidc.TokenRequest{ExpirationSeconds: 3607},
			[]any{eksIssuer}, 3607, sa(nil)},
		{"secret-bound", iss, oidc.TokenRequest{Audiences: []string{"a", "b"}, Secret: &oidc.ObjectRef{Name: "s", UID: "secret-uid"}},
			[]any{"a", "b"}, 3600, sa(map[string]any{"secret": map[string]any{"name": "s", "uid": "secret-uid"}})},
		{"node-bound", iss, oidc.TokenRequest{Audiences: []string{"x"}, Node: node},
			[]any{"x"}, 3600, sa(map[string]any{"node": ref(node)})},
		{"uid omitted when empty", iss, oidc.TokenRequest{Audiences: []string{"x"}, Pod: &oidc.ObjectRef{Name: "p"}},
			[]any{"x"}, 3600, sa(map[string]any{"pod": map[string]any{"name": "p"}})},
		{"max expiration caps", capped, oidc.TokenRequest{ExpirationSeconds: 48 * 3600},
			[]any{"https://kubernetes.default.svc"}, 7200, sa(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Namespace, req.ServiceAccount, req.ServiceAccountUID = "team-a", "app", "sa-uid"
			tok, err := tc.iss.MintServiceAccountToken(req)
			require.NoError(t, err)

			var hdr map[string]any
			require.NoError(t, json.Unmarshal(decodePart(t, tok, 0), &hdr))
			key := tc.iss.Keys()[0]
			require.Equal(t, map[string]any{"alg": key.Algorithm, "kid": key.ID}, hdr, "header is alg and kid only")

			payload := decodePart(t, tok, 1)
			require.Equal(t, []string{"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}, topLevelKeys(t, payload))
			var claims map[string]any
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&claims))
			require.Regexp(t, uuidRE, claims["jti"])
			delete(claims, "jti")
			num := func(n int64) json.Number { return json.Number(strings.TrimSpace(string(mustJSON(t, n)))) }
			require.Equal(t, map[string]any{
				"aud": tc.aud, "iss": tc.iss.URL(), "sub": "system:serviceaccount:team-a:app",
				"iat": num(iat.Unix()), "nbf": num(iat.Unix()), "exp": num(iat.Unix() + tc.lifetime),
				"kubernetes.io": tc.k8s,
			}, normalise(claims))
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// normalise turns nested json.Number maps into comparable values.
func normalise(m map[string]any) map[string]any {
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			m[k] = normalise(mm)
		}
	}
	return m
}

func TestMintServiceAccountTokenRefusesWhatTokenRequestRefuses(t *testing.T) {
	h, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	iss, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "b"})
	require.ErrorIs(t, err, oidc.ErrNoSigningKey)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	for name, req := range map[string]oidc.TokenRequest{
		"no namespace":       {ServiceAccount: "b"},
		"no service account": {Namespace: "a"},
		"599 seconds":        {Namespace: "a", ServiceAccount: "b", ExpirationSeconds: 599},
		"negative":           {Namespace: "a", ServiceAccount: "b", ExpirationSeconds: -1},
		"over 2^32":          {Namespace: "a", ServiceAccount: "b", ExpirationSeconds: 1<<32 + 1},
		"pod and secret":     {Namespace: "a", ServiceAccount: "b", Pod: &oidc.ObjectRef{Name: "p"}, Secret: &oidc.ObjectRef{Name: "s"}},
		"node and secret":    {Namespace: "a", ServiceAccount: "b", Node: &oidc.ObjectRef{Name: "n"}, Secret: &oidc.ObjectRef{Name: "s"}},
	} {
		_, err := iss.MintServiceAccountToken(req)
		require.ErrorIs(t, err, oidc.ErrInvalidTokenRequest, name)
	}
}

func TestSignOptionsCraftHeaders(t *testing.T) {
	h, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	iss, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	k1, err := iss.AddKey("ES256")
	require.NoError(t, err)
	k2, err := iss.AddKey("ES384")
	require.NoError(t, err)
	require.Equal(t, "ES384", k2.Algorithm)

	tok, err := iss.Sign(map[string]any{"iss": "https://accounts.google.com", "email": "sa@p.iam.gserviceaccount.com"})
	require.NoError(t, err)
	var hdr map[string]any
	require.NoError(t, json.Unmarshal(decodePart(t, tok, 0), &hdr))
	require.Equal(t, map[string]any{"alg": "ES256", "kid": k1.ID}, hdr)

	tok, err = iss.Sign(map[string]any{"a": 1}, oidc.WithKey(k2.ID), oidc.WithKid(""), oidc.WithHeader("typ", "JWT"))
	require.NoError(t, err)
	hdr = nil
	require.NoError(t, json.Unmarshal(decodePart(t, tok, 0), &hdr))
	require.Equal(t, map[string]any{"alg": "ES384", "typ": "JWT"}, hdr)

	_, err = iss.Sign(map[string]any{}, oidc.WithKey("nope"))
	require.ErrorIs(t, err, oidc.ErrNoSigningKey)
}

func TestSignWithAlgCraftsAttackTokens(t *testing.T) {
	srv := newServer(t)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	rk, err := iss.AddKey("RS256")
	require.NoError(t, err)
	ek, err := iss.AddKey("ES256")
	require.NoError(t, err)
	keys := &jwtverify.DiscoveryKeys{Client: srv.Client()}
	claims := map[string]any{"iss": eksIssuer, "sub": "x", "aud": []string{"sts.amazonaws.com"}, "exp": time.Now().Add(time.Hour).Unix()}
	tests := []struct {
		name string
		opts []oidc.SignOption
		algs []string
		want jwtverify.Code // "" = verifies
	}{
		{"alg none", []oidc.SignOption{oidc.WithAlg("none")}, nil, jwtverify.CodeUnsupportedAlg},
		{"HS256 keyed with the public key", []oidc.SignOption{oidc.WithAlg("HS256")}, []string{"HS256", "RS256"}, jwtverify.CodeUnsupportedAlg},
		{"RS384 off by default", []oidc.SignOption{oidc.WithAlg("RS384")}, nil, jwtverify.CodeUnsupportedAlg},
		{"RS384 allowed but key published for RS256", []oidc.SignOption{oidc.WithAlg("RS384")}, []string{"RS384"}, jwtverify.CodeKeyNotFound},
		{"ES256 header on the RSA key", []oidc.SignOption{oidc.WithAlg("ES256")}, nil, jwtverify.CodeKeyNotFound},
		{"crafted ES256 with the EC key verifies", []oidc.SignOption{oidc.WithAlg("ES256"), oidc.WithKey(ek.ID)}, nil, ""},
		{"crafted RS256 verifies", []oidc.SignOption{oidc.WithAlg("RS256")}, nil, ""},
		{"kid of the EC key on an RSA signature", []oidc.SignOption{oidc.WithAlg("RS256"), oidc.WithKid(ek.ID)}, nil, jwtverify.CodeKeyNotFound},
		{"no kid with two keys", []oidc.SignOption{oidc.WithKid("")}, nil, ""},
		{"crit header", []oidc.SignOption{oidc.WithAlg("RS256"), oidc.WithHeader("crit", []string{"exp"})}, nil, jwtverify.CodeUnsupportedCrit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := iss.Sign(claims, tc.opts...)
			require.NoError(t, err)
			_, err = (&jwtverify.Verifier{Keys: keys, Algorithms: tc.algs}).Verify(context.Background(), tok)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			var e *jwtverify.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.want, e.Code, e.Error())
		})
	}
	_ = rk
}
