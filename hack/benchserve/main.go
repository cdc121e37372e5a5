// Command benchserve measures `idlab serve` as users run it, a process with
// a data dir on disk, against real peers in the same run, and prints
// ratios (make bench):
//
//   - S3 PutObject and GetObject of 4 KiB at c=1 and c=16, against
//     gofakes3 on its default store (s3mem) in a process of its own, each
//     driven by its own aws-sdk-go-v2 client; rounds interleaved.
//   - STS AssumeRoleWithWebIdentity by sessions already issued (the
//     sessions-growth curve): req/s and RSS at each checkpoint, and their
//     ratio to the first, which is flat when a call's cost does not depend
//     on how many sessions exist.
//   - STS at c=1 and c=16 (no peer here yet: MinIO, issue 13).
//   - idlab serve's idle RSS and the time from exec to its first answer.
//
// Absolute numbers depend on the machine; the ratios are the claim.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/internal/certs"
)

const (
	account   = "111111111111"
	issuerURL = "https://oidc.eks.us-east-1.amazonaws.com/id/BENCH0000000000000000000000000000"
	roleName  = "bench"
	bucket    = "bench"
	subject   = "system:serviceaccount:bench:app"
)

type options struct {
	idlab    string
	short    bool
	duration time.Duration
	rounds   int
	curve    []int
	peer     string
	caFile   string
	profile  string
	minio    string
}

func main() {
	var o options
	var curve string
	flag.StringVar(&o.idlab, "idlab", "bin/idlab", "the idlab binary to measure")
	flag.BoolVar(&o.short, "short", false, "short mode (make bench BENCHTIME=1x): short windows, a shorter sessions curve")
	flag.StringVar(&curve, "curve", "", "sessions-growth checkpoints, comma-separated (default 1000,10000,100000; short 1000,10000,30000)")
	flag.StringVar(&o.minio, "minio", "", "a MinIO binary to measure too: S3 and STS AssumeRoleWithWebIdentity (make bench-peers)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of idlab serve under each c=16 load to this directory (serve --pprof-listen)")
	flag.StringVar(&o.peer, "peer", "", "internal: serve this peer (gofakes3) and print its URL")
	flag.StringVar(&o.caFile, "ca-file", "", "internal: where the peer writes its CA")
	flag.Parse()
	if o.peer != "" {
		if err := servePeer(o.peer, o.caFile); err != nil {
			fmt.Fprintln(os.Stderr, "benchserve peer:", err)
			os.Exit(1)
		}
		return
	}
	o.duration, o.rounds, o.curve = 2*time.Second, 5, []int{1000, 10000, 100000}
	if o.short {
		o.duration, o.rounds, o.curve = 400*time.Millisecond, 3, []int{1000, 10000, 30000}
	}
	if curve != "" {
		o.curve = nil
		for _, s := range strings.Split(curve, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "benchserve: -curve %q: want positive numbers\n", curve)
				os.Exit(2)
			}
			o.curve = append(o.curve, n)
		}
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

// servePeer runs gofakes3 on its default in-memory store over HTTPS with a
// CA of its own, and prints its URL; it stops when stdin closes.
func servePeer(name, caFile string) error {
	if name != "gofakes3" {
		return fmt.Errorf("unknown peer %q", name)
	}
	ca, err := certs.NewCA("benchserve peer")
	if err != nil {
		return err
	}
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		return err
	}
	srv, err := ca.StartServer(gofakes3.New(s3mem.New()).Server())
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("ready", srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// proc is a server process under measurement.
type proc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	url     string
	started time.Time
	ready   time.Duration // exec to the ready line
}

// start runs cmd and waits for a stdout line for which url returns a URL.
func start(cmd *exec.Cmd, url func(line string) string) (*proc, error) {
	p := &proc{cmd: cmd}
	// A benchserve killed before its deferred stops still takes its
	// servers down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	sc := bufio.NewScanner(out)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if u := url(sc.Text()); u != "" {
			p.url, p.ready = u, time.Since(p.started)
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return p, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("%s exited before it was ready; it printed %q", cmd.Path, seen)
}

