package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIMDSToken(t *testing.T) {
	// header.claims.signature, claims {"aud":"https://storage.azure.com","appid":"c","tid":"t"}
	const jwt = "e30.eyJhdWQiOiJodHRwczovL3N0b3JhZ2UuYXp1cmUuY29tIiwiYXBwaWQiOiJjIiwidGlkIjoidCJ9.sig"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("api-version") != "2018-02-01" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Query().Get("client_id") {
		case "":
			http.Error(w, "getting assigned identities for pod ns/p in CREATED state failed after 8 attempts", http.StatusNotFound)
		default:
			_, _ = w.Write([]byte(`{"access_token":"` + jwt + `","expires_in":"86399"}`))
		}
	}))
	defer srv.Close()
	old := imdsBase
	imdsBase = srv.URL
	defer func() { imdsBase = old }()

	res := imdsToken(context.Background(), []string{"https://storage.azure.com/"})
	require.False(t, res.OK)
	require.Equal(t, "404", res.Output)
	require.Equal(t, "404", res.ErrorCode)
	require.Equal(t, "getting assigned identities for pod ns/p in CREATED state failed after 8 attempts\n", res.ErrorMessage)

	res = imdsToken(context.Background(), []string{"https://storage.azure.com/", "c"})
	require.True(t, res.OK, res.ErrorMessage)
	require.Equal(t, "200 aud=https://storage.azure.com appid=c tid=t", res.Output)

	require.Equal(t, "ClientError", imdsTokenResult(200, []byte(`{}`)).ErrorCode)
	require.Equal(t, "UsageError", imdsToken(context.Background(), nil).ErrorCode)
}
