package kube2iam

// Upstream's test tables, written here as idlab's own cases and run
// against this package. All from jtblin/kube2iam at commit
// 4c4a2b4b9e12908533a2418c9bd1fac38fe87c2e (after tag 0.15.0, 3e62324,
// whose tables below are the same but for TestParseRemoteAddr, which
// f0e2944 changed: a bare IP parses, and three rows were added):
//
//   - iam/arn_test.go: TestIsValidBaseARN (5), TestIsValidBaseARNInvalid
//     (5), TestRoleARN (3), TestRoleARNNoBaseARN (1);
//   - mappings/mapper_test.go: TestExtractRoleARN (7),
//     TestCheckRoleForNamespace (27), TestGetRoleMapping* (3),
//     TestGetExternalIDMapping* (2);
//   - namespace_test.go: TestGetNamespaceRoleAnnotation (5) and its
//     MissingKey and NilAnnotations tests (2);
//   - iam/iam_test.go: TestSessionName (3), TestGetHash (3) and
//     TestGetHashDifferentInputsDifferentOutputs (1);
//   - server/server_test.go: TestParseRemoteAddr (9), the health handler
//     (2), the security-credentials handler (3), the role handler (4) and
//     the reverse proxy (3);
//   - e2e/credentials_test.go: TestUnannotatedPodNoCredentials (1);
//
// and the behaviours of upstream's source idlab issue 15 names (a mixed
// allowed-roles list, an unknown --namespace-restriction-format).
// Every case is identical; doc.go's table lists what upstream has that the
// lab does not run at all.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

const upstreamBase = "arn:aws:iam::123456789012:role/"

func TestUpstreamARN(t *testing.T) {
	t.Run("TestIsValidBaseARN", func(t *testing.T) {
		for _, arn := range []string{
			"arn:aws:iam::123456789012:role/my-role",
			"arn:aws:iam::123456789012:role/path/to/role",
			"arn:aws-cn:iam::123456789012:role/my-role",
			"arn:aws:iam::123456789012:role/my.role",
			"arn:aws:iam::123456789012:role/",
		} {
			require.True(t, ValidBaseARN(arn), arn)
			_, err := New(Options{Client: fake.NewClientset(), BaseRoleARN: arn})
			require.NoError(t, err, "the proxy starts with --base-role-arn=%s", arn)
		}
	})
	t.Run("TestIsValidBaseARNInvalid", func(t *testing.T) {
		for _, arn := range []string{
			"",
			"not-an-arn",
			"arn:aws:s3:::my-bucket",
			"arn:aws:iam::123456789012:user/my-user",
			"arn:aws:iam:us-east-1:123456789012:role/my-role",
		} {
			require.False(t, ValidBaseARN(arn), arn)
		}
	})
	t.Run("TestRoleARN", func(t *testing.T) {
		for _, tc := range []struct{ name, role, want string }{
			{"short role name gets base ARN prepended", "my-role", "arn:aws:iam::123456789012:role/my-role"},
			{"full ARN is returned unchanged", "arn:aws:iam::999999999999:role/cross-account", "arn:aws:iam::999999999999:role/cross-account"},
			{"ARN prefix check is case-insensitive", "ARN:aws:iam::999999999999:role/upper-case", "ARN:aws:iam::999999999999:role/upper-case"},
		} {
			require.Equal(t, tc.want, roleARN(upstreamBase, tc.role), tc.name)
		}
	})
	t.Run("TestRoleARNNoBaseARN", func(t *testing.T) {
		require.Equal(t, "my-role", roleARN("", "my-role"))
	})
}

