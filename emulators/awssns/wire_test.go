package awssns_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWireShapes checks what the SDK does not show: the XML of errors, the
// namespace, and the admin API.
func TestWireShapes(t *testing.T) {
	l := newLab(t, "")
	post := func(form url.Values) (int, string) {
		resp, err := l.srv.Client().PostForm(l.srv.URL()+"/", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   []string
	}{
		{"unsigned publish", url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {"arn:aws:sns:us-east-1:111111111111:t"}, "Message": {"m"}},
			http.StatusForbidden, []string{`<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>`, `<RequestId>`}},
		{"unknown action", url.Values{"Action": {"Frobnicate"}, "Version": {"2010-03-31"}},
			http.StatusBadRequest, []string{`<Code>InvalidAction</Code>`}},
		{"confirm with unknown topic", url.Values{"Action": {"ConfirmSubscription"}, "TopicArn": {"arn:aws:sns:us-east-1:111111111111:t"}, "Token": {"x"}},
			http.StatusNotFound, []string{`<Code>NotFound</Code><Message>Topic does not exist</Message>`}},
		{"confirm with bad ARN", url.Values{"Action": {"ConfirmSubscription"}, "TopicArn": {"nope"}, "Token": {"x"}},
			http.StatusBadRequest, []string{`<Code>InvalidParameter</Code><Message>Invalid parameter: TopicArn</Message>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.form)
			require.Equal(t, tc.status, status, body)
			for _, w := range tc.want {
				require.Contains(t, body, w)
			}
		})
	}

	_, err := l.srv.Handler().CreateTopic(t.Context(), acctA, "", "seeded", nil)
	require.NoError(t, err)
	// The server's URL is SNS's: the admin paths are a query without an
	// action there.
	for _, path := range []string{"/_idlab/sns/topics", "/_idlab/sns/queues/111111111111/none"} {
		resp, err := l.srv.Client().Get(l.srv.URL() + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, path)
		require.Contains(t, string(b), "<Code>InvalidAction</Code>")
	}
	admin := l.adminURL(t)
	resp, err := http.Get(admin + "/_idlab/sns/topics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var topics []struct {
		ARN    string          `json:"arn"`
		Policy json.RawMessage `json:"policy"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&topics))
	require.Len(t, topics, 1)
	require.Equal(t, "arn:aws:sns:us-east-1:111111111111:seeded", topics[0].ARN)
	require.True(t, strings.Contains(string(topics[0].Policy), "__default_statement_ID"))

	resp2, err := http.Get(admin + "/_idlab/sns/queues/111111111111/none")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	require.Equal(t, "[]\n", string(b))
}
