package awssts_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/awsxml"
)

type stsError struct {
	Error struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// postWebIdentity sends AssumeRoleWithWebIdentity as the SDKs do (unsigned form POST).
func postWebIdentity(t *testing.T, l *lab, form url.Values) (int, stsError, string) {
	t.Helper()
	resp, err := l.sts.Client().Post(l.sts.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e stsError
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, xml.Unmarshal(body, &e), string(body))
		require.Equal(t, resp.Header.Get("x-amzn-RequestId"), e.RequestID)
	}
	return resp.StatusCode, e, string(body)
}

func webIdentityForm(token, role string) url.Values {
	return url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {role},
		"RoleSessionName": {"s1"}, "WebIdentityToken": {token}}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestNegativeTokens(t *testing.T) {
	l := newLab(t)
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": issuerURL, "sub": "system:serviceaccount:team-a:app-a", "aud": []string{"sts.amazonaws.com"},
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix()}
	}
	with := func(k string, v any) map[string]any {
		m := good()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	sign := func(claims any, opts ...oidc.SignOption) string {
		tok, err := l.issuer.Sign(claims, opts...)
		require.NoError(t, err)
		return tok
	}
	valid := sign(good())
	parts := strings.Split(valid, ".")
	js := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	kid := l.issuer.Keys()[0].ID
	strayTok, err := l.stray.Sign(good())
	require.NoError(t, err)

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"garbage", "not-a-jwt-at-all", "InvalidIdentityToken"},
		{"two parts", parts[0] + "." + parts[1], "InvalidIdentityToken"},
		{"four parts", valid + ".x", "InvalidIdentityToken"},
		{"padded base64", parts[0] + "==." + parts[1] + "." + parts[2], "InvalidIdentityToken"},
		{"header not JSON", b64("hello") + "." + parts[1] + "." + parts[2], "InvalidIdentityToken"},
		{"payload not JSON", parts[0] + "." + b64("hello") + "." + parts[2], "InvalidIdentityToken"},
		{"payload is an array", parts[0] + "." + b64("[1]") + "." + parts[2], "InvalidIdentityToken"},
		{"no iss", sign(with("iss", nil)), "InvalidIdentityToken"},
		{"iss not a string", sign(with("iss", 5)), "InvalidIdentityToken"},
		{"exp is a string", sign(with("exp", "soon")), "InvalidIdentityToken"},
		{"aud is a number", sign(with("aud", 1)), "InvalidIdentityToken"},
		{"unknown issuer", sign(with("iss", "https://oidc.eks.us-west-2.amazonaws.com/id/OTHER")), "InvalidIdentityToken"},
		{"issuer with trailing slash", sign(with("iss", issuerURL+"/")), "InvalidIdentityToken"},
		{"http issuer", sign(with("iss", "http://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")), "InvalidIdentityToken"},
		{"issuer case changed", sign(with("iss", strings.ToUpper(issuerURL))), "InvalidIdentityToken"},
		{"wrong aud", sign(with("aud", []string{"sts.amazonaws.com.evil"})), "InvalidIdentityToken"},
		{"aud typo", sign(with("aud", "sts.amazonaw.com")), "InvalidIdentityToken"},
		{"no aud and no azp", sign(with("aud", nil)), "InvalidIdentityToken"},
		{"empty aud list", sign(with("aud", []string{})), "InvalidIdentityToken"},
		{"alg none", b64(`{"alg":"none"}`) + "." + parts[1] + ".", "InvalidIdentityToken"},
		{"alg HS256", b64(js(map[string]string{"alg": "HS256", "kid": kid})) + "." + parts[1] + "." + parts[2], "InvalidIdentityToken"},
		{"alg RS512 not accepted", b64(js(map[string]string{"alg": "RS512", "kid": kid})) + "." + parts[1] + "." + parts[2], "InvalidIdentityToken"},
		{"signed by a key not in the JWKS", strayTok, "InvalidIdentityToken"},
		{"unknown kid", sign(good(), oidc.WithKid("no-such-kid")), "InvalidIdentityToken"},
		{"tampered payload", parts[0] + "." + b64(js(with("sub", "system:serviceaccount:kube-system:admin"))) + "." + parts[2], "InvalidIdentityToken"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "InvalidIdentityToken"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(sign(with("sub", "x")), ".")[2], "InvalidIdentityToken"},
		{"crit header", sign(good(), oidc.WithHeader("crit", []string{"exp"})), "InvalidIdentityToken"},
		{"no exp", sign(with("exp", nil)), "InvalidIdentityToken"},
		{"no sub", sign(with("sub", nil)), "InvalidIdentityToken"},
		{"expired an hour ago", sign(with("exp", now.Add(-time.Hour).Unix())), "ExpiredTokenException"},
		{"expired long ago", sign(with("exp", 1000)), "ExpiredTokenException"},
		{"not valid before next hour", sign(with("nbf", now.Add(time.Hour).Unix())), "IDPRejectedClaim"},
		{"issued in the future", sign(with("iat", now.Add(time.Hour).Unix())), "IDPRejectedClaim"},
		{"other service account", sign(with("sub", "system:serviceaccount:team-a:app-b")), "AccessDenied"},
		{"other namespace", sign(with("sub", "system:serviceaccount:team-b:app-a")), "AccessDenied"},
		{"sub with trailing space", sign(with("sub", "system:serviceaccount:team-a:app-a ")), "AccessDenied"},
		{"too short", "a.b", "ValidationError"},
		{"too long", strings.Repeat("a", 20001), "ValidationError"},
	}
	require.GreaterOrEqual(t, len(tests), 30)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(l.iam.Decisions(awsiam.DecisionFilter{}))
			status, e, body := postWebIdentity(t, l, webIdentityForm(tc.token, roleAppA))
			require.NotEqual(t, http.StatusOK, status, "token accepted: %s", body)
			require.Equal(t, tc.code, e.Error.Code, e.Error.Message)
			require.Equal(t, "Sender", e.Error.Type)
			// Every refusal is in the decision log: token faults as
			// Rejected with the code, trust-policy ones as ImplicitDeny.
			ds := l.iam.Decisions(awsiam.DecisionFilter{})
			switch tc.code {
			case "ValidationError":
				require.Len(t, ds, before, "a malformed request is not a decision")
			case "AccessDenied":
				require.Greater(t, len(ds), before)
				require.Equal(t, awsiam.ImplicitDeny, ds[len(ds)-1].Effect)
			default:
				require.Len(t, ds, before+1)
				d := ds[len(ds)-1]
				require.Equal(t, awsiam.Rejected, d.Effect)
				require.Equal(t, roleAppA, d.Resource)
				require.True(t, strings.HasPrefix(d.Reason, tc.code+": "), d.Reason)
			}
		})
	}
	status, _, body := postWebIdentity(t, l, webIdentityForm(valid, roleAppA))
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<SubjectFromWebIdentityToken>system:serviceaccount:team-a:app-a</SubjectFromWebIdentityToken>")
	require.Contains(t, body, "<Audience>sts.amazonaws.com</Audience>")
	require.Contains(t, body, "<Provider>arn:aws:iam::111111111111:oidc-provider/"+issuerHost+"</Provider>")
}

