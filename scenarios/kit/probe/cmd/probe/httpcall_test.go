package main

import (
	"context"
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

func TestHTTPCall(t *testing.T) {
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(t.TempDir(), "data"), Region: "us-west-2"})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	iss, err := c.OIDC.AddIssuer(testIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	addr := strings.TrimPrefix(c.URL(), "https://")
	var d net.Dialer
	toLab := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	client := newHTTPClient(c.CA.Pool(), toLab)

	tests := []struct {
		name string
		args []string
		want probe.Result // ErrorMessage: a part of it
	}{
		{"admin path on sts", []string{"POST", "https://sts.us-west-2.amazonaws.com/_idlab/clock?advance=13h"},
			probe.Result{Output: "400 InvalidAction", ErrorCode: "InvalidAction", ErrorMessage: "Could not find operation", Peer: "127.0.0.1"}},
		{"body sent as a form", []string{"POST", "https://sts.us-west-2.amazonaws.com/", "Action=GetCallerIdentity&Version=2011-06-15"},
			probe.Result{Output: "403 MissingAuthenticationToken", ErrorCode: "MissingAuthenticationToken", ErrorMessage: "<Code>MissingAuthenticationToken</Code>", Peer: "127.0.0.1"}},
		{"bare address: chain checked, name not", []string{"GET", "https://" + addr + "/_idlab/s3/buckets"},
			probe.Result{Output: "404 NoSuchBucket", ErrorCode: "NoSuchBucket", ErrorMessage: "<BucketName>_idlab</BucketName>", Peer: "127.0.0.1"}},
		{"an answer without a code", []string{"GET", "https://login.microsoftonline.com/_idlab/s3/buckets"},
			probe.Result{Output: "404", ErrorMessage: "404 page not found", Peer: "127.0.0.1"}},
		{"allowed", []string{"GET", testIssuer + "/.well-known/openid-configuration"},
			probe.Result{OK: true, Output: "200", ErrorMessage: `"issuer":"` + testIssuer + `"`, Peer: "127.0.0.1"}},
		{"too few arguments", []string{"GET"}, probe.Result{ErrorCode: "UsageError", ErrorMessage: "http METHOD URL [BODY]"}},
		{"too many arguments", []string{"GET", "https://x/", "b", "c"}, probe.Result{ErrorCode: "UsageError", ErrorMessage: "http METHOD URL [BODY]"}},
		{"plain http", []string{"GET", "http://sts.us-west-2.amazonaws.com/"}, probe.Result{ErrorCode: "UsageError", ErrorMessage: "is not an https URL"}},
		{"bad method", []string{"GE T", "https://sts.us-west-2.amazonaws.com/"}, probe.Result{ErrorCode: "UsageError", ErrorMessage: "invalid method"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := doHTTP(t.Context(), client, tc.args)
			require.Contains(t, got.ErrorMessage, tc.want.ErrorMessage)
			got.ErrorMessage = tc.want.ErrorMessage
			require.Equal(t, tc.want, got)
		})
	}

	// A server no root vouches for is refused, by name and by bare address alike.
	for _, u := range []string{"https://sts.us-west-2.amazonaws.com/", "https://" + addr + "/"} {
		got := doHTTP(t.Context(), newHTTPClient(x509.NewCertPool(), toLab), []string{"GET", u})
		require.Equal(t, "ClientError", got.ErrorCode, u)
		require.Contains(t, got.ErrorMessage, "certificate signed by unknown authority", u)
	}
	// Nothing answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	got := doHTTP(t.Context(), newHTTPClient(x509.NewCertPool(), nil), []string{"GET", "https://" + closed + "/"})
	require.Equal(t, "ClientError", got.ErrorCode)
	require.Contains(t, got.ErrorMessage, "connection refused")
}