func TestUpstreamExtractRoleARN(t *testing.T) {
	for _, tc := range []struct {
		test        string
		annotations map[string]string
		defaultRole string
		want        string
		wantErr     bool
	}{
		{"No default, no annotation", map[string]string{}, "", "", true},
		{"No default, has annotation", map[string]string{"roleKey": "explicit-role"}, "", "arn:aws:iam::123456789012:role/explicit-role", false},
		{"Default present, no annotations", map[string]string{}, "explicit-default-role", "arn:aws:iam::123456789012:role/explicit-default-role", false},
		{"Default present, has annotations", map[string]string{"roleKey": "something"}, "explicit-default-role", "arn:aws:iam::123456789012:role/something", false},
		{"Default present, has full arn annotations", map[string]string{"roleKey": "arn:aws:iam::999999999999:role/explicit-arn"},
			"explicit-default-role", "arn:aws:iam::999999999999:role/explicit-arn", false},
		{"Default present, has different annotations", map[string]string{"nonMatchingAnnotation": "something"},
			"explicit-default-role", "arn:aws:iam::123456789012:role/explicit-default-role", false},
		{"Default present, has annotations, has externalID", map[string]string{"roleKey": "something", "externalIDKey": "externalID"},
			"explicit-default-role", "arn:aws:iam::123456789012:role/something", false},
	} {
		t.Run(tc.test, func(t *testing.T) {
			// Upstream's test sets the mapper's default ARN field itself, as
			// given; NewRoleMapper would have made "" the base ARN.
			o := Options{RoleKey: "roleKey", ExternalIDKey: "externalIDKey", BaseRoleARN: upstreamBase}
			got, ok := o.roleFor(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}}, tc.defaultRole)
			require.Equal(t, tc.wantErr, !ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestUpstreamCheckRoleForNamespace(t *testing.T) {
	const explicit = "arn:aws:iam::123456789012:role/explicit-role"
	ann := func(v string) map[string]string { return map[string]string{"namespaceKey": v} }
	type row struct {
		test                 string
		restriction          bool
		defaultArn, ns, role string
		annotations          map[string]string
		format               string
		want                 bool
	}
	rows := []row{
		{"No restrictions", false, "", "default", explicit, nil, "", true},
	}
	// The glob and regexp halves of the table differ in their patterns and
	// names only.
	for _, f := range []struct{ format, label, star, wild string }{{"glob", "", "*", "glob"}, {"regexp", " (regexp)", ".*", "regexp"}} {
		rows = append(rows,
			row{"Restrictions enabled" + f.label + ", default partial", true, "default-role", "", "arn:aws:iam::123456789012:role/default-role", nil, f.format, true},
			row{"Restrictions enabled" + f.label + ", default full arn", true, "arn:aws:iam::123456789012:role/default-role", "",
				"arn:aws:iam::123456789012:role/default-role", nil, f.format, true},
			row{"Restrictions enabled" + f.label + ", partial arn in annotation", true, "arn:aws:iam::123456789012:role/default-role", "default",
				explicit, ann(`["explicit-role"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", partial " + f.wild + " in annotation", true, "arn:aws:iam::123456789012:role/default-role", "default",
				"arn:aws:iam::123456789012:role/path/explicit-role", ann(`["path/` + f.star + `"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", full arn in annotation", true, "arn:aws:iam::123456789012:role/default-role", "default",
				explicit, ann(`["arn:aws:iam::123456789012:role/explicit-role"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", full arn with " + f.wild + " in annotation", true, "arn:aws:iam::123456789012:role/default-role", "default",
				"arn:aws:iam::123456789012:role/path/explicit-role", ann(`["arn:aws:iam::123456789012:role/path/` + f.star + `-role"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", full arn not in annotation", true, "arn:aws:iam::123456789012:role/default-role", "default",
				"arn:aws:iam::123456789012:role/test-role", ann(`["arn:aws:iam::123456789012:role/explicit-role"]`), f.format, false},
			row{"Restrictions enabled" + f.label + ", no annotations", true, "", "default", explicit, ann(""), f.format, false},
			row{"Restrictions enabled" + f.label + ", multiple annotations, no match", true, "", "default",
				"arn:aws:iam::123456789012:role/test-role", ann(`["explicit-role", "explicit-role2"]`), f.format, false},
			row{"Restrictions enabled" + f.label + ", multiple annotations, matches exact 1st", true, "", "default",
				explicit, ann(`["explicit-role", "explicit-role2"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", multiple annotations, matches exact 2nd", true, "", "default",
				explicit, ann(`["explicit-role2", "explicit-role"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", multiple annotations, matches " + f.wild + " 1st", true, "", "default",
				"arn:aws:iam::123456789012:role/glob-role", ann(`["glob-` + f.star + `", "explicit-role"]`), f.format, true},
			row{"Restrictions enabled" + f.label + ", multiple annotations, matches " + f.wild + " 2nd", true, "", "default",
				"arn:aws:iam::123456789012:role/glob-role", ann(`["explicit-role", "glob-` + f.star + `"]`), f.format, true},
		)
	}
	require.Len(t, rows, 27)
	// The issue-15 rows from upstream's source: a mixed list still allows
	// its strings (GetNamespaceRoleAnnotation keeps what json.Unmarshal
	// decoded), and a format upstream does not know is glob.
	rows = append(rows,
		row{"mixed allowed-roles list still allows its strings", true, "", "default", explicit, ann(`["explicit-role", 1]`), "glob", true},
		row{"unknown format falls back to glob: a glob matches", true, "", "default", "arn:aws:iam::123456789012:role/glob-role", ann(`["glob-*"]`), "regex", true},
		row{"unknown format falls back to glob: a regexp does not", true, "", "default", "arn:aws:iam::123456789012:role/glob-role", ann(`["glob-.*"]`), "regex", false},
		row{"format is case-insensitive", true, "", "default", "arn:aws:iam::123456789012:role/glob-role", ann(`["glob-.*"]`), "REGEXP", true},
		// Upstream's identity hole, reproduced: a non-string entry decodes
		// to "", the base ARN, which as an unanchored regexp allows every
		// role under it; as a glob it allows only the base ARN itself.
		row{"regexp: a non-string entry allows every role under the base ARN", true, "", "default",
			"arn:aws:iam::123456789012:role/admin", ann(`["explicit-role", 1]`), "regexp", true},
		row{"glob: a non-string entry allows no other role", true, "", "default",
			"arn:aws:iam::123456789012:role/admin", ann(`["explicit-role", 1]`), "glob", false},
	)
	for _, tc := range rows {
		t.Run(tc.test, func(t *testing.T) {
			o := Options{Client: fake.NewClientset(), BaseRoleARN: upstreamBase, DefaultRole: tc.defaultArn, NamespaceRestriction: tc.restriction,
				NamespaceKey: "namespaceKey", RoleKey: "roleKey", NamespaceRestrictionFormat: tc.format}
			require.NoError(t, o.normalize())
			// Upstream's store mock has exactly the namespace the row names.
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tc.ns, Annotations: tc.annotations}}
			got, _, err := o.roleAllowed(tc.role, func() (*corev1.Namespace, error) { return ns, nil })
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestUpstreamGetRoleMapping(t *testing.T) {
	t.Run("TestGetRoleMappingNoAnnotationNoDefault", func(t *testing.T) {
		o := Options{Client: fake.NewClientset()}
		require.NoError(t, o.normalize())
		_, merr := o.mapPod(&corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1"}}, "10.0.0.1", nil)
		require.NotNil(t, merr)
		require.Equal(t, "unable to find role for IP 10.0.0.1", merr.Text)
	})
	t.Run("TestGetRoleMappingWithDefault", func(t *testing.T) {
		o := Options{Client: fake.NewClientset(), BaseRoleARN: upstreamBase, DefaultRole: "default-role"}
		require.NoError(t, o.normalize())
		m, merr := o.mapPod(&corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.2"}}, "10.0.0.2", nil)
		require.Nil(t, merr)
		require.Equal(t, upstreamBase+"default-role", m.Role)
	})
	t.Run("TestGetRoleMappingPodNotFound", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.99.99.99", nil, nil)
		code, _ := get(t, p.URL+"/latest/meta-data/iam/security-credentials/")
		require.Equal(t, http.StatusNotFound, code)
	})
}

func TestUpstreamExternalID(t *testing.T) {
	for _, tc := range []struct {
		name, externalID string
	}{
		{"TestGetExternalIDMappingWithAnnotation", "my-external-id"},
		{"TestGetExternalIDMappingWithoutAnnotation", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := upstreamPod("10.0.0.3", map[string]string{DefaultRoleKey: "my-role"})
			if tc.externalID != "" {
				pod.Annotations[DefaultExternalIDKey] = tc.externalID
			}
			sts := newFakeSTS(t, nil)
			p := newUpstreamProxy(t, "10.0.0.3", sts.use, nil, pod)
			code, body := get(t, p.URL+"/latest/meta-data/iam/security-credentials/my-role")
			require.Equal(t, http.StatusOK, code, body)
			require.Equal(t, []string{tc.externalID}, sts.externalIDs(), "AssumeRole's ExternalId")
		})
	}
}

func TestUpstreamNamespaceRoleAnnotation(t *testing.T) {
	for _, tc := range []struct {
		name, annotation string
		wantLen          int
		wantFirst        string
	}{
		{"empty annotation returns nil", "", 0, ""},
		{"malformed JSON returns nil", "not valid json", 0, ""},
		{"single role", `["my-role"]`, 1, "my-role"},
		{"multiple roles", `["role-a","role-b","role-c"]`, 3, "role-a"},
		{"empty JSON array", `[]`, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ParseAllowedRoles(tc.annotation)
			require.Len(t, got, tc.wantLen)
			if tc.wantFirst != "" {
				require.Equal(t, tc.wantFirst, got[0])
			}
		})
	}
	// MissingKey and NilAnnotations: no annotation under the key is no role.
	o := Options{NamespaceKey: "namespaceKey", Logger: slog.New(slog.DiscardHandler)}
	for _, ann := range []map[string]string{{"other-key": `["role"]`}, nil} {
		ok, why := o.allowedInNamespace("role", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: ann}})
		require.False(t, ok)
		require.Equal(t, "namespace n has no namespaceKey annotation", why)
	}
	// The mixed list of idlab issue 15: the strings decoded, an error too.
	got, err := ParseAllowedRoles(`["explicit-role", 1]`)
	require.Error(t, err)
	require.Equal(t, []string{"explicit-role", ""}, got)
}

func TestUpstreamSessionName(t *testing.T) {
	for _, tc := range []struct {
		name, role, ip, contains string
	}{
		{"short role", "arn:aws:iam::123456789012:role/my-role", "1.2.3.4", "my-role"},
		{"very long role truncated to 64", "arn:aws:iam::123456789012:role/" + strings.Repeat("x", 100), "1.2.3.4", ""},
		{"role with path", "arn:aws:iam::123456789012:role/path/to/role-name", "10.0.0.1", "role-name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sessionName(tc.role, tc.ip)
			require.LessOrEqual(t, len(got), 64)
			require.Contains(t, got, tc.contains)
		})
	}
	// TestGetHash and ...DifferentInputsDifferentOutputs, on the hash
	// before the "-": never empty, deterministic, different for different IPs.
	hash := func(ip string) string { h, _, _ := strings.Cut(sessionName("r/x", ip), "-"); return h }
	for _, in := range []string{"", "1.2.3.4", "some-long-string-with-special-chars-!@#"} {
		require.NotEmpty(t, hash(in))
		require.Equal(t, hash(in), hash(in))
	}
	require.NotEqual(t, hash("1.2.3.4"), hash("5.6.7.8"))
}

func TestUpstreamParseRemoteAddr(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"valid IPv4 with port", "10.0.0.1:8080", "10.0.0.1"},
		{"localhost with port", "127.0.0.1:12345", "127.0.0.1"},
		{"no port", "10.0.0.1", "10.0.0.1"},
		{"IPv6 without port", "fd00:ec2::254", "fd00:ec2::254"},
		{"IPv6 with port", "[fd00:ec2::254]:8181", "fd00:ec2::254"},
		{"single char before colon", "a:", ""},
		{"non-IP hostname", "myhost:1234", ""},
		{"empty string", "", ""},
		{"invalid address", "abcd", ""},
	} {
		require.Equal(t, tc.want, remoteIP(tc.in), tc.name)
	}
}

func TestUpstreamServer(t *testing.T) {
	t.Run("TestHealthHandlerHealthy", func(t *testing.T) {
		md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				_, _ = io.WriteString(w, "token")
				return
			}
			_, _ = io.WriteString(w, "i-0abcdef1234567890")
		}))
		t.Cleanup(md.Close)
		p := newUpstreamProxy(t, "10.0.0.1", nil, func(o *Options) { o.MetadataURL, o.HostIP = md.URL, "10.0.0.42" })
		code, body := get(t, p.URL+"/healthz")
		require.Equal(t, http.StatusOK, code)
		var resp HealthResponse
		require.NoError(t, json.Unmarshal([]byte(body), &resp))
		require.Equal(t, HealthResponse{InstanceID: "i-0abcdef1234567890", HostIP: "10.0.0.42"}, resp)
	})
	t.Run("TestHealthHandlerUnhealthy", func(t *testing.T) {
		md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				_, _ = io.WriteString(w, "token")
				return
			}
			w.WriteHeader(http.StatusOK) // an empty instance ID
		}))
		t.Cleanup(md.Close)
		p := newUpstreamProxy(t, "10.0.0.1", nil, func(o *Options) { o.MetadataURL = md.URL })
		code, body := get(t, p.URL+"/healthz")
		require.Equal(t, http.StatusInternalServerError, code)
		require.Equal(t, "Error getting instance id EC2 Metadata didn't returned [instance-id], got empty string\n", body)
	})

	t.Run("TestSecurityCredentialsHandlerFound", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.0.0.1", nil, nil, upstreamPod("10.0.0.1", map[string]string{DefaultRoleKey: "my-role"}))
		code, body := get(t, p.URL+"/latest/meta-data/iam/security-credentials")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "my-role", body)
	})
	t.Run("TestSecurityCredentialsHandlerCrossAccountARN", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.0.0.2", nil, func(o *Options) { o.BaseRoleARN = "arn:aws:iam::111111111111:role/" },
			upstreamPod("10.0.0.2", map[string]string{DefaultRoleKey: "arn:aws:iam::999999999999:role/cross-role"}))
		code, body := get(t, p.URL+"/latest/meta-data/iam/security-credentials")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "arn:aws:iam::999999999999:role/cross-role", body)
	})
	t.Run("TestSecurityCredentialsHandlerPodNotFound", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.99.0.1", nil, func(o *Options) { o.BaseRoleARN = "" })
		code, _ := get(t, p.URL+"/latest/meta-data/iam/security-credentials")
		require.Equal(t, http.StatusNotFound, code)
	})

	t.Run("TestRoleHandlerMatch", func(t *testing.T) {
		sts := newFakeSTS(t, nil)
		p := newUpstreamProxy(t, "10.0.0.10", sts.use, nil, upstreamPod("10.0.0.10", map[string]string{DefaultRoleKey: "my-role"}))
		code, body := get(t, p.URL+"/latest/meta-data/iam/security-credentials/my-role")
		require.Equal(t, http.StatusOK, code, body)
		var creds Credentials
		require.NoError(t, json.Unmarshal([]byte(body), &creds))
		require.Equal(t, "AKIATEST", creds.AccessKeyID)
	})
	t.Run("TestRoleHandlerMismatch", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.0.0.11", nil, nil, upstreamPod("10.0.0.11", map[string]string{DefaultRoleKey: "annotated-role"}))
		code, _ := get(t, p.URL+"/latest/meta-data/iam/security-credentials/different-role")
		require.Equal(t, http.StatusForbidden, code)
	})
	t.Run("TestRoleHandlerMappingError", func(t *testing.T) {
		p := newUpstreamProxy(t, "10.99.99.99", nil, func(o *Options) { o.BaseRoleARN = "" })
		code, _ := get(t, p.URL+"/latest/meta-data/iam/security-credentials/some-role")
		require.Equal(t, http.StatusNotFound, code)
	})
	t.Run("TestRoleHandlerSTSError", func(t *testing.T) {
		sts := newFakeSTS(t, fmt.Errorf("AccessDenied"))
		p := newUpstreamProxy(t, "10.0.0.12", sts.use, nil, upstreamPod("10.0.0.12", map[string]string{DefaultRoleKey: "failing-role"}))
		code, _ := get(t, p.URL+"/latest/meta-data/iam/security-credentials/failing-role")
		require.Equal(t, http.StatusInternalServerError, code)
	})

	// The reverse proxy: what reaches the metadata service.
	forwarded := func(t *testing.T, method, path string, header http.Header) (int, string) {
		t.Helper()
		var xff string
		md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			xff = r.Header.Get("X-Forwarded-For")
		}))
		t.Cleanup(md.Close)
		p := newUpstreamProxy(t, "10.0.0.1", nil, func(o *Options) { o.MetadataURL = md.URL })
		req, err := http.NewRequest(method, p.URL+path, nil)
		require.NoError(t, err)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, xff
	}
	t.Run("TestReverseProxyHandlerIMDSv2TokenRoute", func(t *testing.T) {
		_, xff := forwarded(t, http.MethodPut, "/latest/api/token", http.Header{})
		require.Empty(t, xff)
	})
	t.Run("TestReverseProxyHandlerIMDSv2GETWithToken", func(t *testing.T) {
		code, xff := forwarded(t, http.MethodGet, "/latest/meta-data/instance-id", http.Header{"X-Aws-Ec2-Metadata-Token": {"some-token-value"}})
		require.Equal(t, http.StatusOK, code)
		require.Empty(t, xff)
	})
	t.Run("TestReverseProxyHandlerStandardRequest", func(t *testing.T) {
		_, xff := forwarded(t, http.MethodGet, "/latest/meta-data/ami-id", http.Header{})
		require.Equal(t, "127.0.0.1", xff, "the caller's address (the test's connection)")
		_, xff = forwarded(t, http.MethodGet, "/latest/meta-data/ami-id", http.Header{"X-Forwarded-For": {"10.9.9.9"}})
		require.Equal(t, "10.9.9.9, 127.0.0.1", xff)
	})
}

