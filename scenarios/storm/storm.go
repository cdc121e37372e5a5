// Package storm is the identity storm: many pods start at once, each
// under its own service account bound to its own role, and each trades
// its token, reads its own object and tries another pod's. It shows what
// load does to isolation and to the exchange: no pod may ever read
// another's object, no exchange may fail, and the matrix reports how long
// the storm took, the exchange and S3 latencies the pods saw (p50, p99)
// and the lab's memory (docker stats) before and at its peak.
//
// The storm is in the slow tier and runs alone (harness/suites Serial),
// after the other suites, so its load neither fails them nor flatters its
// own figures. The helpers here are the storm's arithmetic and names; the
// e2e test drives the lab.
package storm

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// Names of the storm's namespace, service accounts, roles and objects.
const (
	Namespace = "idlab-storm"
	Bucket    = "idlab-storm-data"
)

// Name is the service account and role of pod i: storm-007.
func Name(i int) string { return fmt.Sprintf("storm-%03d", i) }

// OwnKey is the object only pod i's role may read; OtherKey is the object
// pod i tries and must be refused: the next pod's, so every object is
// also some other pod's target.
func OwnKey(i int) string               { return fmt.Sprintf("%03d/secret.txt", i) }
func OtherKey(i, pods int) string       { return OwnKey((i + 1) % pods) }
func ObjectText(i int) string           { return "storm object of " + Name(i) }
func AssumedRolePart(i int) string      { return ":assumed-role/" + Name(i) + "/" }
func subject(ns, sa string) string      { return "system:serviceaccount:" + ns + ":" + sa }
func providerHost(issuer string) string { return strings.TrimPrefix(issuer, "https://") }

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

// Pod is one storm pod's outcome: its probe line, and the principals the
// emulator's decisions for its two reads name (by request ID), with their
// effects.
type Pod struct {
	Index                      int
	Result                     probe.StormResult
	OwnDecision, OtherDecision Decision
}

// Decision is the part of the emulator's decision a storm row reads.
type Decision struct {
	Principal, Effect string
}

// Figures sum up a storm.
type Figures struct {
	Pods int
	// OwnRole counts pods whose exchange succeeded and whose own read the
	// emulator allowed to their own role; OwnRead those that read their
	// object's text.
	OwnRole, OwnRead int
	// FailedExchanges counts pods whose credential exchange failed.
	FailedExchanges int
	// Leaks counts pods that read another pod's object, or whose read of
	// it the emulator allowed; Denied those refused AccessDenied with an
	// ImplicitDeny decision naming their own role.
	Leaks, Denied int
	// Latencies in milliseconds as the pods measured them.
	ExchangeP50, ExchangeP99, S3P50, S3P99 float64
	Wall                                   time.Duration
	// Problems names the first few pods that broke a rule, and how.
	Problems []string
}

// Tally reads the pods' outcomes into Figures; wall is the time from the
// first pod created to the last result read.
func Tally(pods []Pod, total int, wall time.Duration) Figures {
	f := Figures{Pods: total, Wall: wall}
	var ex, s3 []float64
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
		s3 = append(s3, r.OwnMillis, r.OtherMillis)
		own := p.OwnDecision.Effect == "Allow" && strings.Contains(p.OwnDecision.Principal, AssumedRolePart(p.Index))
		if own {
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
			problem(p.Index, "read another pod's object (%q, decision %q)", r.Other.Output, p.OtherDecision.Effect)
		case r.Other.ErrorCode == "AccessDenied" && p.OtherDecision.Effect == "ImplicitDeny" &&
			strings.Contains(p.OtherDecision.Principal, AssumedRolePart(p.Index)):
			f.Denied++
		default:
			problem(p.Index, "other read: %s, decision %q for %q", r.Other.ErrorCode, p.OtherDecision.Effect, p.OtherDecision.Principal)
		}
	}
	// Pods that never reported count as failed exchanges: they got nothing.
	f.FailedExchanges += total - len(pods)
	f.ExchangeP50, f.ExchangeP99 = Percentile(ex, 50), Percentile(ex, 99)
	f.S3P50, f.S3P99 = Percentile(s3, 50), Percentile(s3, 99)
	return f
}

// Of is "N of TOTAL", the form the storm's rows compare.
func Of(n, total int) string { return fmt.Sprintf("%d of %d", n, total) }

// Timing is the storm's figures in one line for the matrix.
func (f Figures) Timing() string {
	return fmt.Sprintf("%d pods done in %s; exchange p50 %.0f ms, p99 %.0f ms; S3 GetObject p50 %.0f ms, p99 %.0f ms",
		f.Pods, f.Wall.Round(time.Second), f.ExchangeP50, f.ExchangeP99, f.S3P50, f.S3P99)
}

// ParseMemUsage reads the used part of docker stats' MemUsage column
// ("849.8MiB / 23.54GiB") in bytes.
func ParseMemUsage(s string) (uint64, error) {
	used, _, _ := strings.Cut(s, "/")
	used = strings.TrimSpace(used)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(used, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 || v*u.mult >= math.MaxUint64 || math.IsNaN(v) {
				return 0, fmt.Errorf("docker memory usage %q: not a size", s)
			}
			return uint64(v * u.mult), nil
		}
	}
	return 0, fmt.Errorf("docker memory usage %q: no unit", s)
}

// ParseStats sums the memory of docker stats' lines "NAME\tMEMUSAGE" and
// lists each container's.
func ParseStats(out string) (total uint64, each map[string]uint64, err error) {
	each = map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		name, mem, ok := strings.Cut(l, "\t")
		if !ok {
			return 0, nil, fmt.Errorf("docker stats line %q: want NAME<TAB>MEMUSAGE", l)
		}
		b, err := ParseMemUsage(mem)
		if err != nil {
			return 0, nil, err
		}
		each[strings.TrimSpace(name)] = b
		total += b
	}
	return total, each, nil
}

// MiB formats bytes in MiB.
func MiB(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
