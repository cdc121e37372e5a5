package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunServers(t *testing.T) {
	t.Run("serves until ctx ends, then shuts all down", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var servers []server
		var urls []string
		for range 2 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })}
			servers = append(servers, server{srv, func() error { return srv.Serve(ln) }})
			urls = append(urls, "http://"+ln.Addr().String())
		}
		done := make(chan error, 1)
		go func() { done <- runServers(ctx, servers...) }()
		for _, u := range urls {
			resp, err := http.Get(u)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusTeapot, resp.StatusCode)
		}
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("runServers did not return after ctx ended")
		}
		for _, u := range urls {
			_, err := http.Get(u)
			require.Error(t, err, "shut down")
		}
	})
	t.Run("a server that stops ends the run with its error", func(t *testing.T) {
		boom := errors.New("listen: address in use")
		err := runServers(t.Context(), server{&http.Server{}, func() error { return boom }})
		require.ErrorIs(t, err, boom)
	})
}

func TestWebhookFlags(t *testing.T) {
	env := &cliEnv{stderr: io.Discard}
	fs, addr, dir := webhookFlags(env, "x-webhook", 9443, "/certs")
	require.NoError(t, parseFlags(fs, nil))
	require.Equal(t, ":9443", *addr)
	require.Equal(t, "/certs", *dir)

	fs, addr, dir = webhookFlags(env, "x-webhook", 9443, "/certs")
	require.NoError(t, parseFlags(fs, []string{"--addr=:1", "--cert-dir=/d"}))
	require.Equal(t, ":1", *addr)
	require.Equal(t, "/d", *dir)

	fs, _, _ = webhookFlags(env, "x-webhook", 9443, "/certs")
	require.ErrorIs(t, parseFlags(fs, []string{"extra"}), errUsage)
	fs, _, _ = webhookFlags(env, "x-webhook", 9443, "/certs")
	require.Error(t, parseFlags(fs, []string{"--nope"}))
}
