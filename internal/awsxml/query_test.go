package awsxml

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadParams(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, ctype, body string
		want                              map[string][]string
		code, msg                         string
		status                            int
	}{
		{name: "GET query", method: "GET", target: "/?Action=GetCallerIdentity&Version=2011-06-15",
			want: map[string][]string{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}},
		{name: "POST form merges with query", method: "POST", target: "/?Version=1", ctype: "application/x-www-form-urlencoded; charset=utf-8", body: "Action=Publish&Version=2",
			want: map[string][]string{"Action": {"Publish"}, "Version": {"1", "2"}}},
		{name: "POST without content type", method: "POST", target: "/", body: "Action=ListTopics",
			want: map[string][]string{"Action": {"ListTopics"}}},
		{name: "JSON body refused", method: "POST", target: "/", ctype: "application/json", body: `{"Action":"x"}`, code: "InvalidQueryParameter", status: 400},
		{name: "bad query", method: "GET", target: "/?a=%zz", code: "MalformedQueryString", status: 400},
		{name: "bad form", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "a=%zz", code: "MalformedQueryString", status: 400},
		{name: "too large", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "Message=" + strings.Repeat("x", 57), code: "ValidationError", msg: MsgInputConstraints, status: 400},
		{name: "as large as allowed", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "Message=" + strings.Repeat("x", 56),
			want: map[string][]string{"Message": {strings.Repeat("x", 56)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			body, params, err := ReadParams(r, 64)
			if tc.code != "" {
				var ae *Error
				require.True(t, errors.As(err, &ae), "want *Error, got %v", err)
				require.Equal(t, tc.code, ae.Code)
				require.Equal(t, tc.status, ae.Status)
				if tc.msg != "" {
					require.Equal(t, tc.msg, ae.Message)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.body, string(body))
			for k, v := range tc.want {
				require.Equal(t, v, params[k], k)
			}
		})
	}
}

func TestServe(t *testing.T) {
	ok := func(_ context.Context, _ *http.Request, _ []byte, p url.Values, _ string) (any, error) {
		if p.Get("Action") != "Ping" {
			return nil, New("InvalidAction", "The action %s is not valid for this web service.", p.Get("Action"))
		}
		return &struct {
			XMLName xml.Name `xml:"PingResponse"`
		}{}, nil
	}
	for _, tc := range []struct {
		query, want string
		status      int
	}{
		{"Action=Ping", "<PingResponse>", 200},
		{"Action=Pong", "<Code>InvalidAction</Code>", 400},
	} {
		w := httptest.NewRecorder()
		Serve(w, httptest.NewRequest("GET", "/?"+tc.query, nil), "urn:test", 1024, slog.New(slog.DiscardHandler), ok)
		require.Equal(t, tc.status, w.Code)
		require.Contains(t, w.Body.String(), tc.want)
		require.NotEmpty(t, w.Header().Get("x-amzn-RequestId"))
	}
}
