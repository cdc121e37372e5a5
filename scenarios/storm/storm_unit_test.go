package storm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/report"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100 .. 1, unsorted
	}
	tests := []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"none", nil, 99, 0},
		{"one", []float64{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the max", hundred, 100, 100},
		{"p99 of 200 is the 198th", append(append([]float64{}, hundred...), hundred...), 99, 99},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, Percentile(tc.xs, tc.p)) })
	}
	require.Equal(t, float64(100), hundred[0], "the input is left as it was")
}

func TestParseMemUsage(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"849.8MiB / 23.54GiB", 891079884, ""},
		{"23.57MiB / 23.54GiB", 24714936, ""},
		{"1.5GiB / 2GiB", 1610612736, ""},
		{"512KiB / 1GiB", 524288, ""},
		{"0B / 0B", 0, ""},
		{"12MB / 1GB", 12000000, ""},
		{"", 0, "no unit"},
		{"lots / 1GiB", 0, "no unit"},
		{"xMiB / 1GiB", 0, "not a size"},
		{"-5MiB / 1GiB", 0, "not a size"},
		{"1e300GiB / 1GiB", 0, "not a size"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMemUsage(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseStats(t *testing.T) {
	total, each, err := ParseStats("idlab-emulator\t23.57MiB / 23.54GiB\neks-control-plane\t1GiB / 23.54GiB\n\n")
	require.NoError(t, err)
	require.Equal(t, uint64(24714936+1<<30), total)
	require.Equal(t, map[string]uint64{"idlab-emulator": 24714936, "eks-control-plane": 1 << 30}, each)
	_, _, err = ParseStats("no tab here 1MiB / 2MiB")
	require.ErrorContains(t, err, "want NAME<TAB>MEMUSAGE")
	_, _, err = ParseStats("a\tsome")
	require.ErrorContains(t, err, "no unit")
}

func FuzzParseStats(f *testing.F) {
	f.Add("idlab-emulator\t23.57MiB / 23.54GiB\neks-control-plane\t849.8MiB / 23.54GiB")
	f.Add("a\t1e308GiB / 1B")
	f.Add("\t/")
	f.Fuzz(func(t *testing.T, s string) {
		total, each, err := ParseStats(s)
		if err != nil {
			return
		}
		var sum uint64
		for _, b := range each {
			sum += b
		}
		if len(each) == len(nonEmptyLines(s)) && sum != total {
			t.Fatalf("total %d, sum of containers %d", total, sum)
		}
	})
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestTrustPolicy(t *testing.T) {
	var doc struct {
		Statement []struct {
			Effect    string
			Principal struct{ Federated string }
			Action    string
			Condition map[string]map[string]string
		}
	}
	raw := TrustPolicy("123456789012", "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", Namespace, 7)
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	require.Len(t, doc.Statement, 1)
	s := doc.Statement[0]
	require.Equal(t, "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC", s.Principal.Federated)
	require.Equal(t, "sts:AssumeRoleWithWebIdentity", s.Action)
	require.Equal(t, map[string]string{
		"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:idlab-storm:storm-007",
		"oidc.eks.us-west-2.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
	}, s.Condition["StringEquals"], "the pod's own service account alone: no wildcard")
	require.JSONEq(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/007/*"}]}`, ReadPolicy("b", 7))
	require.Equal(t, "000/secret.txt", OtherKey(199, 200), "the last pod tries the first's")
}

// good is pod i's outcome when every rule held.
func good(i int) Pod {
	role := "arn:aws:sts::123456789012" + AssumedRolePart(i) + "botocore"
	return Pod{Index: i,
		Result: probe.StormResult{
			Exchange: probe.Result{OK: true}, ExchangeMillis: float64(10 + i),
			Own: probe.Result{OK: true, Output: ObjectText(i)}, OwnMillis: 2,
			Other: probe.Result{ErrorCode: "AccessDenied"}, OtherMillis: 3,
		},
		OwnDecision: Decision{Principal: role, Effect: "Allow"}, OtherDecision: Decision{Principal: role, Effect: "ImplicitDeny"}}
}

func TestTally(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *Pod)
		total int
		check func(t *testing.T, f Figures)
	}{
		{name: "all well", total: 3, check: func(t *testing.T, f Figures) {
			require.Equal(t, Figures{Pods: 3, OwnRole: 3, OwnRead: 3, Denied: 3, ExchangeP50: 11, ExchangeP99: 12, ReadP50: 2, ReadP99: 3, Wall: time.Minute}, f)
		}},
		{name: "a leak: the other object read", total: 3, edit: func(p *Pod) { p.Result.Other = probe.Result{OK: true, Output: ObjectText(2)} },
			check: func(t *testing.T, f Figures) {
				require.Equal(t, 1, f.Leaks)
				require.Equal(t, 2, f.Denied)
				require.Contains(t, f.Problems[0], "storm-001: read another pod's object")
			}},
		{name: "a leak the emulator allowed though the pod saw an error", total: 3,
			edit:  func(p *Pod) { p.OtherDecision.Effect = "Allow" },
			check: func(t *testing.T, f Figures) { require.Equal(t, 1, f.Leaks) }},
		{name: "a refusal decided for another principal is not counted as the pod's", total: 3,
			edit: func(p *Pod) { p.OtherDecision.Principal = "arn:aws:sts::123456789012" + AssumedRolePart(2) + "x" },
			check: func(t *testing.T, f Figures) {
				require.Equal(t, 0, f.Leaks)
				require.Equal(t, 2, f.Denied)
				require.Contains(t, f.Problems[0], "other read: AccessDenied")
			}},
		{name: "another role served the own read", total: 3,
			edit:  func(p *Pod) { p.OwnDecision.Principal = "arn:aws:sts::123456789012" + AssumedRolePart(2) + "x" },
			check: func(t *testing.T, f Figures) { require.Equal(t, 2, f.OwnRole) }},
		{name: "a wrong own object", total: 3, edit: func(p *Pod) { p.Result.Own.Output = ObjectText(2) },
			check: func(t *testing.T, f Figures) { require.Equal(t, 2, f.OwnRead) }},
		{name: "a failed exchange", total: 3, edit: func(p *Pod) { p.Result.Exchange = probe.Result{ErrorCode: "InvalidIdentityToken"} },
			check: func(t *testing.T, f Figures) {
				require.Equal(t, 1, f.FailedExchanges)
				require.Equal(t, 2, f.OwnRole)
				require.Equal(t, 2, f.Denied)
				require.Contains(t, f.Problems[0], "exchange failed: InvalidIdentityToken")
			}},
		{name: "a pod that never reported", total: 4,
			check: func(t *testing.T, f Figures) { require.Equal(t, 1, f.FailedExchanges) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pods := []Pod{good(0), good(1), good(2)}
			if tc.edit != nil {
				tc.edit(&pods[1])
			}
			c := EKS()
			c.Pods = tc.total
			tc.check(t, c.Tally(pods, time.Minute))
		})
	}
}

func TestTiming(t *testing.T) {
	f := Figures{Pods: 200, Wall: 83400 * time.Millisecond, ExchangeP50: 41.2, ExchangeP99: 950.7, ReadP50: 3, ReadP99: 20.4}
	require.Equal(t, "200 pods done in 1m23s; exchange p50 41 ms, p99 951 ms; S3 GetObject p50 3 ms, p99 20 ms", EKS().Timing(f))
	require.Equal(t, "3 of 200", Of(3, 200))
	require.Equal(t, "1024 MiB", MiB(1<<30))
}

// goodIn is pod i's outcome in cloud c when every rule held.
func goodIn(c Cloud, i int) Pod {
	me := map[string]string{"eks": "arn:aws:sts::123456789012" + AssumedRolePart(i) + "botocore",
		"gke": "serviceAccount:" + GSAEmail(i), "aks": ClientID(i)}[c.Cluster]
	return Pod{Index: i,
		Result: probe.StormResult{Exchange: probe.Result{OK: true}, Own: probe.Result{OK: true, Output: ObjectText(i)},
			Other: probe.Result{ErrorCode: c.Refusal}},
		OwnDecision: Decision{Principal: me, Effect: "Allow"}, OtherDecision: Decision{Principal: me, Effect: c.RefusalEffect}}
}

// TestTallyClouds: each cloud counts a refusal only with its own error
// code, its decision's effect and the pod's own identity, exactly.
func TestTallyClouds(t *testing.T) {
	tests := []struct {
		name   string
		cloud  Cloud
		edit   func(p *Pod)
		denied int
		leaks  int
	}{
		{name: "gke all well", cloud: GKE(), denied: 2},
		{name: "aks all well", cloud: AKS(), denied: 2},
		{name: "gke: the metadata server's 403 is no storage refusal", cloud: GKE(), edit: func(p *Pod) { p.Result.Other.ErrorCode = "Metadata403" }, denied: 1},
		{name: "gke: AWS's refusal code is not Google's", cloud: GKE(), edit: func(p *Pod) { p.Result.Other.ErrorCode = "AccessDenied" }, denied: 1},
		{name: "gke: a refusal for another service account", cloud: GKE(),
			edit: func(p *Pod) { p.OtherDecision.Principal = "serviceAccount:" + GSAEmail(0) }, denied: 1},
		{name: "gke: a member that merely contains the account", cloud: GKE(),
			edit: func(p *Pod) { p.OtherDecision.Principal = "deleted:serviceAccount:" + GSAEmail(1) }, denied: 1},
		{name: "gke: a leak Google IAM allowed", cloud: GKE(), edit: func(p *Pod) { p.OtherDecision.Effect = "Allow" }, denied: 1, leaks: 1},
		{name: "aks: another app's refusal", cloud: AKS(), edit: func(p *Pod) { p.OtherDecision.Principal = ClientID(0) }, denied: 1},
		{name: "aks: an authentication failure is no authorization refusal", cloud: AKS(),
			edit: func(p *Pod) { p.Result.Other.ErrorCode = "InvalidAuthenticationInfo" }, denied: 1},
		{name: "aks: the blob read", cloud: AKS(), edit: func(p *Pod) { p.Result.Other = probe.Result{OK: true, Output: ObjectText(0)} }, denied: 1, leaks: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cloud
			c.Pods = 2
			pods := []Pod{goodIn(c, 0), goodIn(c, 1)}
			if tc.edit != nil {
				tc.edit(&pods[1])
			}
			f := c.Tally(pods, time.Minute)
			require.Equal(t, tc.denied, f.Denied, "%v", f.Problems)
			require.Equal(t, tc.leaks, f.Leaks, "%v", f.Problems)
			require.Equal(t, 2, f.OwnRole)
			if tc.denied < 2 {
				require.Contains(t, f.Problems[0], Name(1)+": ")
			}
		})
	}
}

func TestIndex(t *testing.T) {
	got := Index([]Seen{
		{Key: "a", Decision: Decision{"p", "Deny"}}, {Key: "a", Decision: Decision{"p", "Allow"}}, {Key: "a", Decision: Decision{"p", "Deny"}},
		{Key: "b", Decision: Decision{"p", "Deny"}}, {Key: "b", Decision: Decision{"q", "ImplicitDeny"}},
	})
	require.Equal(t, map[string]Decision{"a": {"p", "Allow"}, "b": {"q", "ImplicitDeny"}}, got, "an Allow is never hidden behind a later refusal")
	byRead := map[string]Decision{
		GoogleKey("serviceAccount:"+GSAEmail(49), GoogleResource("idlab-storm-049")): {"own", "Allow"},
		GoogleKey("serviceAccount:"+GSAEmail(49), GoogleResource("idlab-storm-000")): {"other", "Deny"},
		GoogleKey("serviceAccount:"+GSAEmail(0), GoogleResource("idlab-storm-000")):  {"not 49's", "Allow"},
	}
	own, other := GoogleReads(byRead, 49, 50)
	require.Equal(t, Decision{"own", "Allow"}, own)
	require.Equal(t, Decision{"other", "Deny"}, other, "the last pod tries the first's bucket")
}

func TestPodArgs(t *testing.T) {
	require.Equal(t, []string{"storm-gcs", "idlab-storm-049", "secret.txt", "idlab-storm-000", "secret.txt"}, GCSArgs(49, 50))
	require.Equal(t, []string{"storm-blob", "idlabstorm", "storm-007", "secret.txt", "storm-008", "secret.txt"}, BlobArgs(7, 50))
	require.Equal(t, "storm-007@idlab.iam.gserviceaccount.com", GSAEmail(7))
	require.Equal(t, "5707e000-0000-4000-8000-000000000049", ClientID(49))
}

// TestRowsAreInTheManifest: the three storms' rows are the storm suite's
// rows in scenarios/manifest.yaml, each with its test and the slow tier,
// and nothing else is.
func TestRowsAreInTheManifest(t *testing.T) {
	m, err := report.LoadManifest("../manifest.yaml")
	require.NoError(t, err)
	var listed []report.ManifestRow
	for _, s := range m.Suites {
		if s.Package == "github.com/idlab/idlab/scenarios/storm" {
			listed = s.Rows
		}
	}
	var want []report.ManifestRow
	for _, c := range []Cloud{EKS(), GKE(), AKS()} {
		for _, r := range c.Rows(Figures{Pods: c.Pods}, "") {
			want = append(want, report.ManifestRow{ID: r.ID(), Test: c.Test, Tier: report.TierSlow})
		}
	}
	require.ElementsMatch(t, want, listed)
	require.Equal(t, "identity-storm/irsa-webhook/200-pods-each-get-their-own-role-at-once", want[0].ID, "the eks rows keep their IDs")
}

// TestRows: a storm's rows compare "N of N" and name the refusal; the
// figures and problems are the first row's reason.
func TestRows(t *testing.T) {
	c := AKS()
	f := Figures{Pods: 50, OwnRole: 49, OwnRead: 50, Denied: 48, Leaks: 1, FailedExchanges: 1, Wall: 62 * time.Second,
		ExchangeP50: 120, ExchangeP99: 900, ReadP50: 4, ReadP99: 30, Problems: []string{"storm-003: exchange failed: AADSTS700213 x"}}
	rows := c.Rows(f, Memory(1<<30, 3<<30))
	require.Len(t, rows, 3)
	for _, r := range rows {
		require.Equal(t, "identity storm", r.Suite)
		require.Equal(t, "Azure Workload Identity", r.Mechanism)
		require.Equal(t, report.TierSlow, r.Tier)
	}
	require.Equal(t, "50 pods each get their own Entra app at once", rows[0].Scenario)
	require.Equal(t, [2]string{"50 of 50", "49 of 50"}, [2]string{rows[0].Expected, rows[0].Observed})
	require.Equal(t, "50 pods done in 1m2s; Entra token p50 120 ms, p99 900 ms; Get Blob p50 4 ms, p99 30 ms; 1 failed exchanges; "+
		"first problems: storm-003: exchange failed: AADSTS700213 x", rows[0].Reason)
	require.Equal(t, "lab memory (docker stats, emulator and nodes) 1024 MiB before, 3072 MiB at peak", rows[1].Reason)
	require.Equal(t, "no pod reads another pod's blob", rows[2].Scenario)
	require.Equal(t, "0 leaks, 50 of 50 AuthorizationPermissionMismatch", rows[2].Expected)
	require.Equal(t, "1 leaks, 48 of 50 AuthorizationPermissionMismatch", rows[2].Observed)
}
