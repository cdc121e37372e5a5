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
		{name: "bad query", method: "GET", target: "/?a=%zz", code: "MalformedQueryString", status: 404},
		{name: "bad form", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "a=%zz", code: "MalformedQueryString", status: 404},
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

func TestMembers(t *testing.T) {
	p, err := url.ParseQuery("ActionNames.member.2=b&ActionNames.member.1=a&ActionNames.member.10=j&ActionNames.member.01=x&ActionNames.member.0=z" +
		"&ActionNames.member.1001=big&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.3.Key=k3" +
		"&ContextEntries.member.1.ContextKeyName=aws:CurrentTime&ContextEntries.member.1.ContextKeyValues.member.2=y&ContextEntries.member.1.ContextKeyValues.member.1=x")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "j"}, Strings(p, "ActionNames"), "index order; 0, 01 and over MaxMembers ignored")
	tags := Members(p, "Tags")
	require.Len(t, tags, 2)
	require.Equal(t, url.Values{"Key": {"k"}, "Value": {"v"}}, tags[0])
	require.Equal(t, url.Values{"Key": {"k3"}}, tags[1])
	ctx := Members(p, "ContextEntries")
	require.Len(t, ctx, 1)
	require.Equal(t, []string{"x", "y"}, Strings(ctx[0], "ContextKeyValues"))
	require.Empty(t, Members(p, "Missing"))
}

// FuzzMembers: any form decodes to members in index order, each index
// in range, without panicking, and Strings agrees with Members.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{"L.member.1=a&L.member.2=b", "L.member.1.Key=k&L.member.1.Value=v", "L.member.1.X.member.1=y",
		"L.member.=x&L.member.-1=y&L.member.99999999999999999999=z", "L.member.1=a&L.member.1=b", "L.member.1.=e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, form string) {
		p, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		ms := Members(p, "L")
		require.LessOrEqual(t, len(ms), MaxMembers)
		n := 0
		for _, m := range ms {
			if _, ok := m[""]; ok {
				n++
			}
		}
		require.Len(t, Strings(p, "L"), n)
	})
}
