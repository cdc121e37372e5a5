package eksagent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// upstreamCommit is the aws/eks-pod-identity-agent commit (main, release
// 0.1.37) whose request validation the tests here restate.
const upstreamCommit = "d4dc0f3fedd795b26ac88755238867a2110c7460"

// upstreamNow is the clock of these tests.
var upstreamNow = time.Unix(1_800_000_000, 0)

// upstreamToken is upstream's CreateTokenForTest (internal/test/util.go):
// an HS256 token with iss, sub, aud and the given exp, iat and nbf.
func upstreamToken(t *testing.T, exp, iat, nbf time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(iat),
		NotBefore: jwt.NewNumericDate(nbf),
		Issuer:    "some-issuer",
		Subject:   "some-subject",
		Audience:  []string{"some-audience"},
	}).SignedString([]byte("signingKey"))
	require.NoError(t, err)
	return tok
}

// upstreamAgent is an agent with upstream's default target hosts.
func upstreamAgent(t *testing.T) *Agent {
	t.Helper()
	// The node's credentials are never asked for: validation comes first.
	noCredentials := CredentialsFunc(func(context.Context) (Credentials, error) { return Credentials{}, errors.New("not asked") })
	a, err := New(Options{ClusterName: "some-cluster-name", Credentials: noCredentials, Now: func() time.Time { return upstreamNow }})
	require.NoError(t, err)
	return a
}

// upstreamCase is a case of an upstream table: diff names the row of the
// differences table in doc.go when idlab answers differently on purpose.
type upstreamCase struct {
	name, host, token, want, diff string
}

// upstreamRequestCases are TestValidateEksCredentialRequest
// (internal/validation/request_test.go at upstreamCommit), 8 cases, with
// upstream's time.Now() as upstreamNow.
func upstreamRequestCases(t *testing.T) []upstreamCase {
	now, hour := upstreamNow, time.Hour
	valid := upstreamToken(t, now.Add(hour), now, now)
	return []upstreamCase{
		{name: "passes on valid request", host: IPv4Address, token: valid},
		{name: "passes on valid request IPv6 no braces", host: IPv6Address, token: valid},
		{name: "passes on valid request IPv6 with braces", host: "[" + IPv6Address + "]", token: valid},
		{name: "passes on valid request IPv6 with port", host: "[" + IPv6Address + "]:4213", token: valid},
		{name: "no SA token passed", host: IPv4Address, want: "Service account token cannot be empty"},
		{name: "no src add passed", host: "124.3.1.2", token: valid,
			want: "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 124.3.1.2"},
		{name: "expired token", host: IPv4Address, token: upstreamToken(t, now, now, now),
			want: "Service account token failed basic claim validations: token is expired"},
		{name: "token nbf in future", host: IPv4Address, token: upstreamToken(t, now.Add(hour), now, now.Add(hour)),
			want: "Service account token failed basic claim validations: token is not valid yet"},
	}
}

func TestUpstreamRequestValidation(t *testing.T) {
	a := upstreamAgent(t)
	cases := upstreamRequestCases(t)
	require.Len(t, cases, 8)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Empty(t, c.diff, "no request validation case differs")
			err := a.validateRequest(c.host, c.token, upstreamNow)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, c.want)
		})
	}
}