func TestParameterValidation(t *testing.T) {
	l := newLab(t)
	tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   string
		msg    string
	}{
		{"session name too short", func(v url.Values) { v.Set("RoleSessionName", "a") }, "ValidationError", "Member must have length greater than or equal to 2"},
		{"session name bad chars", func(v url.Values) { v.Set("RoleSessionName", "a b") }, "ValidationError", `regular expression pattern: [\w+=,.@-]*`},
		{"missing session name", func(v url.Values) { v.Del("RoleSessionName") }, "ValidationError", "Value null at 'roleSessionName'"},
		{"missing role", func(v url.Values) { v.Del("RoleArn") }, "ValidationError", "Value null at 'roleArn'"},
		{"duration too short", func(v url.Values) { v.Set("DurationSeconds", "899") }, "ValidationError", "greater than or equal to 900"},
		{"duration over role max", func(v url.Values) { v.Set("DurationSeconds", "7200") }, "ValidationError", "exceeds the MaxSessionDuration set for this role"},
		{"malformed session policy", func(v url.Values) { v.Set("Policy", "{") }, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"session policy with principal", func(v url.Values) {
			v.Set("Policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`)
		}, "MalformedPolicyDocument", "should not specify a principal"},
		{"session policy too large", func(v url.Values) {
			v.Set("Policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::`+strings.Repeat("b", 2100)+`"}}`)
		}, "PackedPolicyTooLarge", "Packed policy"},
		{"unknown managed session policy", func(v url.Values) { v.Set("PolicyArns.member.1.arn", "arn:aws:iam::111111111111:policy/nope") }, "MalformedPolicyDocument", "does not exist"},
		{"role ARN not an ARN", func(v url.Values) { v.Set("RoleArn", "role/app-a-but-not-an-arn") }, "ValidationError", "Request ARN is invalid"},
		{"duration over 12 hours", func(v url.Values) { v.Set("DurationSeconds", "43201") }, "ValidationError", "Member must have value less than or equal to 43200"},
		{"duration not a number", func(v url.Values) { v.Set("DurationSeconds", "1h") }, "ValidationError", "Value '1h' at 'durationSeconds'"},
		{"session name too long", func(v url.Values) { v.Set("RoleSessionName", strings.Repeat("s", 65)) }, "ValidationError", "Member must have length less than or equal to 64"},
		{"two errors at once", func(v url.Values) { v.Set("RoleSessionName", "a"); v.Set("DurationSeconds", "1") }, "ValidationError", "2 validation errors detected: "},
		{"wrong version", func(v url.Values) { v.Set("Version", "2010-01-01") }, "InvalidAction", "Could not find operation"},
		{"unknown action", func(v url.Values) { v.Set("Action", "GetSessionToken2") }, "InvalidAction", "Could not find operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := webIdentityForm(tok, roleAppA)
			tc.mutate(form)
			status, e, _ := postWebIdentity(t, l, form)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tc.code, e.Error.Code)
			require.Contains(t, e.Error.Message, tc.msg)
		})
	}
}

// Messages exactly as AWS words them.
func TestExactMessages(t *testing.T) {
	l := newLab(t)
	tok := l.mint(t, "team-a", "app-a", "sts.amazonaws.com")
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   string
		msg    string
	}{
		{"session name pattern", func(v url.Values) { v.Set("RoleSessionName", "a b") }, "ValidationError",
			`1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"unknown issuer", func(v url.Values) {
			tok, err := l.issuer.Sign(map[string]any{"iss": "https://issuer.example/x", "sub": "s", "aud": "sts.amazonaws.com", "exp": time.Now().Add(time.Hour).Unix()})
			require.NoError(t, err)
			v.Set("WebIdentityToken", tok)
		}, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://issuer.example/x"},
		{"audience", func(v url.Values) { v.Set("WebIdentityToken", l.mint(t, "team-a", "app-a", "other")) }, "InvalidIdentityToken", "Incorrect token audience"},
		{"trust policy", func(v url.Values) { v.Set("WebIdentityToken", l.mint(t, "team-a", "app-b", "sts.amazonaws.com")) }, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		// WebIdentityToken's model constraints (clientTokenType, 4 to 20,000).
		{"token missing", func(v url.Values) { v.Del("WebIdentityToken") }, "ValidationError",
			"1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null"},
		{"token empty", func(v url.Values) { v.Set("WebIdentityToken", "") }, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"},
		{"token too short", func(v url.Values) { v.Set("WebIdentityToken", "eyJ") }, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"},
		{"token of the largest length is parsed", func(v url.Values) { v.Set("WebIdentityToken", strings.Repeat("a", 20000)) }, "InvalidIdentityToken",
			"Couldn't parse provided token"},
		{"token one over", func(v url.Values) { v.Set("WebIdentityToken", strings.Repeat("a", 20001)) }, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"},
		{"token of 70 KiB", func(v url.Values) { v.Set("WebIdentityToken", strings.Repeat("a", 70<<10)) }, "ValidationError",
			"1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"},
		{"session name too long", func(v url.Values) { v.Set("RoleSessionName", strings.Repeat("s", 65)) }, "ValidationError",
			"1 validation error detected: Value '" + strings.Repeat("s", 65) + "' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := webIdentityForm(tok, roleAppA)
			tc.mutate(form)
			status, e, body := postWebIdentity(t, l, form)
			require.Equal(t, tc.code, e.Error.Code, body)
			require.Equal(t, tc.msg, e.Error.Message)
			require.Equal(t, awsxml.StatusFor(tc.code), status, "400, 403 for AccessDenied; never 413")
		})
	}
}

// TestTokenExpiryHasNoLeeway: STS refuses a token from its exp on, as AWS
// refuses one minutes past exp; one second before exp it is accepted.
func TestTokenExpiryHasNoLeeway(t *testing.T) {
	l := newLab(t)
	// Expiries are offsets from the lab clock (real time) read in each
	// case, so a slow machine does not age the live token: under make
	// test's load one case took 3.7 s and a token given 2 s had expired.
	tests := []struct {
		name string
		exp  time.Duration
		code string
	}{
		{"seconds left", 10 * time.Second, ""},
		{"at exp", 0, "ExpiredTokenException"},
		{"one second past exp", -time.Second, "ExpiredTokenException"},
		{"198 seconds past exp", -198 * time.Second, "ExpiredTokenException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := l.clock.Now()
			exp := now.Add(tc.exp)
			tok, err := l.issuer.Sign(map[string]any{"iss": issuerURL, "sub": "system:serviceaccount:team-a:app-a", "aud": []string{"sts.amazonaws.com"},
				"exp": exp.Unix(), "iat": now.Add(-10 * time.Minute).Unix(), "nbf": now.Add(-10 * time.Minute).Unix(), "jti": "x"})
			require.NoError(t, err)
			status, e, body := postWebIdentity(t, l, webIdentityForm(tok, roleAppA))
			if tc.code == "" {
				require.Equal(t, http.StatusOK, status, body)
				return
			}
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Equal(t, tc.code, e.Error.Code)
			require.Regexp(t, `^Token expired: current date/time \d+ must be before the expiration date/time \d+$`, e.Error.Message)
			require.Contains(t, e.Error.Message, "expiration date/time "+strconv.FormatInt(exp.Unix(), 10))
		})
	}
}
