package eksagent

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idlab/idlab/internal/hostnat"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// fakeHost records what SetupLink runs; failing lists command prefixes
// that fail.
type fakeHost struct {
	ran     []string
	chroot  string
	files   map[string]bool
	failing []string
	// dummyMissing: a failing command answers as ip does without the dummy driver.
	dummyMissing bool
}

func (f *fakeHost) env() hostnat.Env {
	return hostnat.Env{
		Chroot: func(dir string) error { f.chroot = dir; return nil },
		Exists: func(p string) bool { return f.files[p] },
		Run: func(_ context.Context, argv []string) ([]byte, error) {
			line := strings.Join(argv, " ")
			f.ran = append(f.ran, line)
			for _, p := range f.failing {
				if strings.HasPrefix(line, p) {
					if f.dummyMissing {
						return []byte("Error: Unknown device type."), &exec.ExitError{}
					}
					return []byte("boom"), &exec.ExitError{}
				}
			}
			return nil, nil
		},
	}
}

func TestSetupLink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]bool
		failing []string
		// dummyMissing makes link add fail as a kernel without the driver does.
		dummyMissing bool
		hostRoot     string
		want         []string
		wantErr      string
	}{
		{name: "new link, IPv4 only", hostRoot: "/host", files: map[string]bool{"/usr/sbin/ip": true},
			failing: []string{"/usr/sbin/ip link show"},
			want: []string{"/usr/sbin/ip link show dev pod-id-link0", "/usr/sbin/ip link add pod-id-link0 type dummy",
				"/usr/sbin/ip link set dev pod-id-link0 up", "/usr/sbin/ip address replace 169.254.170.23/32 dev pod-id-link0",
				"/usr/sbin/ip route replace 169.254.170.23/32 dev pod-id-link0"}},
		{name: "existing link with IPv6", files: map[string]bool{"/sbin/ip": true, "/proc/sys/net/ipv6/conf/pod-id-link0/disable_ipv6": true},
			want: []string{"/sbin/ip link show dev pod-id-link0", "/sbin/ip link set dev pod-id-link0 up",
				"/sbin/ip address replace 169.254.170.23/32 dev pod-id-link0", "/sbin/ip route replace 169.254.170.23/32 dev pod-id-link0",
				"/sbin/ip -6 address replace fd00:ec2::23/128 dev pod-id-link0", "/sbin/ip -6 route replace fd00:ec2::23/128 dev pod-id-link0"}},
		{name: "IPv6 failure is not fatal", files: map[string]bool{"/sbin/ip": true, "/proc/sys/net/ipv6/conf/pod-id-link0/disable_ipv6": true},
			failing: []string{"/sbin/ip -6"},
			want: []string{"/sbin/ip link show dev pod-id-link0", "/sbin/ip link set dev pod-id-link0 up",
				"/sbin/ip address replace 169.254.170.23/32 dev pod-id-link0", "/sbin/ip route replace 169.254.170.23/32 dev pod-id-link0",
				"/sbin/ip -6 address replace fd00:ec2::23/128 dev pod-id-link0"}},
		{name: "no dummy driver: loopback", files: map[string]bool{"/usr/sbin/ip": true, "/proc/sys/net/ipv6/conf/lo/disable_ipv6": true},
			failing: []string{"/usr/sbin/ip link show", "/usr/sbin/ip link add"}, dummyMissing: true,
			want: []string{"/usr/sbin/ip link show dev pod-id-link0", "/usr/sbin/ip link add pod-id-link0 type dummy",
				"/usr/sbin/ip address replace 169.254.170.23/32 dev lo", "/usr/sbin/ip -6 address replace fd00:ec2::23/128 dev lo"}},
		{name: "link add fails otherwise", files: map[string]bool{"/usr/sbin/ip": true},
			failing: []string{"/usr/sbin/ip link show", "/usr/sbin/ip link add"}, wantErr: "ip link add pod-id-link0 type dummy"},
		{name: "no ip", files: map[string]bool{}, wantErr: "no ip command on the host"},
		{name: "address fails", files: map[string]bool{"/bin/ip": true}, failing: []string{"/bin/ip address"},
			wantErr: "setup link: ip address replace 169.254.170.23/32 dev pod-id-link0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeHost{files: tc.files, failing: tc.failing, dummyMissing: tc.dummyMissing}
			err := setupLink(t.Context(), f.env(), tc.hostRoot)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f.ran)
			require.Equal(t, tc.hostRoot, f.chroot)
		})
	}
	f := &fakeHost{}
	env := f.env()
	env.Chroot = func(string) error { return errors.New("not permitted") }
	require.ErrorContains(t, setupLink(t.Context(), env, "/host"), "setup link: chroot /host: not permitted")
}

