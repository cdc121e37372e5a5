package awssts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

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

// BenchmarkGetCallerIdentity is the second peer: a SigV4-signed call
// (signing in the client, verification and key lookup in the server), the
// work every other AWS emulator does per request.
func BenchmarkGetCallerIdentity(b *testing.B) {
	l := newLab(b)
	akid, secret, token := webIdentitySession(b, l)
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	signer := v4.NewSigner()
	runReq(b, l, func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, l.sts.URL()+"/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := signer.SignHTTP(context.Background(), creds, r, payload, "sts", "us-east-1", time.Now()); err != nil {
			b.Error(err)
		}
		return r
	}, http.StatusOK)
}

// webIdentitySession exchanges a token once and returns the session keys.
func webIdentitySession(b *testing.B, l *lab) (akid, secret, token string) {
	tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}})
	if err != nil {
		b.Fatal(err)
	}
	resp, err := l.sts.Client().Post(l.sts.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader(webIdentityForm(tok, roleAppA).Encode()))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		C struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
		} `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil {
		b.Fatal(err)
	}
	return out.C.AccessKeyID, out.C.SecretAccessKey, out.C.SessionToken
}

func run(b *testing.B, l *lab, body string, want int) {
	runReq(b, l, func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, l.sts.URL()+"/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}, want)
}

func runReq(b *testing.B, l *lab, newReq func() *http.Request, want int) {
	client := l.sts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8) // 8 x GOMAXPROCS concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Do(newReq())
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
