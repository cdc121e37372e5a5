// Package pyprobe runs the Python probe (probe.py) in scenario pods: Debian's
// boto3 and awscli, from the lab's idlab/pyclient image, making the same
// calls as the Go probe and printing the same one-line result (probe.Result),
// so rows can compare clients call for call. The script is mounted from a
// ConfigMap, so changing it does not rebuild the image.
//
// Interface (see probe.py's docstring for every field):
//
//	python3 probe.py [--client boto3|awscli] [sts | sts-hosts [URL] | s3-get BUCKET KEY]
//	python3 probe.py [--client ...] loop --interval S --duration S [CALL]
//	python3 probe.py [--client ...] loop --interval S --until-renewed N [CALL]
//	python3 probe.py --client boto3 presign-get BUCKET KEY [s3v4]
//	python3 probe.py [--client ...] fetch-link PAGE-URL | fetch-url URL
//
// Loop mode, for token rotation, prints one line per call (Call: the result
// plus the token file's hash, iat and exp, whether it changed, boto3's
// access key) and a summary last (Summary, with when the token changed and
// why the loop ended): run it with podrun.RunWithin, whose log ParseLoop
// reads.
//
// Presign-get mode (PresignArgs) presigns GetObject with a default boto3
// client, as a web app hands out a download link, and fetches the URL in the
// same pod; ParseFetch reads its line (Fetch). Fetch-link mode
// (FetchLinkArgs) is the browser of a web app's user: it GETs the app's
// page and fetches the link in its first <img src>; fetch-url mode
// (FetchURLArgs) fetches a link handed out earlier again. Neither uses an
// AWS client.
package pyprobe

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// Script is probe.py.
//
//go:embed probe.py
var Script string

// The clients the probe drives.
const (
	Boto3  = "boto3"
	AWSCLI = "awscli"
)

const (
	// ConfigMap holds probe.py in a scenario namespace (Install).
	ConfigMap = "idlab-pyprobe"
	// MountPath is where pods see it.
	MountPath = "/opt/idlab-pyprobe"
	volume    = "idlab-pyprobe"
)

// Install puts probe.py into ns, for the pods Use makes.
func Install(ctx context.Context, cs kubernetes.Interface, ns string) error {
	cms := cs.CoreV1().ConfigMaps(ns)
	_, err := kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.ConfigMap, error) {
			return cms.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: ConfigMap},
				Data:       map[string]string{"probe.py": Script},
			}, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.ConfigMap, error) {
			return cms.Get(ctx, ConfigMap, metav1.GetOptions{})
		})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("python probe config map in %s: %w", ns, err)
	}
	return nil
}

// Use turns a probe pod (podrun.PlainPod, podrun.IRSAPod ... made with the
// pyclient image) into one that runs probe.py with client and args:
// `python3 probe.py --client CLIENT ARGS...`.
func Use(p *corev1.Pod, client string, args ...string) *corev1.Pod {
	c := &p.Spec.Containers[0]
	c.Command = []string{"python3", MountPath + "/probe.py"}
	c.Args = append([]string{"--client", client}, args...)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volume, MountPath: MountPath, ReadOnly: true})
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMap}}}})
	return p
}

// STSHostsArgs are the arguments of the sts-hosts call: GetCallerIdentity,
// with "hosts=a,b" in the result's output naming every host the client
// sent a request to (its credential chain's AssumeRoleWithWebIdentity
// included); endpointURL, when not empty, is the app's own STS client's
// endpoint_url (boto3) or --endpoint-url (awscli).
func STSHostsArgs(endpointURL string) []string {
	if endpointURL == "" {
		return []string{"sts-hosts"}
	}
	return []string{"sts-hosts", endpointURL}
}

// LoopArgs are the arguments of loop mode: call (nothing for sts) every
// interval for duration.
func LoopArgs(interval, duration time.Duration, call ...string) []string {
	return append([]string{"loop", "--interval", seconds(interval), "--duration", seconds(duration)}, call...)
}

