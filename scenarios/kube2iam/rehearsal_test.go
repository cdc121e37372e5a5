package kube2iam

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/components/kube2iam"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsimds"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// syncBuffer is a log sink the proxy writes from its handlers while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// decisions are the proxy's decisions about ip logged so far.
func (s *syncBuffer) decisions(ip string) []decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(parseDecisions(s.b.Bytes()), func(d decision) bool { return d.RemoteIP != ip })
}

// TestLabIPReuseRehearsal runs the IP-reuse rows (ipreuse_test.go) in
// process: kube2iam (components/kube2iam) over a fake API server, the
// node's IMDS and STS on the lab's IAM fixture, the pods' unmodified SDK
// provider, every request from the reused IP. The row's check
// (checkReuse on kube2iam's own decision log, both sessions named after
// the same IP) passes once kube2iam's watch has brought the old pod's
// end, and, the test of the check, catches the finished pod's role
// served to the new pod while the watch is held back (jtblin/kube2iam#215's
// window, which the lab cannot open).
func TestLabIPReuseRehearsal(t *testing.T) {
	const (
		ip                 = "10.244.0.7"
		base               = "arn:aws:iam::123456789012:role/"
		newNS, oldNS       = "idlab-kube2iam", "idlab-kube2iam-other"
		newName, oldName   = newNS + "/ipreuse-new-1", oldNS + "/ipreuse-old-1"
		newRole, oldRole   = base + "kube2iam-app", base + "kube2iam-other"
		newPrefix, oldPref = ":assumed-role/kube2iam-app/", ":assumed-role/kube2iam-other/"
	)
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("lab.yaml", []byte(fixturecheck.Read(t, "aws/lab.yaml"))))
	md, err := awsimds.NewServer(awsimds.Options{IAM: iam, RoleARN: base + "eks-node", InstanceID: "i-0node", Region: "us-west-2", RequireV2: true, HopLimit: 1})
	require.NoError(t, err)
	t.Cleanup(md.Close)
	st, err := awssts.NewServer(awssts.Options{IAM: iam, Region: "us-east-1"})
	require.NoError(t, err)
	t.Cleanup(st.Close)

	pod := func(namespace, name, role string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: map[string]string{kube2iam.DefaultRoleKey: role}},
			Spec: corev1.PodSpec{NodeName: "eks-control-plane"}, Status: corev1.PodStatus{Phase: phase, PodIP: ip}}
	}
	allowed := func(name, roles string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{kube2iam.DefaultNamespaceKey: roles}}}
	}
	// asks is a pod's SDK at the reused IP getting credentials, and the
	// caller ARN STS gives them.
	asks := func(t *testing.T, url string) string {
		t.Helper()
		c := imds.New(imds.Options{Endpoint: url, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
		creds, err := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = c }).Retrieve(context.Background())
		require.NoError(t, err)
		cl := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(st.URL()), HTTPClient: st.Client(),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
		out, err := cl.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		return aws.ToString(out.Arn)
	}
	roleList := func(url string) string {
		resp, err := http.Get(url + "/latest/meta-data/iam/security-credentials/")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	for _, tc := range []struct {
		name       string
		holdWatch  bool // kube2iam's watch brings nothing after its first list
		wantNew    string
		wantOldErr bool
	}{
		{name: "the watch brought the old pod's end: the new pod's own role", wantNew: newPrefix},
		{name: "the watch held back: the finished pod's role, which the check catches", holdWatch: true, wantNew: oldPref, wantOldErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(allowed(newNS, `["kube2iam-app"]`), allowed(oldNS, `["kube2iam-other"]`),
				pod(oldNS, "ipreuse-old-1", "kube2iam-other", corev1.PodRunning))
			if tc.holdWatch {
				cs.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) { return true, watch.NewFake(), nil })
			}
			var logs syncBuffer
			h, err := kube2iam.New(kube2iam.Options{Client: cs, NodeName: "eks-control-plane", HostIP: "172.18.0.2", BaseRoleARN: base,
				NamespaceRestriction: true, MetadataURL: md.URL(), STSEndpoint: st.URL(), STSClient: st.Client(), BackoffMaxElapsed: 10 * time.Millisecond,
				RemoteIP: func(*http.Request) string { return ip }, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			require.NoError(t, h.Start(ctx))
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			oldARN := asks(t, srv.URL)
			require.Contains(t, oldARN, oldPref, "the old pod, running at the IP, gets the other role")

			pods := cs.CoreV1()
			_, err = pods.Pods(oldNS).UpdateStatus(ctx, pod(oldNS, "ipreuse-old-1", "kube2iam-other", corev1.PodSucceeded), metav1.UpdateOptions{})
			require.NoError(t, err)
			if !tc.holdWatch {
				require.Eventually(t, func() bool { return roleList(srv.URL) != "kube2iam-other" }, 10*time.Second, 10*time.Millisecond,
					"kube2iam heard of the old pod's end")
			}
			newStart := time.Now()
			_, err = pods.Pods(newNS).Create(ctx, pod(newNS, "ipreuse-new-1", "kube2iam-app", corev1.PodRunning), metav1.CreateOptions{})
			require.NoError(t, err)
			if !tc.holdWatch {
				require.Eventually(t, func() bool { return roleList(srv.URL) == "kube2iam-app" }, 10*time.Second, 10*time.Millisecond)
			}
			newARN := asks(t, srv.URL)
			require.Contains(t, newARN, tc.wantNew)

			_, cerr := checkReuse(logs.decisions(ip), newStart, newName, newRole, oldName, oldRole)
			if tc.wantOldErr {
				require.ErrorIs(t, cerr, errOldRole)
				return
			}
			require.NoError(t, cerr)
			oldHash, ok := ipHashOf(oldARN)
			require.True(t, ok, oldARN)
			newHash, ok := ipHashOf(newARN)
			require.True(t, ok, newARN)
			require.Equal(t, oldHash, newHash, "both sessions are named after the one IP")
		})
	}
}
