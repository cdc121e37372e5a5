package awssts_test

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idlab/idlab/emulators/oidc"
)

// BenchmarkAssumeRoleWithWebIdentity measures the full web identity exchange
// over HTTPS on loopback: parse, provider lookup, JWKS (cached), signature,
// trust policy, session. Peer: BenchmarkBareHTTPS, the same server answering
// a request that fails before any token work, so the ratio isolates the cost
// of the exchange from TLS and HTTP.
func BenchmarkAssumeRoleWithWebIdentity(b *testing.B) {
	l := newLab(b)
	tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 86400})
	if err != nil {
		b.Fatal(err)
	}
	body := webIdentityForm(tok, roleAppA).Encode()
	run(b, l, body, http.StatusOK)
}

// BenchmarkBareHTTPS is the peer: same server, same TLS client, a request
// rejected at parameter validation.
func BenchmarkBareHTTPS(b *testing.B) {
	l := newLab(b)
	body := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}}.Encode()
	run(b, l, body, http.StatusBadRequest)
}

func run(b *testing.B, l *lab, body string, want int) {
	client := l.sts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Post(l.sts.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				b.Errorf("status %d, want %d", resp.StatusCode, want)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
