//go:build e2e

// Package labca shows the lab CA webhook (components/labca) making
// unmodified workloads trust the lab: the same pods, which configure no CA
// of their own, run in a namespace labelled idlab.dev/lab-ca=enabled and in
// one that is not. In the labelled one they reach the emulator over TLS
// under the clouds' real host names (STS through IRSA, the issuer's
// discovery document); in the other their TLS handshake fails with a
// certificate error, and the emulator's decision log shows the request
// never reached it.
package labca

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/components/labca"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

const stsAction = "sts:AssumeRoleWithWebIdentity"

// urllibScript fetches URL with Python's standard library, whose default
// context trusts OpenSSL's default CA file (SSL_CERT_FILE), and prints a
// probe result line.
const urllibScript = `import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
        print(json.dumps({"ok": True, "output": json.load(r).get("issuer", "")}))
except Exception as e:
    reason = getattr(e, "reason", e)
    print(json.dumps({"ok": False, "errorCode": type(reason).__name__, "errorMessage": str(e)}))
`

// row is one client in one namespace.
type row struct {
	client   string // the row's mechanism detail: go-sdk, boto3, awscli, urllib
	labelled bool
	wantCode string // "" for allow
	wantMsg  string // part of the error message of a refusal
}

func TestLabCATrust(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	eks := lab.Cluster(t, "eks")
	namespace(ctx, t, eks.CS, onNS, true)
	namespace(ctx, t, eks.CS, offNS, false)

	rows := []row{
		{client: "go-sdk", labelled: true},
		{client: "go-sdk", wantCode: "ClientError", wantMsg: "x509: certificate signed by unknown authority"},
		{client: pyprobe.Boto3, labelled: true},
		{client: pyprobe.Boto3, wantCode: "SSLError", wantMsg: "CERTIFICATE_VERIFY_FAILED"},
		{client: pyprobe.AWSCLI, labelled: true},
		{client: pyprobe.AWSCLI, wantCode: "ExitStatus255", wantMsg: "CERTIFICATE_VERIFY_FAILED"},
		{client: "urllib", labelled: true},
		{client: "urllib", wantCode: "SSLCertVerificationError", wantMsg: "CERTIFICATE_VERIFY_FAILED"},
	}
	for _, tc := range rows {
		ns, where := offNS, "unlabelled-namespace"
		if tc.labelled {
			ns, where = onNS, "labelled-namespace"
		}
		t.Run(tc.client+"/"+where, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod := clientPod(lab, eks.Region, tc.client, tc.client+"-"+where)
			res, err := podrun.Run(ctx, eks.CS, ns, pod)
			require.NoError(t, err)

			// What the webhook did, read back from the API server.
			got, err := eks.CS.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			require.NoError(t, err)
			env := map[string]string{}
			for _, e := range got.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			injected := env["SSL_CERT_FILE"] == labca.MountDir+"/"+labca.BundleFile && env["AWS_CA_BUNDLE"] == labca.MountDir+"/"+labca.BundleFile

			var ds []harness.Decision
			reason := res.ErrorMessage
			if tc.client != "urllib" {
				ds = lab.DecisionsSince(ctx, t, since, stsAction, role)
				if !tc.labelled {
					reason += "; the emulator logged no decision on " + role + ": the request never reached it"
				}
			}
			labenv.Row(t, labenv.Outcome{Suite: "lab ca", Scenario: where, Mechanism: "lab CA webhook (" + tc.client + ")",
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
			require.Equal(t, tc.labelled, injected, "the webhook gives the CA in the labelled namespace only: %v", env)
			if tc.labelled {
				require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
				if tc.client == "urllib" {
					require.Equal(t, eksIssuer(lab), res.Output)
					return
				}
				require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::123456789012:assumed-role/labca-app/"), res.Arn)
				require.NotEmpty(t, ds, "the emulator decided the AssumeRoleWithWebIdentity")
				require.Equal(t, "Allow", ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
				return
			}
			require.False(t, res.OK, "without the lab CA the call must fail, got %s", res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Contains(t, res.ErrorMessage, tc.wantMsg)
			require.Empty(t, ds, "a failed handshake never reaches STS")
		})
	}
}

// eksIssuer is the eks cluster's issuer, whose discovery document urllib
// fetches.
func eksIssuer(lab *labenv.Lab) string { return lab.Clusters["eks"].IssuerURL }

// clientPod is an unmodified pod of the app service account running one
// client: no CA, no endpoint, nothing but what the webhooks inject.
func clientPod(lab *labenv.Lab, region, client, name string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "idlab-scenarios"}},
		Spec: corev1.PodSpec{ServiceAccountName: "app", RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "probe", Image: lab.ProbeImage, ImagePullPolicy: corev1.PullNever}}},
	}
	switch client {
	case "go-sdk":
		return p // the probe's default call: sts:GetCallerIdentity
	case "urllib":
		c := &p.Spec.Containers[0]
		c.Image = lab.PyClientImage
		c.Command = []string{"python3", "-c", urllibScript, strings.TrimSuffix(eksIssuer(lab), "/") + "/.well-known/openid-configuration"}
		return p
	}
	p.Spec.Containers[0].Image = lab.PyClientImage
	return pyprobe.Use(p, client, "sts")
}

// namespace makes ns afresh, labelled for the lab CA webhook or not, with
// the app service account annotated for IRSA (the IRSA webhook gives its
// pods the token) and the Python probe; it is deleted when t ends.
func namespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string, labelled bool) {
	t.Helper()
	require.NoError(t, labenv.DeleteNamespace(ctx, cs, ns))
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if labelled {
		obj.Labels = map[string]string{labca.NamespaceLabel: labca.NamespaceEnabled}
	}
	nss, sas := cs.CoreV1().Namespaces(), cs.CoreV1().ServiceAccounts(ns)
	_, err := kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.Namespace, error) {
			return nss.Create(ctx, obj, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.Namespace, error) { return nss.Get(ctx, ns, metav1.GetOptions{}) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = labenv.DeleteNamespace(context.Background(), cs, ns) })
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Annotations: map[string]string{irsawebhook.AnnotationRoleARN: role}}}
	_, err = kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.ServiceAccount, error) {
			return sas.Create(ctx, sa, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.ServiceAccount, error) {
			return sas.Get(ctx, "app", metav1.GetOptions{})
		})
	require.NoError(t, err)
	require.NoError(t, pyprobe.Install(ctx, cs, ns))
}