// TestUpstreamUnannotatedPodNoCredentials is upstream's e2e test: with
// --base-role-arn set and no --default-role, a pod without the annotation
// lists no role (200, empty body) rather than 404.
func TestUpstreamUnannotatedPodNoCredentials(t *testing.T) {
	p := newUpstreamProxy(t, "10.0.0.20", nil, func(o *Options) { o.NamespaceRestriction = true },
		upstreamPod("10.0.0.20", nil), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	code, body := get(t, p.URL+"/latest/meta-data/iam/security-credentials/")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, body)
}

// upstreamPod is a running pod in namespace default at ip.
func upstreamPod(ip string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "my-pod", Namespace: "default", Annotations: annotations},
		Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning}}
}

// newUpstreamProxy serves the proxy, caches filled, over objs, to callers
// that all come from ip: base ARN upstreamBase, no restriction, STS through
// useSTS (nil: none), opts changed by mod.
func newUpstreamProxy(t *testing.T, ip string, useSTS func(*Options), mod func(*Options), objs ...runtime.Object) *httptest.Server {
	t.Helper()
	o := Options{Client: fake.NewClientset(objs...), BaseRoleARN: upstreamBase, BackoffMaxElapsed: time.Millisecond,
		MetadataURL: "http://127.0.0.1:1", RemoteIP: func(*http.Request) string { return ip }}
	if useSTS != nil {
		useSTS(&o)
	}
	if mod != nil {
		mod(&o)
	}
	h, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, h.Start(ctx))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// fakeSTS answers AssumeRole as upstream's mocked STS client does: fixed