func (p *proc) stop() {
	if p.stdin != nil {
		_ = p.stdin.Close()
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpu is the CPU time the process has used, user and system (Linux).
func (p *proc) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: state is the
	// first, utime and stime the 12th and 13th (clock ticks, 100 a second).
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rss is the process's resident set in bytes (Linux).
func (p *proc) rss() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// httpClient is a keep-alive HTTP/1.1 client trusting the CA in caFile,
// the same for every server measured.
func httpClient(caFile string) (*http.Client, error) {
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}}, nil
}

// lab is the fixture, issuer key and token of one idlab serve run.
type lab struct {
	dir   string
	key   *rsa.PrivateKey
	token string
}

func newLab(dir string) (*lab, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	l := &lab{dir: dir, key: key}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"sa.pub":       string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		"issuers.yaml": "issuers:\n  - url: " + issuerURL + "\n    publicKeyFiles: [sa.pub]\n",
		"aws.yaml":     awsFixture(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	l.token, err = l.mint(24 * time.Hour)
	return l, err
}

func awsFixture() string {
	host := strings.TrimPrefix(issuerURL, "https://")
	return `accounts:
  - id: "` + account + `"
    oidcProviders:
      - url: ` + issuerURL + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: ` + roleName + `
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::` + account + `:oidc-provider/` + host + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals:
                  "` + host + `:sub": ` + subject + `
                  "` + host + `:aud": sts.amazonaws.com
        inlinePolicies:
          bucket:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [s3:GetObject, s3:PutObject, s3:ListBucket]
                Resource: [arn:aws:s3:::` + bucket + `, arn:aws:s3:::` + bucket + `/*]
    buckets:
      - name: ` + bucket + `
`
}

// mint signs a service-account token as the cluster would (RS256).
func (l *lab) mint(ttl time.Duration) (string, error) {
	return l.mintClaims(issuerURL, nil, ttl)
}

// mintClaims signs a token of issuer iss for the bench's subject and
// audience, with extra claims.
func (l *lab) mintClaims(iss string, extra map[string]any, ttl time.Duration) (string, error) {
	kid, err := oidc.KeyID(&l.key.PublicKey)
	if err != nil {
		return "", err
	}
	now := time.Now()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{"iss": iss, "sub": subject, "aud": []string{"sts.amazonaws.com"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	signing := enc(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, l.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "idlab-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := newLab(dir)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	serveLog, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer serveLog.Close()
	args := []string{"serve", "--data-dir", data, "--https-port", "0",
		"--fixtures", filepath.Join(dir, "aws.yaml"), "--issuers", filepath.Join(dir, "issuers.yaml")}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		args = append(args, "--pprof-listen", "127.0.0.1:0")
	}
	cmd := exec.Command(o.idlab, args...)
	cmd.Stderr = serveLog
	var url string
	idlab, err := start(cmd, func(line string) string {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "url"); ok {
			url = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "pprof"); ok {
			pprofURL = strings.TrimSpace(v)
		}
		if o.profile != "" && pprofURL == "" {
			return ""
		}
		return url
	})
	if err != nil {
		return err
	}
	defer idlab.stop()
	hc, err := httpClient(filepath.Join(data, certs.CertFile))
	if err != nil {
		return err
	}
	stsClient := newSTS(hc, idlab.url)
	first := retryUntil(ctx, 5*time.Second, func() error { _, err := assume(ctx, stsClient, l.token); return err })
	if first.err != nil {
		return fmt.Errorf("first AssumeRoleWithWebIdentity: %w", first.err)
	}
	firstAt := first.at.Sub(idlab.started)
	idle := idlab.rss()
	fmt.Printf("idlab serve: data dir on disk (%s), no --fsync, no --log-decisions; ready line %.0f ms after exec, first STS answer %.0f ms after exec; RSS after it %.1f MiB\n",
		fsType(data), ms(idlab.ready), ms(firstAt), mib(idle))

	peer, err := startPeer(o, dir)
	if err != nil {
		return err
	}
	defer peer.stop()
	phc, err := httpClient(filepath.Join(dir, "peer-ca.pem"))
	if err != nil {
		return err
	}
	gofakes3 := newS3(phc, peer.url, credentials.NewStaticCredentialsProvider("AKIDPEER", "peer-secret", ""))
	if _, err := gofakes3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("gofakes3 CreateBucket: %w", err)
	}
	peers := []target{{"gofakes3", gofakes3, peer}}
	var minio *minioPeer
	if o.minio != "" {
		if minio, err = startMinio(ctx, o, dir, l); err != nil {
			return err
		}
		defer minio.stop()
		fmt.Printf("minio: %s, data dir on disk, HTTPS, OpenID STS; ready (STS answering) %.0f ms after exec; RSS %.1f MiB\n",
			o.minio, ms(minio.proc.ready), mib(minio.proc.rss()))
		mc, err := minio.s3Client(ctx)
		if err != nil {
			return err
		}
		peers = append(peers, target{"minio", mc, minio.proc})
	}
	if err := benchS3(ctx, o, l, hc, stsClient, idlab, peers); err != nil {
		return err
	}
	firstRSS, err := benchCurve(ctx, o, l, stsClient, idlab)
	if err != nil {
		return err
	}
	if err := benchExpiry(ctx, o, l, stsClient, idlab, data, idle, firstRSS); err != nil {
		return err
	}
	if err := benchSTS(ctx, o, l, stsClient, minio); err != nil {
		return err
	}
	fmt.Printf("\nclient retries (net.ErrClosed on loopback, aws/aws-sdk-go-v2#2737): %d of %d requests sent\n", retried.Load(), sent.Load())
	return nil
}

func startPeer(o options, dir string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return start(exec.Command(self, "-peer", "gofakes3", "-ca-file", filepath.Join(dir, "peer-ca.pem")), func(line string) string {
		u, _ := strings.CutPrefix(line, "ready ")
		if u == line {
			return ""
		}
		return u
	})
}

type attempt struct {
	at  time.Time
	err error
}

// retryUntil calls f until it succeeds or d passes.
func retryUntil(ctx context.Context, d time.Duration, f func() error) attempt {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return attempt{at: time.Now(), err: err}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pprofURL is idlab serve's profile endpoint with -profile.
var pprofURL string

// profiled runs f while idlab serve's CPU is profiled for d, and writes
// the profile to dir/name.pprof; without -profile it only runs f.
func profiled(o options, name string, d time.Duration, f func() error) error {
	if o.profile == "" || pprofURL == "" {
		return f()
	}
	secs := max(1, int((d+time.Second-1)/time.Second))
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%sprofile?seconds=%d", pprofURL, secs))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("profile: %s: %s", resp.Status, b)
		}
		done <- result{b, err}
	}()
	ferr := f()
	r := <-done
	if r.err != nil {
		return errors.Join(ferr, r.err)
	}
	return errors.Join(ferr, os.WriteFile(filepath.Join(o.profile, name+".pprof"), r.body, 0o644))
}

