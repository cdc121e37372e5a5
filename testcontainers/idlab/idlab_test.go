package idlab

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/idlab/idlab/harness/cloud"
)

// startLikeContainer runs the composed cloud in process laid out as Run
// lays out the container (data and CA under DIR/serve, the admin API on
// DIR/admin.sock behind the secret Run writes) and returns the Container
// Run would return for it: every method but the Docker ones works on it.
func startLikeContainer(t *testing.T, s settings) *Container {
	t.Helper()
	dir, err := os.MkdirTemp("", "idlab-tc-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &Container{dir: dir, region: s.region}
	c.secret, err = createSecret(filepath.Join(dir, adminSecret))
	require.NoError(t, err)
	// The emulator's own reader accepts the secret file Run writes.
	read, err := cloud.ReadAdminSecret(filepath.Join(dir, adminSecret))
	require.NoError(t, err)
	require.Equal(t, c.secret, read)
	cl, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "serve"), Listen: "127.0.0.1", Region: s.region,
		FixturesDir: s.fixtures["aws"], AdminListen: "unix:" + filepath.Join(dir, adminSocket), AdminSecret: read})
	require.NoError(t, err)
	require.NoError(t, cl.Start())
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	c.url = cl.URL()
	c.caPEM, err = readCA(c.CAFile())
	require.NoError(t, err)
	for _, u := range s.issuers {
		require.NoError(t, c.AddIssuer(context.Background(), u))
	}
	return c
}

// TestAgainstServe runs the container test's AWS scenario against the
// composed cloud in process, so the module's clients (admin API, token
// files, SDK configs) are checked without Docker.
func TestAgainstServe(t *testing.T) {
	s := settings{fixtures: map[string]string{"aws": "testdata/aws.yaml"}, issuers: []string{testIssuer}, region: DefaultRegion}
	checkAWS(t, startLikeContainer(t, s))
}

func TestAdminRefusesAnotherSecret(t *testing.T) {
	c := startLikeContainer(t, settings{region: DefaultRegion})
	other := *c
	other.secret = "00" + c.secret[2:]
	if other.secret == c.secret {
		other.secret = "11" + c.secret[2:]
	}
	err := other.Ready(context.Background())
	require.ErrorIs(t, err, ErrAdmin)
	require.ErrorContains(t, err, "HTTP 401")
}

// TestServeArgs: the command line Run gives the container is one `idlab
// serve` accepts, with the values the mounts and the published port need.
func TestServeArgs(t *testing.T) {
	tests := []struct {
		name     string
		s        settings
		fixtures map[string]string // serve flag -> path in the container
	}{
		{name: "no fixtures", s: settings{region: "us-west-2"}},
		{name: "every cloud", s: settings{region: "eu-west-1", fixtures: map[string]string{"aws": "/a", "gcp": "/g", "eks": "/e", "azure": "/z"}},
			fixtures: map[string]string{"fixtures": "/fixtures/aws", "gcp-fixtures": "/fixtures/gcp", "eks-fixtures": "/fixtures/eks", "azure-fixtures": "/fixtures/azure"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := serveArgs(tc.s)
			require.Equal(t, "serve", args[0])
			sc := cloud.DefaultServeConfig()
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			sc.Bind(fs)
			require.NoError(t, fs.Parse(args[1:]))
			require.Empty(t, fs.Args())
			require.Equal(t, "0.0.0.0", sc.Listen, "Docker publishes the port on 127.0.0.1; in the container serve listens on its own addresses")
			require.Equal(t, strconv.Itoa(int(network.MustParsePort(cloudPort).Num())), strconv.Itoa(sc.HTTPSPort))
			require.Equal(t, "/data/serve", sc.DataDir)
			require.Equal(t, "unix:/data/admin.sock", sc.AdminListen)
			require.Equal(t, "/data/admin.secret", sc.AdminSecretFile)
			require.Equal(t, tc.s.region, sc.Region)
			require.True(t, sc.LogDecisions)
			got := map[string]string{}
			for flagName, v := range map[string]string{"fixtures": sc.Fixtures, "gcp-fixtures": sc.GCPFixtures, "eks-fixtures": sc.EKSFixtures, "azure-fixtures": sc.AzureFixtures} {
				if v != "" {
					got[flagName] = v
				}
			}
			if tc.fixtures == nil {
				tc.fixtures = map[string]string{}
			}
			require.Equal(t, tc.fixtures, got)
		})
	}
}