// seg is a JWT segment: base64url without padding.
func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// upstreamProbes go beyond upstream's table: tokens through upstream's
// validateToken, whose answer is golang-jwt v5.2.2's (upstream's go.mod)
// ParseUnverified into RegisteredClaims and NewValidator().Validate, read
// from golang-jwt's parser.go, types.go, validator.go and errors.go at tag
// v5.2.2.
func upstreamProbes() []upstreamCase {
	hdr := seg(`{"alg":"RS256","kid":"k"}`)
	claims := func(json string) string { return hdr + "." + seg(json) + ".c2ln" }
	at := func(d time.Duration) int64 { return upstreamNow.Add(d).Unix() }
	parsed := "Service account token cannot be parsed: "
	basic := "Service account token failed basic claim validations: "
	return []upstreamCase{
		{name: "exp and nbf both fail, reported together", token: claims(fmt.Sprintf(`{"exp":%d,"nbf":%d}`, at(-time.Hour), at(time.Hour))),
			want: basic + "token is expired, token is not valid yet"},
		{name: "exp equal to now is expired", token: claims(fmt.Sprintf(`{"exp":%d}`, at(0))), want: basic + "token is expired"},
		{name: "exp fraction is cut to the second", token: claims(fmt.Sprintf(`{"exp":%d.5}`, at(0))), want: basic + "token is expired"},
		{name: "nbf equal to now is valid", token: claims(fmt.Sprintf(`{"nbf":%d}`, at(0)))},
		{name: "iat in the future is not checked", token: claims(fmt.Sprintf(`{"iat":%d}`, at(time.Hour)))},
		{name: "exp as a numeric string", token: claims(fmt.Sprintf(`{"exp":"%d"}`, at(time.Hour)))},
		{name: "numeric aud", token: claims(`{"aud":5}`), want: parsed + "token is malformed: could not JSON decode claim: invalid type for claim"},
		{name: "aud array with a number", token: claims(`{"aud":["a",5]}`), want: parsed + "token is malformed: could not JSON decode claim: invalid type for claim"},
		{name: "numeric iss", token: claims(`{"iss":5}`),
			want: parsed + "token is malformed: could not JSON decode claim: json: cannot unmarshal number into Go struct field RegisteredClaims.iss of type string"},
		{name: "claims null", token: claims(`null`)},
		{name: "exp and nbf null", token: claims(`{"exp":null,"nbf":null}`)},
		{name: "data after the claims", token: claims(`{} {}`),
			want: parsed + "token is malformed: could not JSON decode claim: invalid character '{' after top-level value"},
		{name: "header without alg", token: seg(`{"typ":"JWT"}`) + "." + seg(`{}`) + ".c2ln",
			want: parsed + "token is unverifiable: signing method (alg) is unspecified"},
		{name: "alg not a string", token: seg(`{"alg":5}`) + "." + seg(`{}`) + ".c2ln",
			want: parsed + "token is unverifiable: signing method (alg) is unspecified"},
		{name: "unknown alg", token: seg(`{"alg":"XYZ"}`) + "." + seg(`{}`) + ".c2ln",
			want: parsed + "token is unverifiable: signing method (alg) is unavailable"},
		{name: "alg none", token: seg(`{"alg":"none"}`) + "." + seg(`{}`) + "."},
		{name: "header an array", token: seg(`[]`) + "." + seg(`{}`) + ".c2ln",
			want: parsed + "token is malformed: could not JSON decode header: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{name: "padded header", token: seg(`{"alg":"RS256"}`) + "=." + seg(`{}`) + ".c2ln",
			want: parsed + "token is malformed: could not base64 decode header: illegal base64 data at input byte 20"},
		{name: "signature not base64 is not read", token: claims(`{}`)[:len(claims(`{}`))-4] + "!!"},
		{name: "four segments", token: claims(`{}`) + ".x", want: parsed + "token is malformed: token contains an invalid number of segments"},
		{name: "claims not base64", token: hdr + ".!!.c2ln", want: parsed + "token is malformed: could not base64 decode claim: illegal base64 data at input byte 0"},
	}
}

func TestUpstreamTokenProbes(t *testing.T) {
	for _, c := range upstreamProbes() {
		t.Run(c.name, func(t *testing.T) {
			require.Empty(t, c.diff, "no probe differs")
			err := validateToken(c.token, upstreamNow)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, c.want)
			var re *requestError
			require.ErrorAs(t, err, &re)
			require.Equal(t, 400, re.status)
		})
	}
}

// TestUpstreamDifferencesDocumented: doc.go's differences table has one
// row per id, and every case or probe that differs names one of them.
func TestUpstreamDifferencesDocumented(t *testing.T) {
	raw, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	require.Contains(t, string(raw), upstreamCommit[:7])
	row := regexp.MustCompile(`^//\t\| ([a-z0-9-]+) \| ([^|]+) \|[^|]+\|[^|]+\|[^|]+\|$`)
	ids := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if m := row.FindStringSubmatch(line); m != nil && m[1] != "id" {
			_, dup := ids[m[1]]
			require.False(t, dup, "row %q twice", m[1])
			ids[m[1]] = strings.TrimSpace(m[2])
		}
	}
	require.NotEmpty(t, ids, "doc.go has a differences table")
	documented := map[string]string{}
	for id, cases := range ids {
		if cases != "none" {
			for _, c := range strings.Split(cases, "; ") {
				documented[c] = id
			}
		}
	}
	differing := map[string]string{}
	all := append(upstreamRequestCases(t), upstreamProbes()...)
	for _, c := range all {
		if c.diff != "" {
			differing[c.name] = c.diff
		}
	}
	require.Equal(t, documented, differing)
	t.Logf("upstream at %s: %d request validation cases and %d probes run, %d differ", upstreamCommit[:7], len(upstreamRequestCases(t)), len(upstreamProbes()), len(differing))
}