// saveHeap writes idlab serve's heap profile (after a GC) to the -profile
// directory as name.pprof; without -profile it does nothing.
func saveHeap(o options, name string) error {
	if o.profile == "" || pprofURL == "" {
		return nil
	}
	resp, err := http.Get(pprofURL + "heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("heap profile: %s: %s", resp.Status, b)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.profile, name+".pprof"), b, 0o644)
}

// sent counts the HTTP requests the clients sent, retries included;
// retried those beyond one a timed call.
var sent, retried atomic.Int64

// countingClient counts what it sends.
type countingClient struct{ *http.Client }

func (c countingClient) Do(r *http.Request) (*http.Response, error) {
	sent.Add(1)
	return c.Client.Do(r)
}

// retryer is the SDK's standard retryer (what users have) without its
// backoff sleep and retry quota: net/http's client may fail a call whose
// response arrived with net.ErrClosed when the server answered before the
// transport's write loop reported done (aws/aws-sdk-go-v2#2737), which a
// loaded machine makes frequent; the SDK retries it, and a sleep of up to a
// second would measure the client's backoff rather than the server. The
// retries are counted and printed.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10 // under load the race can hit one call several times
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	})
}

// newSTS and newS3 make clients as users have them.
func newSTS(hc *http.Client, url string) *sts.Client {
	return sts.New(sts.Options{Region: "us-east-1", HTTPClient: countingClient{hc}, BaseEndpoint: aws.String(url), Retryer: retryer()})
}

func assume(ctx context.Context, c *sts.Client, token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return c.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/" + roleName), RoleSessionName: aws.String("bench"),
		WebIdentityToken: aws.String(token)})
}