// request applies the module's defaults, then opts, as Run does, and
// returns the request with the Docker configs its modifiers produce.
func request(t *testing.T, s settings, dir string, nw *testcontainers.DockerNetwork, opts ...testcontainers.ContainerCustomizer) (testcontainers.GenericContainerRequest, *container.Config, *container.HostConfig) {
	t.Helper()
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: DefaultImage}}
	for _, o := range append(defaults(s, dir, newAdminClient(filepath.Join(dir, adminSocket), "s"), nw), opts...) {
		require.NoError(t, o.Customize(&req))
	}
	cfg, hc := &container.Config{}, &container.HostConfig{}
	req.ConfigModifier(cfg)
	req.HostConfigModifier(hc)
	return req, cfg, hc
}

// waitedFor is the strategies the request waits for.
func waitedFor(t *testing.T, req testcontainers.GenericContainerRequest) []wait.Strategy {
	t.Helper()
	m, ok := req.WaitingFor.(*wait.MultiStrategy)
	require.True(t, ok, "%T", req.WaitingFor)
	require.Len(t, m.Strategies, 1)
	return m.Strategies
}

func TestDefaults(t *testing.T) {
	s := settings{region: DefaultRegion, fixtures: map[string]string{"aws": "/src/aws.yaml", "azure": "/src/azure"}}
	req, cfg, hc := request(t, s, "/tmp/idlab-tc-1", &testcontainers.DockerNetwork{Name: "idlab-net-1"})
	require.Equal(t, []string{"idlab-net-1"}, req.Networks, "a network of its own only")
	require.Equal(t, []string{cloudPort}, req.ExposedPorts)
	require.Equal(t, serveArgs(s), req.Cmd)
	require.Equal(t, []string{"/tmp/idlab-tc-1:/data", "/src/aws.yaml:/fixtures/aws:ro", "/src/azure:/fixtures/azure:ro"}, hc.Binds)
	require.Equal(t, network.PortMap{network.MustParsePort(cloudPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}, hc.PortBindings,
		"the cloud port is published on loopback only")
	require.Equal(t, strconv.Itoa(os.Getuid())+":"+strconv.Itoa(os.Getgid()), cfg.User)
	require.IsType(t, healthy{}, waitedFor(t, req)[0])
}

// The caller's testcontainers options come after the module's: theirs win.
func TestCallerOptionsWin(t *testing.T) {
	req, cfg, hc := request(t, settings{region: DefaultRegion}, "/tmp/d", nil,
		testcontainers.WithCmd("serve", "--help"),
		testcontainers.WithConfigModifier(func(c *container.Config) { c.User = "0:0" }),
		testcontainers.WithHostConfigModifier(func(h *container.HostConfig) { h.Binds = append(h.Binds, "/x:/y") }),
		testcontainers.WithWaitStrategy(wait.ForLog("idlab serve: ready")))
	require.Equal(t, []string{"serve", "--help"}, []string(req.Cmd))
	require.Equal(t, "0:0", cfg.User)
	require.Equal(t, []string{"/tmp/d:/data", "/x:/y"}, hc.Binds)
	require.IsType(t, &wait.LogStrategy{}, waitedFor(t, req)[0], "the caller's wait replaces the health check")
}

func TestOptions(t *testing.T) {
	abs, err := filepath.Abs("testdata/aws.yaml")
	require.NoError(t, err)
	tests := []struct {
		name    string
		opt     Option
		want    settings
		wantErr string
	}{
		{name: "aws fixtures made absolute", opt: WithAWSFixtures("testdata/aws.yaml"), want: settings{fixtures: map[string]string{"aws": abs}}},
		{name: "missing fixtures", opt: WithGCPFixtures("testdata/none.yaml"), wantErr: "gcp fixtures"},
		{name: "issuers", opt: WithIssuers("https://a", "https://b"), want: settings{fixtures: map[string]string{}, issuers: []string{"https://a", "https://b"}}},
		{name: "region", opt: WithRegion("eu-west-1"), want: settings{fixtures: map[string]string{}, region: "eu-west-1"}},
		{name: "empty region", opt: WithRegion(""), wantErr: "region: empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := settings{fixtures: map[string]string{}}
			err := tc.opt(&s)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, s)
		})
	}
}

