// Package storm is the identity storm: many pods start at once, each
// under its own service account bound to its own cloud identity, and each
// trades its token, reads its own object and tries another pod's. It shows
// what load does to isolation and to the exchange: no pod may ever read
// another's object, no exchange may fail, and the matrix reports how long
// the storm took, the exchange and read latencies the pods saw (p50, p99)
// and the lab's memory (docker stats) before and at its peak.
//
// Three storms, one per cluster (Cloud): 200 pods in eks (IRSA: a role
// each, made through the IAM API), 50 in gke (GKE Workload Identity: a
// Google service account and bucket each) and 50 in aks (Azure Workload
// Identity: an Entra app and container each). Google and Azure have no
// runtime admin API for service accounts, bindings or role assignments,
// so their identities are fixtures this package generates
// (GoogleFixture, AzureFixture: fixtures/gcp/storm.yaml and
// fixtures/azure/storm.yaml).
//
// The storm is in the slow tier and runs alone (harness/suites Serial),
// after the other suites, so its load neither fails them nor flatters its
// own figures; its three tests run one after another, so each storm's
// figures are its own. The helpers here are the storm's arithmetic, names
// and rows; the e2e tests drive the lab.
package storm

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/idlab/idlab/harness/report"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// Names of the storm's namespace (in each cluster), S3 bucket (eks) and
// storage account (aks).
const (
	Namespace = "idlab-storm"
	Bucket    = "idlab-storm-data"
	// StorageAccount is the aks storm's storage account
	// (idlabstorm.blob.core.windows.net), apart from the lab's own so the
	// storm's 50 containers crowd no other suite's account.
	StorageAccount = "idlabstorm"
	// BlobName is the object of each pod's own bucket (gke) or container
	// (aks).
	BlobName = "secret.txt"
)

// The pods of each storm.
const (
	EKSPods = 200
	GKEPods = 50
	AKSPods = 50
)

// Name is the service account (and role, Google service account, Entra
// app, container) of pod i: storm-007.
func Name(i int) string { return fmt.Sprintf("storm-%03d", i) }

// Next is the pod whose object pod i tries: the next one, so every object
// is also some other pod's target.
func Next(i, pods int) int { return (i + 1) % pods }

// OwnKey is the S3 object only pod i's role may read; OtherKey is the
// object pod i tries and must be refused: the next pod's.
func OwnKey(i int) string               { return fmt.Sprintf("%03d/secret.txt", i) }
func OtherKey(i, pods int) string       { return OwnKey(Next(i, pods)) }
func ObjectText(i int) string           { return "storm object of " + Name(i) }
func AssumedRolePart(i int) string      { return ":assumed-role/" + Name(i) + "/" }
func subject(ns, sa string) string      { return "system:serviceaccount:" + ns + ":" + sa }
func providerHost(issuer string) string { return strings.TrimPrefix(issuer, "https://") }

// GCSBucket is pod i's own Cloud Storage bucket; GSAEmail its Google
// service account, the only member that may read it.
func GCSBucket(i int) string { return fmt.Sprintf("idlab-storm-%03d", i) }
func GSAEmail(i int) string  { return Name(i) + "@" + GoogleProject + ".iam.gserviceaccount.com" }

// ClientID is the client ID of pod i's Entra app.
func ClientID(i int) string { return fmt.Sprintf("5707e000-0000-4000-8000-%012d", i) }

// GCSArgs is the probe command line of pod i in gke: its own bucket's
// object, then the next pod's.
func GCSArgs(i, pods int) []string {
	return []string{"storm-gcs", GCSBucket(i), BlobName, GCSBucket(Next(i, pods)), BlobName}
}

// BlobArgs is the probe command line of pod i in aks: its own
// container's blob, then the next pod's.
func BlobArgs(i, pods int) []string {
	return []string{"storm-blob", StorageAccount, Name(i), BlobName, Name(Next(i, pods)), BlobName}
}

// TrustPolicy is the IRSA trust policy of pod i's role: the cluster's
// OIDC provider, its :sub the pod's service account alone, :aud STS.
func TrustPolicy(account, issuer, ns string, i int) string {
	host := providerHost(issuer)
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Federated": "arn:aws:iam::" + account + ":oidc-provider/" + host},
		"Action":    "sts:AssumeRoleWithWebIdentity",
		"Condition": map[string]any{"StringEquals": map[string]any{host + ":sub": subject(ns, Name(i)), host + ":aud": "sts.amazonaws.com"}},
	}}}
	b, _ := json.Marshal(doc) // a map of strings: cannot fail
	return string(b)
}