func TestManifests(t *testing.T) {
	objs := Manifests("idlab/emulator:x", "idlab-system", ManifestOptions{ClusterName: "eks", Region: "us-west-2", CAConfigMap: "idlab-ca"})
	require.Len(t, objs, 2)
	ds, ok := objs[1].(*appsv1.DaemonSet)
	require.True(t, ok)
	spec := ds.Spec.Template.Spec
	require.True(t, spec.HostNetwork)
	require.Equal(t, corev1.DNSClusterFirstWithHostNet, spec.DNSPolicy)
	require.Equal(t, InitArgs, spec.InitContainers[0].Args)
	require.True(t, *spec.InitContainers[0].SecurityContext.Privileged)
	c := spec.Containers[0]
	require.Equal(t, []string{"eks-pod-identity-agent", "server", "--cluster-name=eks", "--region=us-west-2", "--bind-hosts=169.254.170.23", "--port=80"}, c.Args)
	require.Equal(t, IPv4Address, c.ReadinessProbe.HTTPGet.Host)
	require.Contains(t, c.Env, corev1.EnvVar{Name: "AWS_CA_BUNDLE", Value: "/etc/idlab/ca/ca.crt"})
	require.Nil(t, c.SecurityContext.Privileged, "only the init container is privileged")
}

// FuzzValidateToken: any Authorization header is refused with 400 or
// accepted; never a panic. An accepted token names a signing method
// golang-jwt knows and, when it has exp or nbf, is inside them; a token
// whose signature alone changes is judged the same (upstream's golang-jwt
// v5.2.2 does not read it). podUID either finds a string uid or refuses
// with 400.
func FuzzValidateToken(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDAsImt1YmVybmV0ZXMuaW8iOnsicG9kIjp7InVpZCI6InUifX19.c2ln")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	f.Add("e30.bnVsbA.x")
	f.Add("eyJhbGciOiJub25lIn0.eyJuYmYiOiIxODAwMDAwMDAwIiwiYXVkIjo1fQ.")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		requireStatus := func(err error) {
			var re *requestError
			require.ErrorAs(t, err, &re)
			require.Equal(t, 400, re.status)
		}
		err := validateToken(raw, now)
		if strings.Count(raw, ".") == 2 {
			require.Equal(t, err, validateToken(withoutSignature(raw)+"!", now), "the signature is not read")
		}
		if uid, err := podUID(raw); err != nil {
			requireStatus(err)
		} else {
			require.NotPanics(t, func() { _ = uid })
		}
		if err != nil {
			requireStatus(err)
			return
		}
		tok, _, perr := jwt.NewParser().ParseUnverified(withoutSignature(raw), jwt.MapClaims{})
		require.NoError(t, perr)
		require.NotNil(t, tok.Method)
		claims := tok.Claims.(jwt.MapClaims)
		if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
			require.True(t, now.Before(exp.Time))
		}
		if nbf, err := claims.GetNotBefore(); err == nil && nbf != nil {
			require.False(t, now.Before(nbf.Time))
		}
	})
}
