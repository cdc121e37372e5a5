package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
)

// serveForImport runs idlab serve on a data dir and returns the dir and
// the cloud URL it printed.
func serveForImport(t *testing.T) (string, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "idlab-iam-") // short: a socket path has at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	env := &cliEnv{stdout: &out, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, env, []string{"--data-dir", dir, "--https-port", "0"}) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 30*time.Second, 50*time.Millisecond)
	m := regexp.MustCompile(`(?m)^\s+url\s+(https://\S+)$`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	return dir, m[1]
}

var importFiles = []string{"get-role.json", "get-role-policy.json", "list-attached-role-policies.json", "MyPolicy.json", "get-open-id-connect-provider.json"}

func testdata(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join("..", "..", "harness", "iamimport", "testdata", n))
	}
	return out
}

// idlab iam import into an idlab serve run by hand, with its CA and the
// admin credentials it wrote; run twice, the second run updates.
func TestIAMImportIntoServe(t *testing.T) {
	dir, url := serveForImport(t)
	args := append([]string{"iam", "import", "--endpoint", url, "--ca-bundle", filepath.Join(dir, "ca.pem"),
		"--credentials", filepath.Join(dir, "iam", awsiam.AdminCredentialsFile)}, testdata(importFiles...)...)
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(t.Context(), args, &stdout, &stderr), stderr.String())
	require.Equal(t, "created OIDC provider arn:aws:iam::123456789012:oidc-provider/server.example.com\n"+
		"created policy arn:aws:iam::123456789012:policy/MyPolicy\n"+
		"created role arn:aws:iam::123456789012:role/Test-Role\n"+
		"put inline policy ExamplePolicy of role Test-Role in 123456789012\n"+
		"attached arn:aws:iam::123456789012:policy/MyPolicy to role Test-Role\n", stdout.String())
	stdout.Reset()
	require.Equal(t, 0, run(t.Context(), args, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "updated role arn:aws:iam::123456789012:role/Test-Role\n")

	// An account with no admin profile: the error says what to do.
	stderr.Reset()
	other := filepath.Join(t.TempDir(), "other.json")
	require.NoError(t, os.WriteFile(other, []byte(`{"Role": {"Arn": "arn:aws:iam::210987654321:role/x", "AssumeRolePolicyDocument": `+
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}`), 0o600))
	require.Equal(t, 1, run(t.Context(), append(args[:8:8], other), &stdout, &stderr))
	require.Contains(t, stderr.String(), "profile idlab-210987654321")

	stdout.Reset()
	require.Equal(t, 0, run(t.Context(), append([]string{"iam", "import", "--dry-run"}, testdata(importFiles...)...), &stdout, &stderr))
	require.Contains(t, stdout.String(), "attach arn:aws:iam::123456789012:policy/MyPolicy to role Test-Role in 123456789012\n")
	require.Equal(t, 2, run(t.Context(), []string{"iam", "import"}, &stdout, &stderr), "no FILE")
	require.Equal(t, 2, run(t.Context(), []string{"iam", "export"}, &stdout, &stderr))
}

// Into a lab (its state dir): the admin API makes the admin of an account
// the lab did not know, and loads the AWS managed policy the role attaches.
func TestIAMImportIntoLab(t *testing.T) {
	dir, url := serveForImport(t)
	state := t.TempDir()
	raw, err := json.Marshal(map[string]any{"emulatorURL": url, "caFile": filepath.Join(dir, "ca.pem"),
		"adminAddr": "unix:" + filepath.Join(dir, "admin.sock"), "adminSecretFile": filepath.Join(dir, "admin.secret"), "clusters": map[string]any{}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(state, "lab.json"), raw, 0o600))
	role := filepath.Join(t.TempDir(), "role.json")
	require.NoError(t, os.WriteFile(role, []byte(`{"Role": {"Arn": "arn:aws:iam::210987654321:role/team/x", "AssumeRolePolicyDocument": `+
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}`), 0o600))
	version := filepath.Join(t.TempDir(), "SecurityAudit.json")
	require.NoError(t, os.WriteFile(version, []byte(`{"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": `+
		`[{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}, "VersionId": "v1", "IsDefaultVersion": true}}`), 0o600))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(t.Context(), append([]string{"iam", "import", "--state-dir", state, role, version}, testdata("list-attached-aws-managed.json")...),
		&stdout, &stderr), stderr.String())
	require.Equal(t, "loaded AWS managed policy arn:aws:iam::aws:policy/SecurityAudit\n"+
		"created role arn:aws:iam::210987654321:role/team/x\n"+
		"attached arn:aws:iam::aws:policy/SecurityAudit to role x\n", stdout.String())
	creds, err := os.ReadFile(filepath.Join(dir, "iam", awsiam.AdminCredentialsFile))
	require.NoError(t, err)
	require.Contains(t, string(creds), "[idlab-210987654321]", "the new account's admin is in the credentials file too")
}