// ReadPolicy lets pod i's role read its own prefix of the bucket, nothing else.
func ReadPolicy(bucket string, i int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/%03d/*"}]}`, bucket, i)
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of xs;
// 0 for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Cloud is what differs between the three storms: the rows' names, how a
// decision names a pod's own identity, and how the cloud refuses the
// other pod's object.
type Cloud struct {
	// Cluster is the lab's cluster; Test the top-level test that logs the
	// rows; Mechanism the rows' mechanism.
	Cluster, Test, Mechanism string
	Pods                     int
	// Identity is what each pod gets ("role"); Object what it reads
	// ("object", "blob").
	Identity, Object string
	// Exchange and Read name the timed steps in the figures.
	Exchange, Read string
	// Owns reports whether the principal a decision names is pod i's own
	// identity (Decision.Principal).
	Owns func(i int, principal string) bool
	// Refusal is the error code the pod's SDK reports for the other pod's
	// object, RefusalEffect the emulator's decision on it, and
	// RefusalEvidence says so in the row.
	Refusal, RefusalEffect, RefusalEvidence string
}

// EKS is the storm of the eks cluster: IRSA, a role each.
func EKS() Cloud {
	return Cloud{Cluster: "eks", Test: "TestIdentityStorm", Mechanism: "IRSA webhook", Pods: EKSPods,
		Identity: "role", Object: "object", Exchange: "exchange", Read: "S3 GetObject",
		Owns:    func(i int, p string) bool { return strings.Contains(p, AssumedRolePart(i)) },
		Refusal: "AccessDenied", RefusalEffect: "ImplicitDeny",
		RefusalEvidence: "each refusal: S3 AccessDenied in the pod and an ImplicitDeny decision naming the pod's own role"}
}

// GKE is the storm of the gke cluster: GKE Workload Identity through the
// lab's GKE metadata server, a Google service account and bucket each.
// The exchange is the token source's first Token() (the metadata server's
// TokenRequest, STS exchange and generateAccessToken).
func GKE() Cloud {
	return Cloud{Cluster: "gke", Test: "TestIdentityStormGKE", Mechanism: "GKE Workload Identity", Pods: GKEPods,
		Identity: "Google service account", Object: "object", Exchange: "metadata server token", Read: "Cloud Storage read",
		Owns:    func(i int, p string) bool { return p == "serviceAccount:"+GSAEmail(i) },
		Refusal: "HTTP403", RefusalEffect: "Deny",
		RefusalEvidence: "each refusal: HTTP 403 from Cloud Storage in the pod and a Google IAM Deny decision naming the pod's own service account"}
}

// AKS is the storm of the aks cluster: Azure Workload Identity, an Entra
// app and container each. The exchange is the credential's GetToken; a
// blob decision's principal is the app's service principal, so the storm
// names it by the app's client ID (the decision's appId).
func AKS() Cloud {
	return Cloud{Cluster: "aks", Test: "TestIdentityStormAKS", Mechanism: "Azure Workload Identity", Pods: AKSPods,
		Identity: "Entra app", Object: "blob", Exchange: "Entra token", Read: "Get Blob",
		Owns:    func(i int, p string) bool { return p == ClientID(i) },
		Refusal: "AuthorizationPermissionMismatch", RefusalEffect: "Deny",
		RefusalEvidence: "each refusal: AuthorizationPermissionMismatch in the pod and a blob service Deny decision naming the pod's own app"}
}

// Pod is one storm pod's outcome: its probe line, and the emulator's
// decisions on its two reads.
type Pod struct {
	Index                      int
	Result                     probe.StormResult
	OwnDecision, OtherDecision Decision
}

// Decision is the part of the emulator's decision a storm row reads.
// Principal is who the decision names: the session's ARN (AWS), the
// member (Google), the app's client ID (Azure).
type Decision struct {
	Principal, Effect string
}

// Seen is a decision as the e2e tests read it from the lab's log: Key
// finds the read it decided (the request ID; for Google, whose storage
// decisions carry none, Principal and Resource: see GoogleKey).
type Seen struct {
	Key string
	Decision
}

// GoogleKey keys a Google decision by who read which bucket: the storm's
// identities are its own, so the pair names one pod's read.
func GoogleKey(principal, resource string) string { return principal + " " + resource }

// GoogleResource is the resource of a Google decision on bucket.
func GoogleResource(bucket string) string { return "projects/_/buckets/" + bucket }

// GoogleReads are the decisions on pod i's two reads among byRead (Index
// of decisions keyed with GoogleKey): its own service account's on its own
// bucket and on the next pod's.
func GoogleReads(byRead map[string]Decision, i, pods int) (own, other Decision) {
	me := "serviceAccount:" + GSAEmail(i)
	return byRead[GoogleKey(me, GoogleResource(GCSBucket(i)))], byRead[GoogleKey(me, GoogleResource(GCSBucket(Next(i, pods))))]
}

// Index keeps one decision per key; an Allow outranks any refusal, so a
// leak is never hidden behind a retry's refusal.
func Index(seen []Seen) map[string]Decision {
	out := map[string]Decision{}
	for _, s := range seen {
		if cur, ok := out[s.Key]; ok && cur.Effect == "Allow" {
			continue
		}
		out[s.Key] = s.Decision
	}
	return out
}

// Figures sum up a storm.
type Figures struct {
	Pods int
	// OwnRole counts pods whose exchange succeeded and whose own read the
	// emulator allowed to their own identity; OwnRead those that read
	// their object's text.
	OwnRole, OwnRead int
	// FailedExchanges counts pods whose credential exchange failed.
	FailedExchanges int
	// Leaks counts pods that read another pod's object, or whose read of
	// it the emulator allowed; Denied those refused with the cloud's
	// refusal and a decision naming their own identity.
	Leaks, Denied int
	// Latencies in milliseconds as the pods measured them.
	ExchangeP50, ExchangeP99, ReadP50, ReadP99 float64
	Wall                                       time.Duration
	// Problems names the first few pods that broke a rule, and how.
	Problems []string
}

// Tally reads the pods' outcomes into Figures; wall is the time from the
// first pod created to the last result read. Pods missing from pods
// count as failed exchanges.
func (c Cloud) Tally(pods []Pod, wall time.Duration) Figures {
	f := Figures{Pods: c.Pods, Wall: wall}
	var ex, reads []float64
	problem := func(i int, format string, args ...any) {
		if len(f.Problems) < 5 {
			f.Problems = append(f.Problems, Name(i)+": "+fmt.Sprintf(format, args...))
		}
	}
	for _, p := range pods {
		r := p.Result
		ex = append(ex, r.ExchangeMillis)
		if !r.Exchange.OK {
			f.FailedExchanges++
			problem(p.Index, "exchange failed: %s %s", r.Exchange.ErrorCode, r.Exchange.ErrorMessage)
			continue
		}
		reads = append(reads, r.OwnMillis, r.OtherMillis)
		if p.OwnDecision.Effect == "Allow" && c.Owns(p.Index, p.OwnDecision.Principal) {
			f.OwnRole++
		} else {
			problem(p.Index, "own read decided %q for %q", p.OwnDecision.Effect, p.OwnDecision.Principal)
		}
		if r.Own.OK && r.Own.Output == ObjectText(p.Index) {
			f.OwnRead++
		} else {
			problem(p.Index, "own read: ok=%v %s %q", r.Own.OK, r.Own.ErrorCode, r.Own.Output)
		}
		switch {
		case r.Other.OK || p.OtherDecision.Effect == "Allow":
			f.Leaks++
			problem(p.Index, "read another pod's %s (%q, decision %q)", c.Object, r.Other.Output, p.OtherDecision.Effect)
		case r.Other.ErrorCode == c.Refusal && p.OtherDecision.Effect == c.RefusalEffect && c.Owns(p.Index, p.OtherDecision.Principal):
			f.Denied++
		default:
			problem(p.Index, "other read: %s, decision %q for %q", r.Other.ErrorCode, p.OtherDecision.Effect, p.OtherDecision.Principal)
		}
	}
	// Pods that never reported count as failed exchanges: they got nothing.
	f.FailedExchanges += max(c.Pods-len(pods), 0)
	f.ExchangeP50, f.ExchangeP99 = Percentile(ex, 50), Percentile(ex, 99)
	f.ReadP50, f.ReadP99 = Percentile(reads, 50), Percentile(reads, 99)
	return f
}

// Of is "N of TOTAL", the form the storm's rows compare.
func Of(n, total int) string { return fmt.Sprintf("%d of %d", n, total) }

// Timing is the storm's figures in one line for the matrix.
func (c Cloud) Timing(f Figures) string {
	return fmt.Sprintf("%d pods done in %s; %s p50 %.0f ms, p99 %.0f ms; %s p50 %.0f ms, p99 %.0f ms",
		f.Pods, f.Wall.Round(time.Second), c.Exchange, f.ExchangeP50, f.ExchangeP99, c.Read, f.ReadP50, f.ReadP99)
}

// Memory is the row text of the lab's memory before and at the storm's
// peak, in bytes.
func Memory(before, peak uint64) string {
	return fmt.Sprintf("lab memory (docker stats, emulator and nodes) %s before, %s at peak", MiB(before), MiB(peak))
}

// Rows are the storm's three matrix rows: every pod got its own identity
// (with the timing), read its own object (with the memory), and was
// refused the other's.
func (c Cloud) Rows(f Figures, memory string) []report.Row {
	problems := ""
	if len(f.Problems) > 0 {
		problems = "; first problems: " + strings.Join(f.Problems, "; ")
	}
	row := func(scenario, expected, observed, reason string) report.Row {
		return report.Row{Suite: "identity storm", Mechanism: c.Mechanism, Tier: report.TierSlow,
			Scenario: scenario, Expected: expected, Observed: observed, Reason: reason}
	}
	n := c.Pods
	return []report.Row{
		row(fmt.Sprintf("%d pods each get their own %s at once", n, c.Identity), Of(n, n), Of(f.OwnRole, n),
			fmt.Sprintf("%s; %d failed exchanges%s", c.Timing(f), f.FailedExchanges, problems)),
		row("each pod reads its own "+c.Object, Of(n, n), Of(f.OwnRead, n), memory),
		row("no pod reads another pod's "+c.Object, fmt.Sprintf("0 leaks, %s %s", Of(n, n), c.Refusal),
			fmt.Sprintf("%d leaks, %s %s", f.Leaks, Of(f.Denied, n), c.Refusal), c.RefusalEvidence),
	}
}
