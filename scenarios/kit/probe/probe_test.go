package probe

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	r, err := Parse("some log line\n{\"ok\":false,\"errorCode\":\"AccessDenied\"}\n")
	require.NoError(t, err)
	require.Equal(t, Result{ErrorCode: "AccessDenied"}, r)
	_, err = Parse("panic: boom\n")
	require.Error(t, err)
}

func TestParseToken(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, token string
		want        TokenInfo
		err         string
	}{
		{"claims", "h." + enc(`{"iat":100,"exp":700,"jti":"abc"}`) + ".s\n",
			TokenInfo{IssuedAt: 100, Expiry: 700, ID: "ba7816bf8f01"}, ""},
		{"two parts", "h." + enc(`{}`), TokenInfo{}, "2 parts"},
		{"bad base64", "h.!!.s", TokenInfo{}, "payload"},
		{"not json", "h." + enc(`[`) + ".s", TokenInfo{}, "claims"},
		{"no jti", "h." + enc(`{"iat":1,"exp":2}`) + ".s", TokenInfo{}, "lacks"},
		{"no exp", "h." + enc(`{"iat":1,"jti":"x"}`) + ".s", TokenInfo{}, "lacks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseToken(tc.token)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseCalls(t *testing.T) {
	calls, err := ParseCalls("noise\ncall {\"at\":\"2026-01-01T00:00:00Z\",\"op\":\"GetCallerIdentity\",\"ok\":true,\"fileToken\":{\"iat\":1,\"exp\":601,\"id\":\"x\"}}\n{\"ok\":true}\n")
	require.NoError(t, err)
	require.Len(t, calls, 1)
	require.Equal(t, "GetCallerIdentity", calls[0].Op)
	require.Equal(t, int64(601), calls[0].FileToken.Expiry)
	_, err = ParseCalls("call {broken\n")
	require.Error(t, err)
}

func FuzzParseToken(f *testing.F) {
	f.Add("h.eyJpYXQiOjEsImV4cCI6MiwianRpIjoieCJ9.s")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, s string) {
		ti, err := ParseToken(s)
		if err == nil && (ti.ID == "" || ti.IssuedAt == 0 || ti.Expiry == 0) {
			t.Fatalf("accepted a token without its claims: %+v", ti)
		}
	})
}

func FuzzParseCalls(f *testing.F) {
	f.Add("call {\"op\":\"GetCallerIdentity\",\"ok\":true}\n")
	f.Add("call \n{}")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseCalls(s) })
}

func TestParseADCRuns(t *testing.T) {
	one := `{"ok":false,"errorCode":"NoDefaultCredentials","attempts":[{"ok":false,"errorCode":"NoDefaultCredentials","ms":3}],"exit":1}`
	two := `{"ok":true,"attempts":[{"ok":true,"ms":40}],"exit":0}`
	runs, err := ParseADCRuns(one + "\n" + two + "\n")
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, 1, runs[0].Exit)
	require.Equal(t, "NoDefaultCredentials", runs[0].ErrorCode)
	require.True(t, runs[1].OK)
	_, err = ParseADCRuns("")
	require.ErrorContains(t, err, "no result")
	_, err = ParseADCRuns(one + "\n" + `{"ok":true,"attempts":[]}`)
	require.ErrorContains(t, err, "no attempt", "every run made an attempt")
	_, err = ParseADCRuns(`{"ok":`)
	require.Error(t, err)
}