func newS3(hc *http.Client, url string, creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", HTTPClient: countingClient{hc}, BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: creds, Retryer: retryer()})
}

// load runs op from c goroutines for d and returns the requests per
// second and the median latency; the first error stops it.
func load(ctx context.Context, c int, d time.Duration, op func(ctx context.Context, n int64) error) (float64, time.Duration, error) {
	return loadN(ctx, c, d, 0, op)
}

// loadN is load that also stops after n calls (n > 0).
func loadN(ctx context.Context, c int, d time.Duration, n int64, op func(ctx context.Context, n int64) error) (float64, time.Duration, error) {
	var count atomic.Int64
	var firstErr atomic.Pointer[error]
	sent0 := sent.Load()
	lats := make([][]time.Duration, c)
	deadline := time.Now().Add(d)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for (d == 0 || time.Now().Before(deadline)) && firstErr.Load() == nil {
				k := count.Add(1)
				if n > 0 && k > n {
					return
				}
				s := time.Now()
				if err := op(ctx, k); err != nil {
					err = fmt.Errorf("call %d of the run (%s in): %w", k, time.Since(t0).Round(time.Millisecond), err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				lats[w] = append(lats[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if p := firstErr.Load(); p != nil {
		return 0, 0, *p
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return 0, 0, errors.New("no request completed")
	}
	retried.Add(sent.Load() - sent0 - int64(len(all)))
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	return float64(len(all)) / elapsed.Seconds(), all[len(all)/2], nil
}

// target is an S3 server under measurement and its client.
type target struct {
	name   string
	client *s3.Client
	proc   *proc
}

func benchS3(ctx context.Context, o options, l *lab, hc *http.Client, stsClient *sts.Client, idlab *proc, peers []target) error {
	out, err := assume(ctx, stsClient, l.token)
	if err != nil {
		return err
	}
	c := out.Credentials
	ours := newS3(hc, idlab.url, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	all := append([]target{{"idlab", ours, idlab}}, peers...)
	data := bytes.Repeat([]byte("idlab-s3-bench.."), 4<<10/16)
	const keys = 256
	put := func(cl *s3.Client) func(context.Context, int64) error {
		return func(ctx context.Context, n int64) error {
			_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("k/%d", n%keys)), Body: bytes.NewReader(data)})
			return err
		}
	}
	get := func(cl *s3.Client) func(context.Context, int64) error {
		return func(ctx context.Context, n int64) error {
			out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("k/%d", n%keys))})
			if err != nil {
				return err
			}
			got, err := io.Copy(io.Discard, out.Body)
			_ = out.Body.Close()
			if err == nil && got != int64(len(data)) {
				err = fmt.Errorf("read %d of %d bytes", got, len(data))
			}
			return err
		}
	}
	// Every store holds every key before anything is timed.
	for _, t := range all {
		if _, _, err := loadN(ctx, 8, 0, keys, put(t.client)); err != nil {
			return fmt.Errorf("seed objects on %s: %w", t.name, err)
		}
	}
	fmt.Printf("\nS3 4 KiB objects, aws-sdk-go-v2 keep-alive clients, %d interleaved round(s) of %s each (req/s: the mean of the rounds; ratio: the median of the rounds' ratios); idlab authenticates (SigV4 + IAM) and writes to disk; gofakes3 does neither (memory store)", o.rounds, o.duration)
	if len(peers) > 1 {
		fmt.Printf("; minio authenticates its STS session and writes to disk")
	}
	fmt.Printf(":\n  %-16s %12s", "op", "idlab req/s")
	for _, p := range peers {
		fmt.Printf(" %12s %8s", p.name, "ratio")
	}
	fmt.Printf(" %10s", "idlab p50")
	for _, p := range peers {
		fmt.Printf(" %10s", p.name+" p50")
	}
	// A server's CPU per call is what the machine's load cannot skew as it
	// skews req/s when the servers, the client and others share the cores.
	fmt.Printf(" %11s", "idlab CPU")
	for _, p := range peers {
		fmt.Printf(" %11s", p.name+" CPU")
	}
	fmt.Println()
	for _, op := range []string{"PutObject", "GetObject"} {
		for _, conc := range []int{1, 16} {
			sum := make([]float64, len(all))
			p50 := make([]time.Duration, len(all))
			cpu := make([]time.Duration, len(all))
			calls := make([]float64, len(all))
			ratios := make([][]float64, len(peers)) // per round, idlab's rate over each peer's
			for range o.rounds {
				round := make([]float64, len(all))
				for k, t := range all {
					f := put(t.client)
					if op == "GetObject" {
						f = get(t.client)
					}
					var rps float64
					var med time.Duration
					cpu0 := t.proc.cpu()
					run := func() (err error) { rps, med, err = load(ctx, conc, o.duration, f); return err }
					if k == 0 && conc == 16 {
						err = profiled(o, fmt.Sprintf("idlab-%s-c%d", op, conc), o.duration, run)
					} else {
						err = run()
					}
					if err != nil {
						return fmt.Errorf("%s c=%d on %s: %w", op, conc, t.name, err)
					}
					sum[k] += rps
					p50[k] = med
					cpu[k] += t.proc.cpu() - cpu0
					calls[k] += rps * o.duration.Seconds()
					round[k] = rps
				}
				for k := range peers {
					ratios[k] = append(ratios[k], round[0]/round[k+1])
				}
			}
			ours := sum[0] / float64(o.rounds)
			fmt.Printf("  %-16s %12.0f", fmt.Sprintf("%s c=%d", op, conc), ours)
			for k := range peers {
				theirs := sum[k+1] / float64(o.rounds)
				fmt.Printf(" %12.0f %7.2fx", theirs, median(ratios[k]))
			}
			for k := range all {
				fmt.Printf(" %7.2f ms", ms(p50[k]))
			}
			for k := range all {
				fmt.Printf(" %6.0f µs/op", float64(cpu[k].Microseconds())/calls[k])
			}
			fmt.Println()
		}
	}
	return nil
}