// UntilRenewedArgs are the arguments of loop mode that calls every interval
// until n calls have succeeded after the token file changed, or the first
// token expired (Summary.End says which): the loop ends when the kubelet's
// renewal has been seen and used, however late it came.
func UntilRenewedArgs(interval time.Duration, n int, call ...string) []string {
	return append([]string{"loop", "--interval", seconds(interval), "--until-renewed", strconv.Itoa(n)}, call...)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// Call is one call of loop mode.
type Call struct {
	probe.Result
	Seq          int     `json:"seq"`
	Elapsed      float64 `json:"elapsed"`
	TokenSha256  string  `json:"tokenSha256"`
	TokenIat     int64   `json:"tokenIat"`
	TokenExp     int64   `json:"tokenExp"`
	TokenChanged bool    `json:"tokenChanged"`
	AccessKeyID  string  `json:"accessKeyId"`
}

// Summary is loop mode's last line; its Result is what probe.Parse returns.
type Summary struct {
	probe.Result
	Calls      int `json:"calls"`
	Failures   int `json:"failures"`
	Tokens     int `json:"tokens"`
	AccessKeys int `json:"accessKeys"`
	// End is why the loop stopped: EndDuration, EndRenewed,
	// EndTokenExpired or EndNoTokenExp.
	End string `json:"end"`
	// RenewedSeq and RenewedElapsed are the call that first saw a new
	// token in the file (0 if none did); CallsAfterRenewal counts the
	// calls after it that succeeded.
	RenewedSeq        int     `json:"renewedSeq"`
	RenewedElapsed    float64 `json:"renewedElapsed"`
	CallsAfterRenewal int     `json:"callsAfterRenewal"`
}

// Summary.End values.
const (
	EndDuration     = "duration"
	EndRenewed      = "renewed"
	EndTokenExpired = "tokenExpired"
	EndNoTokenExp   = "noTokenExp"
)

// ParseLoop reads loop mode's output: every call line in order and the
// summary, which must come last.
func ParseLoop(out string) ([]Call, Summary, error) {
	var calls []Call
	var sum Summary
	seen := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var kind struct {
			Summary bool `json:"summary"`
			Seq     int  `json:"seq"`
		}
		if err := json.Unmarshal([]byte(l), &kind); err != nil {
			return nil, Summary{}, fmt.Errorf("python probe line %q: %w", l, err)
		}
		if seen {
			return nil, Summary{}, fmt.Errorf("python probe printed %q after its summary", l)
		}
		switch {
		case kind.Summary:
			seen = true
			if err := json.Unmarshal([]byte(l), &sum); err != nil {
				return nil, Summary{}, fmt.Errorf("python probe summary %q: %w", l, err)
			}
		case kind.Seq > 0:
			var c Call
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				return nil, Summary{}, fmt.Errorf("python probe call %q: %w", l, err)
			}
			calls = append(calls, c)
		default:
			// A plain result: the probe refused the arguments.
			var r probe.Result
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				return nil, Summary{}, err
			}
			return nil, Summary{}, fmt.Errorf("python probe did not loop: %s: %s", r.ErrorCode, r.ErrorMessage)
		}
	}
	if !seen {
		return nil, Summary{}, fmt.Errorf("python probe printed no loop summary: %q", out)
	}
	if sum.Calls != len(calls) {
		return nil, Summary{}, fmt.Errorf("python probe summary counts %d calls, printed %d", sum.Calls, len(calls))
	}
	return calls, sum, nil
}

// PresignArgs are the arguments of presign-get mode: boto3 presigns
// s3:GetObject on bucket/key with boto3.client('s3') and nothing else, or,
// with sigV4, with Config(signature_version='s3v4'); the pod then GETs the
// URL with urllib.
func PresignArgs(bucket, key string, sigV4 bool) []string {
	args := []string{"presign-get", bucket, key}
	if sigV4 {
		args = append(args, "s3v4")
	}
	return args
}

// Fetch is presign-get mode's line: what the pod got for the URL.
type Fetch struct {
	probe.Result
	// Status is the HTTP status; 0 when no response came back.
	Status int `json:"status"`
	// Signature is "SigV2" (AWSAccessKeyId in the URL), "SigV4"
	// (X-Amz-Credential) or "unknown".
	Signature string `json:"signature"`
	// Host is the URL's host.
	Host string `json:"host"`
	// Page is the HTTP status of the app's page and Link the URL found in
	// it (fetch-link mode only).
	Page int    `json:"page"`
	Link string `json:"link"`
}

// FetchLinkArgs are the arguments of fetch-link mode: GET the web app's
// page at pageURL and fetch the URL of its first <img src>.
func FetchLinkArgs(pageURL string) []string { return []string{"fetch-link", pageURL} }

// FetchURLArgs are the arguments of fetch-url mode: fetch url, a link
// fetch-link found earlier (Fetch.Link).
func FetchURLArgs(url string) []string { return []string{"fetch-url", url} }

// ParseFetch reads the line of presign-get, fetch-link or fetch-url mode
// from the pod's log.
func ParseFetch(out string) (Fetch, error) {
	var f Fetch
	if err := probe.ParseInto(out, &f); err != nil {
		return Fetch{}, fmt.Errorf("python probe presign-get: %w", err)
	}
	return f, nil
}
