//go:build e2e

// Package rotation is the token rotation suite, in the eks cluster with the
// IRSA webhook: what happens to pod identity as time passes and keys change.
//
//   - kubelet rotation (kubelet_test.go): the webhook gives the pod a
//     projected token of 600 s (eks.amazonaws.com/token-expiration); the
//     kubelet's token manager renews it once it is within 20% of its TTL of
//     expiring (minus up to 10 s of jitter: pkg/kubelet/token,
//     requiresRefresh), i.e. 470-480 s after iat, but only asks when the
//     projected volume is resynced (about once a minute), so the new token
//     lands later: 518 s and 493 s after iat in two lab runs. The probe calls STS for ~10 minutes through the
//     unmodified SDK, which re-assumes the role every minute (STS
//     DurationSeconds 900 and a 14-minute credentials-cache ExpiryWindow),
//     and must trade both tokens without one failure.
//   - Debian's boto3 and awscli (pyclient_test.go, the idlab/pyclient image
//     of `idlab up --pyclient`): the Python probe's loop calls sts
//     get-caller-identity every 15 s across the same rotation until three
//     calls have succeeded after the new token was seen in the file
//     (bounded by the first token's exp + 30 s); every call must succeed.
//     The row says what the client did: boto3 keeps its session's 1 h
//     credentials, awscli is a new process per call.
//   - the caching SDK (kubelet_test.go): an application that read the
//     token file once (aws/aws-sdk-js-v3#2297) fails with
//     ExpiredTokenException the first time it goes back to STS after the
//     token's exp, in real time.
//   - STS credentials expire (expiry_test.go): the SDK's 15-minute session
//     is expired at the emulator with the clock, then the SDK re-assumes.
//   - signing-key rotation (keys_test.go): old tokens work while both keys
//     are published, fail once the old key is removed.
//   - a deleted pod's token (deletedpod_test.go) still works at STS, which
//     never asks the cluster whether the pod exists.
//   - a stale federated token (azstale_test.go), in the aks cluster: a
//     client that read AZURE_FEDERATED_TOKEN_FILE once is refused by Entra
//     with AADSTS700024 once its 600 s token is 5 minutes past exp by
//     Entra's clock (which runs 4 minutes ahead for this row's app only, so
//     about 660 s after iat), while azidentity, which re-reads the file, is
//     let in with the kubelet's renewed token
//     (Azure/azure-workload-identity#693, risingwavelabs/risingwave#17123).
//   - credentials refreshed on the token file's mtime (mtime_test.go): a
//     client that re-assumes only when the file changes keeps its session
//     past its end, and S3 refuses it with ExpiredToken; one that also
//     re-assumes before the session ends reads on (cube-js/cube#11622,
//     #11808). The role's 900 s sessions are issued 11 minutes old, so they
//     end 240 s after issue.
//
// The clock. POST /_idlab/clock?advance=D moves time for every emulator,
// and this suite runs beside the others in `make e2e`: moving it 15 minutes
// would put every other client's SigV4 signatures out of the 15-minute skew
// window and, past an hour, expire every token the other suites' pods
// present. So the expiry row advances the clock for its own role only
// (?advance=15m&role=ARN, awsiam.AgeSessions): the STS sessions already
// issued to rotation-expiry expire 15 minutes sooner, and nothing else moves
// (TestLabRotationExpiryDenialRestsOnTheRoleClock checks the lab clock
// stays put). Two more one-party settings shorten the rows that would
// otherwise wait 15 minutes for an expiry, and set rather than add, so a
// second run on the same lab sets the same: the mtime rows' roles issue
// sessions 11 minutes old (?sessionAge=11m&role=ARN, awsiam.SetSessionAge),
// and Entra checks the stale row's app's assertions 4 minutes ahead
// (?ahead=4m&app=ID, entra.Handler.SetAssertionClock). Each row ends its
// setting when it ends. The caching row needs no clock: the emulator's STS
// allows no leeway past exp (awssts tokenLeeway), so it fails at 600 s.
//
// Every row is one matrix row with its real duration in the reason; the deny
// rows are checked from the SDK's error and the emulator's decision log, and
// TestLabRotation* (denials_test.go, run by make test) are their tests of
// the tests.
package rotation

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// account, ns, rolePfx, tokenSeconds, sessionSeconds and keyIssuer are in
// denials_test.go, shared with the suite's tests of its tests.
const (
	region    = "us-west-2"
	stsAction = "sts:AssumeRoleWithWebIdentity"
	suiteName = "token rotation"
)

// env is what every row shares.
type env struct {
	lab  *labenv.Lab
	eks  *labenv.Cluster
	http *http.Client // trusts the lab CA; the host reaches the emulator on EmulatorURL
}

func TestTokenRotation(t *testing.T) {
	// Parallel, as the suite's tests of its tests (denials_test.go) are:
	// they then run beside this test's minutes of waiting, not the ~30 s
	// before it, which bounds make e2e's wall time.
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 22*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	e := &env{lab: lab, eks: lab.Cluster(t, "eks")}
	var err error
	e.http, err = lab.HTTPClient()
	require.NoError(t, err)
	lab.Namespace(ctx, t, e.eks, ns, "worker")
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	require.NoError(t, pyprobe.Install(ctx, e.eks.CS, ns))
	for sa, role := range map[string]string{"app": rolePfx + "kubelet", "cached": rolePfx + "cached",
		"py-boto3": rolePfx + "py-boto3", "py-awscli": rolePfx + "py-awscli", "mtime": rolePfx + "mtime", "mtime-fixed": rolePfx + "mtime-fixed"} {
		ann := map[string]string{"eks.amazonaws.com/role-arn": role, "eks.amazonaws.com/token-expiration": fmt.Sprint(tokenSeconds)}
		if strings.HasPrefix(sa, "mtime") {
			delete(ann, "eks.amazonaws.com/token-expiration") // the webhook's default, 86400 s: no renewal during the row
		}
		_, err := e.eks.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa,
			Annotations: ann}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// All rows at once, whatever -test.parallel is (it defaults to
	// GOMAXPROCS, 2 here): the kubelet pod rows take ~10 minutes each, the
	// stale federated token row ~12 and the mtime rows ~4, and the suite
	// bounds make e2e's wall time. t.Run may be called from several
	// goroutines.
	rows := []struct {
		name string
		run  func(context.Context, *testing.T)
	}{
		{"kubelet-rotation", e.kubeletRotation},
		{"caching-sdk-after-expiry", e.cachingSDK},
		{"boto3-rotation", e.pyRotation(pyprobe.Boto3)},
		{"awscli-rotation", e.pyRotation(pyprobe.AWSCLI)},
		{"sts-credentials-expire", e.credentialsExpire},
		{"signing-key-rotation", e.keyRotation},
		{"deleted-pod-token", e.deletedPod},
		{"stale-federated-token", e.staleFederatedToken},
		{"mtime-keyed-refresh", e.mtimeRefresh(false)},
		{"expiry-aware-refresh", e.mtimeRefresh(true)},
	}
	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(r.name, func(t *testing.T) { r.run(ctx, t) })
		}()
	}
	wg.Wait()
}

// setClock sets one party's clock on the lab (param sessionAge for
// party=role, ahead for party=app: the one-party forms of /_idlab/clock) to
// d, and back to 0 when the test ends.
func (e *env) setClock(ctx context.Context, t *testing.T, param string, d time.Duration, party, id string) {
	t.Helper()
	post := func(ctx context.Context, d time.Duration) error {
		var res map[string]any
		q := url.Values{param: {d.String()}, party: {id}}.Encode()
		err := e.lab.Admin(ctx, http.MethodPost, "/_idlab/clock?"+q, nil, &res)
		t.Logf("clock: %s: %v %v", q, res, err)
		return err
	}
	require.NoError(t, post(ctx, d))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = post(ctx, 0) // logged
	})
}

// stsClient is aws-sdk-go-v2's STS client from the host, at the emulator.
func (e *env) stsClient(creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(e.lab.EmulatorURL), HTTPClient: e.http,
		Credentials: creds, RetryMaxAttempts: 1})
}

// decision returns the decision the emulator logged for a request ID.
func (e *env) decision(ctx context.Context, t *testing.T, role, requestID string) labDecision {
	t.Helper()
	ds, err := e.lab.Decisions(ctx, labenv.DecisionQuery{Action: stsAction, Resource: role, RequestID: requestID})
	require.NoError(t, err)
	require.Len(t, ds, 1, "one decision for request %s on %s", requestID, role)
	return labDecision{Effect: ds[0].Effect, Reason: ds[0].Reason, Explanation: ds[0].Explanation()}
}

type labDecision struct{ Effect, Reason, Explanation string }

// expected names a row's expected outcome: "allow" or the error code.
func expected(code string) string { return labenv.Observed(code == "", code) }

// took formats a row's real duration.
func took(start time.Time) string { return time.Since(start).Round(time.Second).String() }