// benchCurve issues sessions at c=16 up to each checkpoint, then
// measures the rate over the next window of calls, with the RSS after it.
// RSS growth per session is counted from the second checkpoint on: up to
// the first ones the decision log (DefaultMax entries) is still filling.
func benchCurve(ctx context.Context, o options, l *lab, stsClient *sts.Client, idlab *proc) (firstRSS int64, err error) {
	window := int64(3000)
	if o.short {
		window = 2000
	}
	const parts = 5
	fmt.Printf("\nSTS AssumeRoleWithWebIdentity (aws-sdk-go-v2, c=16) after N sessions issued, each row the next %d calls in %d windows, their median rate and p50:\n", window, parts)
	fmt.Printf("  %-10s %10s %10s %10s %10s %10s\n", "sessions", "req/s", "p50 ms", "RSS MiB", "vs first", "p50 vs")
	issued := int64(2) // the first call and the S3 setup's
	var firstRate float64
	var firstP50 time.Duration
	var prevRSS, prevN int64
	op := func(ctx context.Context, _ int64) error { _, err := assume(ctx, stsClient, l.token); return err }
	for k, n := range o.curve {
		if pre := int64(n) - issued; pre > 0 {
			if _, _, err := loadN(ctx, 16, 0, pre, op); err != nil {
				return 0, err
			}
			issued += pre
		}
		var rates []float64
		var p50s []time.Duration
		err := profiled(o, fmt.Sprintf("idlab-curve-%d", n), time.Second, func() error {
			for range parts {
				rps, med, err := loadN(ctx, 16, 0, window/parts, op)
				if err != nil {
					return err
				}
				rates, p50s = append(rates, rps), append(p50s, med)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		rps, med := median(rates), median(p50s)
		issued += window
		rss := idlab.rss()
		if firstRate == 0 {
			firstRate, firstP50, firstRSS = rps, med, rss
		}
		growth := ""
		if k >= 2 {
			growth = fmt.Sprintf("  RSS +%.2f KiB per session since %d", float64(rss-prevRSS)/1024/float64(issued-prevN), prevN)
		}
		fmt.Printf("  %-10d %10.0f %10.2f %10.1f %9.2fx %9.2fx%s\n", n, rps, ms(med), mib(rss), rps/firstRate, float64(med)/float64(firstP50), growth)
		if k >= 1 {
			prevRSS, prevN = rss, issued
		}
	}
	return firstRSS, nil
}

// benchExpiry lets every session issued so far expire (the lab clock
// moved 3 h on through the admin API: past the sessions' hour and the
// hour IAM keeps expired ones), issues a few more sessions, which purges
// the expired ones, and reports the RSS as it settles: it comes back down
// when a session costs nothing once it is gone.
func benchExpiry(ctx context.Context, o options, l *lab, stsClient *sts.Client, idlab *proc, data string, idle, firstRSS int64) error {
	secret, err := cloud.ReadAdminSecret(filepath.Join(data, "admin.secret"))
	if err != nil {
		return err
	}
	admin, base, err := cloud.NewAdminClient("unix:"+filepath.Join(data, "admin.sock"), secret)
	if err != nil {
		return err
	}
	peak := idlab.rss()
	resp, err := admin.Post(base+"/_idlab/clock?advance=3h", "", nil)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("advance the lab clock: %s", resp.Status)
	}
	op := func(ctx context.Context, _ int64) error { _, err := assume(ctx, stsClient, l.token); return err }
	if _, _, err := loadN(ctx, 16, 0, 2000, op); err != nil {
		return err
	}
	low := idlab.rss()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		low = min(low, idlab.rss())
	}
	if err := saveHeap(o, "idlab-heap-after-expiry"); err != nil {
		return err
	}
	fmt.Printf("\nSessions expired (lab clock +3h through the admin API, then 2000 more sessions, which purge the expired ones): RSS %.1f MiB (idle after start %.1f MiB, at the first checkpoint %.1f MiB, before expiry %.1f MiB): %.0f%% of the growth since the first checkpoint given back\n",
		mib(low), mib(idle), mib(firstRSS), mib(peak), 100*float64(peak-low)/float64(max(1, peak-firstRSS)))
	return nil
}

// benchSTS measures AssumeRoleWithWebIdentity at c=1 and c=16, and
// MinIO's in interleaved rounds when it runs.
func benchSTS(ctx context.Context, o options, l *lab, stsClient *sts.Client, minio *minioPeer) error {
	type side struct {
		name   string
		client *sts.Client
		token  string
	}
	sides := []side{{"idlab", stsClient, l.token}}
	if minio != nil {
		sides = append(sides, side{"minio", minio.sts, minio.token})
		fmt.Printf("\nSTS AssumeRoleWithWebIdentity (RS256 token verified, session issued), %d interleaved round(s) of %s each, idlab vs MinIO:\n", o.rounds, o.duration)
	} else {
		fmt.Printf("\nSTS AssumeRoleWithWebIdentity, %d round(s) of %s (make bench-peers adds MinIO):\n", o.rounds, o.duration)
	}
	for _, conc := range []int{1, 16} {
		sum := make([]float64, len(sides))
		p50 := make([]time.Duration, len(sides))
		var ratios []float64
		for range o.rounds {
			round := make([]float64, len(sides))
			for k, sd := range sides {
				op := func(ctx context.Context, _ int64) error { _, err := assume(ctx, sd.client, sd.token); return err }
				var rps float64
				var med time.Duration
				run := func() (err error) { rps, med, err = load(ctx, conc, o.duration, op); return err }
				var err error
				if k == 0 {
					err = profiled(o, fmt.Sprintf("idlab-STS-c%d", conc), o.duration, run)
				} else {
					err = run()
				}
				if err != nil {
					return fmt.Errorf("STS c=%d on %s: %w", conc, sd.name, err)
				}
				sum[k] += rps
				p50[k] = med
				round[k] = rps
			}
			if len(sides) > 1 {
				ratios = append(ratios, round[0]/round[1])
			}
		}
		ours := sum[0] / float64(o.rounds)
		fmt.Printf("  c=%-3d idlab %8.0f req/s  p50 %.2f ms", conc, ours, ms(p50[0]))
		if len(sides) > 1 {
			theirs := sum[1] / float64(o.rounds)
			fmt.Printf("   minio %8.0f req/s  p50 %.2f ms   ratio %.2fx (median of rounds)", theirs, ms(p50[1]), median(ratios))
		}
		fmt.Println()
	}
	return nil
}

func fsType(path string) string {
	raw, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "unknown file system"
	}
	best, typ := "", "unknown file system"
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(path, f[1]) && len(f[1]) > len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ + " at " + best
}

// median is the middle of vs (the upper one of an even count).
func median[T int64 | float64 | time.Duration](vs []T) T {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }
