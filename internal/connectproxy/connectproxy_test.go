package connectproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTunnelsEveryHostToTarget(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "host="+r.Host)
	}))
	defer backend.Close()
	p := &Proxy{Target: strings.TrimPrefix(backend.URL, "https://")}
	ps := httptest.NewServer(p)
	defer ps.Close()

	tr := backend.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.InsecureSkipVerify = true // httptest's cert names 127.0.0.1, not the asked host
	proxyURL, err := url.Parse(ps.URL)
	require.NoError(t, err)
	tr.Proxy = http.ProxyURL(proxyURL)
	c := &http.Client{Transport: tr}

	for _, u := range []string{"https://sts.amazonaws.com/", "https://bucket.s3.us-west-2.amazonaws.com:443/k"} {
		resp, err := c.Get(u)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		want, _ := url.Parse(u)
		require.Equal(t, "host="+want.Host, string(b), "the client's Host header reaches the target unchanged")
	}
	require.Equal(t, []string{"sts.amazonaws.com:443", "bucket.s3.us-west-2.amazonaws.com:443"}, p.Hosts())
}

func TestRefusesPlainProxying(t *testing.T) {
	ps := httptest.NewServer(&Proxy{Target: "127.0.0.1:1"})
	defer ps.Close()
	proxyURL, err := url.Parse(ps.URL)
	require.NoError(t, err)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := c.Get("http://example.com/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestUnreachableTargetIsBadGateway(t *testing.T) {
	ps := httptest.NewServer(&Proxy{Target: "127.0.0.1:1"})
	defer ps.Close()
	req, err := http.NewRequest(http.MethodConnect, ps.URL, nil)
	require.NoError(t, err)
	req.Host = "sts.amazonaws.com:443"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
}
