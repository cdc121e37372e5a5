//go:build e2e

package idlab

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
)

// TestMain builds the emulator image as `make image` does, from this
// checkout's cmd/idlab, and tags it DefaultImage for the tests and the
// example. No registry is reachable where the lab runs: testcontainers'
// reaper image (Ryuk) cannot be pulled, so it is off and every test
// terminates its own container.
func TestMain(m *testing.M) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	if err := buildTestImage(); err != nil {
		fmt.Fprintln(os.Stderr, "testcontainers/idlab:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// buildTestImage builds a static idlab and DefaultImage from it.
func buildTestImage() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "idlab-tc-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "idlab")
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-o", bin, "github.com/idlab/idlab/cmd/idlab")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build idlab: %w: %s", err, out)
	}
	var log bytes.Buffer
	if err := BuildImage(ctx, bin, DefaultImage, &log); err != nil {
		return fmt.Errorf("%w\n%s", err, log.Bytes())
	}
	return nil
}

// TestRun starts the emulator container with fixtures and an issuer,
// checks it publishes its port on loopback only and runs as the caller,
// drives it with aws-sdk-go-v2 (STS web identity, S3, two denies checked
// from the SDK and the decision log), and tears it down.
func TestRun(t *testing.T) {
	ctx := context.Background()
	c, err := Run(ctx, DefaultImage, WithAWSFixtures("testdata/aws.yaml"), WithIssuers(testIssuer))
	testcontainers.CleanupContainer(t, c)
	require.NoError(t, err)

	insp, err := c.Inspect(ctx)
	require.NoError(t, err)
	bindings := insp.NetworkSettings.Ports[network.MustParsePort(cloudPort)]
	require.NotEmpty(t, bindings)
	for _, b := range bindings {
		require.Equal(t, "127.0.0.1", b.HostIP.String(), "published on loopback only")
	}
	require.Equal(t, strconv.Itoa(os.Getuid())+":"+strconv.Itoa(os.Getgid()), insp.Config.User)
	nets := []string{}
	for name := range insp.NetworkSettings.Networks {
		nets = append(nets, name)
	}
	require.Equal(t, []string{c.network.Name}, nets, "on a network of its own only")

	checkAWS(t, c)

	dir := c.dir
	require.NoError(t, c.Terminate(ctx))
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "Terminate removes the mounted directory")
	_, err = c.State(ctx)
	require.Error(t, err, "the container is gone")
	p, err := testcontainers.NewDockerProvider()
	require.NoError(t, err)
	defer p.Close()
	_, err = p.GetNetwork(ctx, testcontainers.NetworkRequest{Name: c.network.Name})
	require.Error(t, err, "its network is gone")
}

// TestRunFailsOnBadFixtures: an emulator that cannot start (fixtures it
// refuses) makes Run fail with the container's exit, not a timeout.
func TestRunFailsOnBadFixtures(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("accounts: [{id: nope}]\n"), 0o644))
	ctx := context.Background()
	start := time.Now()
	c, err := Run(ctx, DefaultImage, WithAWSFixtures(bad))
	testcontainers.CleanupContainer(t, c)
	require.ErrorContains(t, err, "before it was healthy")
	require.Less(t, time.Since(start), 50*time.Second)
}
