package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
)

// minioPeer is MinIO (make bench-peers builds it) run as users run it: a
// process with a data dir on disk, HTTPS on loopback with a certificate of
// a CA of this run, and OpenID STS configured against an issuer this
// process hosts (idlab's OIDC emulator, signing with the lab's key), the
// role's policy named by the token's policy claim (readwrite).
type minioPeer struct {
	proc   *proc
	issuer *oidc.Server
	hc     *http.Client
	sts    *sts.Client
	token  string
}

const (
	minioUser     = "benchadmin"
	minioPassword = "benchadmin-secret-0000"
)

func startMinio(ctx context.Context, o options, dir string, l *lab) (*minioPeer, error) {
	ca, err := certs.NewCA("benchserve minio")
	if err != nil {
		return nil, err
	}
	iss, err := oidc.NewServer(oidc.Options{CA: ca})
	if err != nil {
		return nil, err
	}
	m := &minioPeer{issuer: iss}
	// A path: on a loopback address the emulator finds issuers by path.
	issuerURL := iss.URL() + "/bench"
	issuer, err := iss.Handler().AddIssuer(issuerURL)
	if err == nil {
		_, err = issuer.AddSigner(l.key)
	}
	if err == nil {
		m.token, err = l.mintClaims(issuerURL, map[string]any{"policy": "readwrite"}, 24*time.Hour)
	}
	if err != nil {
		iss.Close()
		return nil, err
	}
	certsDir := filepath.Join(dir, "minio-certs")
	if err := minioCerts(ca, certsDir); err != nil {
		iss.Close()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		iss.Close()
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		iss.Close()
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		iss.Close()
		return nil, err
	}
	cmd := exec.Command(o.minio, "server", filepath.Join(dir, "minio-data"), "--address", "127.0.0.1:"+port,
		"--console-address", "127.0.0.1:"+console, "--certs-dir", certsDir, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off",
		"MINIO_IDENTITY_OPENID_CONFIG_URL="+issuerURL+"/.well-known/openid-configuration",
		"MINIO_IDENTITY_OPENID_CLIENT_ID=sts.amazonaws.com", "MINIO_IDENTITY_OPENID_CLAIM_NAME=policy")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.proc = &proc{cmd: cmd, url: "https://127.0.0.1:" + port, started: time.Now()}
	if err := cmd.Start(); err != nil {
		iss.Close()
		return nil, fmt.Errorf("start %s: %w", o.minio, err)
	}
	m.hc, err = httpClient(filepath.Join(certsDir, "CAs", "bench-ca.crt"))
	if err == nil {
		err = m.waitReady(ctx, 90*time.Second, logFile.Name())
	}
	if err != nil {
		m.stop()
		return nil, err
	}
	m.sts = newSTS(m.hc, m.proc.url)
	return m, nil
}

// minioCerts writes MinIO's certs dir: its certificate for 127.0.0.1 and,
// under CAs, the CA it trusts for the issuer's HTTPS.
func minioCerts(ca *certs.CA, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "CAs"), 0o700); err != nil {
		return err
	}
	leaf, err := ca.Issue("127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"public.crt":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}),
		"private.key":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
		"CAs/bench-ca.crt": ca.PEM,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls MinIO's liveness and then its STS until a call works:
// MinIO answers before its IAM subsystem is up.
func (m *minioPeer) waitReady(ctx context.Context, d time.Duration, logName string) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if m.proc.cmd.ProcessState != nil {
			break
		}
		resp, err := m.hc.Get(m.proc.url + "/minio/health/live")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				_, err = assume(ctx, newSTS(m.hc, m.proc.url), m.token)
				if err == nil {
					m.proc.ready = time.Since(m.proc.started)
					return nil
				}
			} else {
				err = fmt.Errorf("liveness: %s", resp.Status)
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(logName)
	return fmt.Errorf("minio not ready after %s: %v; its log:\n%s", d, last, log)
}

func (m *minioPeer) stop() {
	m.proc.stop()
	m.issuer.Close()
}

// s3Client is an S3 client of the session the token gets, and the bucket
// created with the root user.
func (m *minioPeer) s3Client(ctx context.Context) (*s3.Client, error) {
	root := newS3(m.hc, m.proc.url, credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""))
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return nil, fmt.Errorf("minio CreateBucket: %w", err)
	}
	out, err := assume(ctx, m.sts, m.token)
	if err != nil {
		return nil, fmt.Errorf("minio AssumeRoleWithWebIdentity: %w", err)
	}
	c := out.Credentials
	return newS3(m.hc, m.proc.url, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)), nil
}

// freePort is a loopback TCP port free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