// credentials (AKIATEST), or fail's text as an AccessDenied error.
type fakeSTS struct {
	srv  *httptest.Server
	mu   sync.Mutex
	ids  []string
	fail error
}

func newFakeSTS(t *testing.T, fail error) *fakeSTS {
	f := &fakeSTS{fail: fail}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		f.mu.Lock()
		f.ids = append(f.ids, r.PostForm.Get("ExternalId"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if f.fail != nil {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, f.fail)
			return
		}
		_, _ = io.WriteString(w, `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>AKIATEST</AccessKeyId>`+
			`<SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>`+
			`</Credentials></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSTS) use(o *Options) {
	o.STSEndpoint, o.STSClient = f.srv.URL, f.srv.Client()
	o.NodeCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIANODE", SecretAccessKey: "node"}, nil
	})
}

func (f *fakeSTS) externalIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

// TestSessionCacheIgnoresExternalID reproduces upstream's cache key (the
// role alone, iam.go's AssumeRole): a pod whose external ID differs, or
// that has none, gets the session another pod's external ID opened, with
// no STS call that could check it.
func TestSessionCacheIgnoresExternalID(t *testing.T) {
	sts := newFakeSTS(t, nil)
	a := upstreamPod("10.0.0.30", map[string]string{DefaultRoleKey: "shared", DefaultExternalIDKey: "tenant-a"})
	b := upstreamPod("10.0.0.31", map[string]string{DefaultRoleKey: "shared"})
	b.Name = "other-pod"
	p := newUpstreamProxy(t, "", sts.use, func(o *Options) {
		o.RemoteIP = func(r *http.Request) string { return r.Header.Get("X-Test-IP") }
	}, a, b)
	for _, ip := range []string{"10.0.0.30", "10.0.0.31"} {
		req, err := http.NewRequest(http.MethodGet, p.URL+"/latest/meta-data/iam/security-credentials/shared", nil)
		require.NoError(t, err)
		req.Header.Set("X-Test-IP", ip)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, ip)
	}
	require.Equal(t, []string{"tenant-a"}, sts.externalIDs(), "one AssumeRole, with the first pod's external ID")
}