// stoppedTarget is a container that exited.
type stoppedTarget struct{ wait.StrategyTarget }

func (stoppedTarget) State(context.Context) (*container.State, error) {
	return &container.State{Status: container.StateExited, ExitCode: 2}, nil
}

func TestHealthyWait(t *testing.T) {
	c := startLikeContainer(t, settings{region: DefaultRegion})
	ctx := context.Background()
	require.NoError(t, healthy{admin: c.admin(), timeout: 5 * time.Second}.WaitUntilReady(ctx, stoppedTarget{}),
		"healthy at once: the target is not asked")

	wrong := newAdminClient(filepath.Join(c.dir, adminSocket), "00"+c.secret[2:])
	if wrong.secret == c.secret {
		wrong.secret = "11" + c.secret[2:]
	}
	start := time.Now()
	err := healthy{admin: wrong, timeout: 30 * time.Second}.WaitUntilReady(ctx, stoppedTarget{})
	require.ErrorIs(t, err, ErrAdmin, "a refused secret fails at once")
	require.Less(t, time.Since(start), 5*time.Second)

	none := newAdminClient(filepath.Join(t.TempDir(), adminSocket), c.secret)
	err = healthy{admin: none, timeout: 30 * time.Second}.WaitUntilReady(ctx, stoppedTarget{})
	require.ErrorContains(t, err, "container exited (exit code 2) before it was healthy")
}

func TestSplitTag(t *testing.T) {
	tests := []struct {
		ref, repo, tag string
		ok             bool
	}{
		{ref: "idlab/emulator:latest", repo: "idlab/emulator", tag: "latest", ok: true},
		{ref: "localhost:5000/idlab/emulator:v1", repo: "localhost:5000/idlab/emulator", tag: "v1", ok: true},
		{ref: "localhost:5000/idlab/emulator"},
		{ref: "idlab/emulator"},
		{ref: "idlab/emulator:"},
		{ref: ":latest"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			repo, tag, ok := splitTag(tc.ref)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.repo, repo)
			require.Equal(t, tc.tag, tag)
		})
	}
}

// TestBuildContext: the context holds the Dockerfile beside this file and
// the binary as an executable ./idlab; a file that is not a static ELF
// executable is refused before Docker is asked.
func TestBuildContext(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hello")
	src := filepath.Join(t.TempDir(), "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644))
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	archive, err := buildContext(bin)
	require.NoError(t, err)
	want, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	raw, err := os.ReadFile(bin)
	require.NoError(t, err)
	files := map[string][]byte{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		files[h.Name], err = io.ReadAll(tr)
		require.NoError(t, err)
		modes[h.Name] = h.Mode
	}
	require.Equal(t, map[string][]byte{"Dockerfile": want, "idlab": raw}, files)
	require.Equal(t, int64(0o755), modes["idlab"])

	_, err = buildContext("Dockerfile")
	require.ErrorContains(t, err, "idlab binary Dockerfile")
	_, err = buildContext(filepath.Join(t.TempDir(), "none"))
	require.Error(t, err)
}
