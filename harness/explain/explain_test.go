package explain

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/decisionlog"
)

const (
	host     = "oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	account  = "111122223333"
	provider = "arn:aws:iam::" + account + ":oidc-provider/" + host
	role     = "arn:aws:iam::" + account + ":role/payments"
)

var at = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// decide runs a real IAM evaluation and returns its log entry: a web
// identity for sub against a trust policy copied from a real account, or
// an S3 read by that role's session.
func decide(t *testing.T, action, sub string) decisionlog.Entry {
	t.Helper()
	i, err := awsiam.New(awsiam.Options{Now: func() time.Time { return at }})
	require.NoError(t, err)
	require.NoError(t, i.LoadFixtureYAML("f.yaml", []byte(`accounts:
  - id: "`+account+`"
    roles:
      - name: payments
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Sid: PaymentsAPI
              Effect: Allow
              Principal: {Federated: `+provider+`}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals: {"`+host+`:sub": system:serviceaccount:payments:api}
        inlinePolicies:
          read:
            Version: "2012-10-17"
            Statement:
              - {Sid: ReadReceipts, Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::receipts/*"}
`)))
	web := awsiam.Principal{Type: awsiam.PrincipalWebIdentity, ARN: provider, FederatedProvider: host}
	r, err := i.Role(role)
	require.NoError(t, err)
	var d awsiam.Decision
	if action == "s3:GetObject" {
		p := awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: account, ARN: "arn:aws:sts::" + account + ":assumed-role/payments/s1", RoleARN: role}
		d = i.Authorize(t.Context(), awsiam.Request{Principal: p, Action: action, Resource: "arn:aws:s3:::" + sub, RequestID: "req-s3"})
	} else {
		d = i.Authorize(t.Context(), awsiam.Request{Principal: web, Action: action, Resource: role, ResourcePolicy: r.TrustPolicy,
			ResourcePolicyName: "trust policy of " + role, RequestID: "req-1",
			Context: map[string][]string{host + ":sub": {"system:serviceaccount:payments:" + sub}, host + ":aud": {"sts.amazonaws.com"}}})
	}
	e := d.Entry()
	e.Seq = 7
	return e
}

func TestChain(t *testing.T) {
	tests := []struct {
		name string
		e    decisionlog.Entry
		want string
	}{
		{"web identity allowed", decide(t, "sts:AssumeRoleWithWebIdentity", "api"), `decision 7 at 2026-03-01T12:30:00Z, request req-1 (aws iam)
  token      iss https://` + host + `, aud sts.amazonaws.com, sub system:serviceaccount:payments:api
  provider   ` + provider + `
  role       ` + role + `
  trust      statement "PaymentsAPI" of trust policy of ` + role + ` (Allow)
  verdict    ALLOWED: allowed by statement "PaymentsAPI" of trust policy of ` + role + `
`},
		{"web identity denied by a condition", decide(t, "sts:AssumeRoleWithWebIdentity", "worker"), `decision 7 at 2026-03-01T12:30:00Z, request req-1 (aws iam)
  token      iss https://` + host + `, aud sts.amazonaws.com, sub system:serviceaccount:payments:worker
  provider   ` + provider + `
  role       ` + role + `
  trust      statement "PaymentsAPI" of trust policy of ` + role + ` (Allow) would allow it
  condition  StringEquals ` + host + `:sub wants "system:serviceaccount:payments:api", got "system:serviceaccount:payments:worker": it does not hold
  verdict    DENIED (implicit deny: no statement allows it): implicitly denied: statement "PaymentsAPI" of trust policy of ` + role + ` would allow it, but condition StringEquals ` + host + `:sub wants "system:serviceaccount:payments:api", got "system:serviceaccount:payments:worker"
`},
		{"policy allowed", decide(t, "s3:GetObject", "receipts/2026/03.pdf"), `decision 7 at 2026-03-01T12:30:00Z, request req-s3 (aws iam)
  principal  arn:aws:sts::111122223333:assumed-role/payments/s1
  action     s3:GetObject on arn:aws:s3:::receipts/2026/03.pdf
  policy     statement "ReadReceipts" of ` + role + ` inline policy read (Allow)
  verdict    ALLOWED: allowed by statement "ReadReceipts" of ` + role + ` inline policy read
`},
		{"token rejected", decisionlog.Entry{Seq: 9, Time: at, Cloud: "aws", Service: "iam", Action: "sts:AssumeRoleWithWebIdentity", Resource: role,
			Principal: `web identity "system:serviceaccount:payments:api" of issuer "https://` + host + `"`, Effect: awsiam.Rejected, Code: "InvalidIdentityToken",
			Reason: "InvalidIdentityToken: No OpenIDConnect provider found in your account for https://" + host, RequestID: "req-2"},
			`decision 9 at 2026-03-01T12:30:00Z, request req-2 (aws iam)
  token      web identity "system:serviceaccount:payments:api" of issuer "https://` + host + `"
  refused    InvalidIdentityToken: No OpenIDConnect provider found in your account for https://` + host + `
  role       ` + role + `
  verdict    REJECTED (before any policy was evaluated): InvalidIdentityToken: No OpenIDConnect provider found in your account for https://` + host + `
`},
		{"azure", decisionlog.Entry{Seq: 3, Time: at, Cloud: "azure", Service: "entra", Principal: "system:serviceaccount:a:b", Action: "entra:token",
			Resource: "api://storage", Effect: "Deny", Code: "AADSTS700213", Reason: "no matching federated identity record",
			Detail: map[string]string{"tenant": "t1", "issuer": "https://westus2.oic.prod-aks.azure.com/t1/x/"}},
			`decision 3 at 2026-03-01T12:30:00Z, request (none) (azure entra)
  principal  system:serviceaccount:a:b
  action     entra:token on api://storage
  issuer     https://westus2.oic.prod-aks.azure.com/t1/x/
  tenant     t1
  code       AADSTS700213
  verdict    DENIED: no matching federated identity record
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, Chain(&b, tc.e))
			require.Equal(t, tc.want, b.String())
		})
	}
}

func TestLine(t *testing.T) {
	e := decide(t, "sts:AssumeRoleWithWebIdentity", "worker")
	got := Line(e)
	require.True(t, strings.HasPrefix(got, "7 2026-03-01T12:30:00Z ImplicitDeny aws/iam sts:AssumeRoleWithWebIdentity "+role+" principal="+provider+" request=req-1 reason=\"implicitly denied: "), got)
	require.NotContains(t, got, "\n")
	require.Equal(t, `1 2026-03-01T12:30:00Z Allow google/gcpiam - - principal=a@b.iam.gserviceaccount.com`,
		Line(decisionlog.Entry{Seq: 1, Time: at, Cloud: "google", Service: "gcpiam", Principal: "a@b.iam.gserviceaccount.com", Effect: "Allow"}))
	require.Equal(t, `2 2026-03-01T12:30:00Z Deny azure/azureblob blob:read c/k code=AuthorizationPermissionMismatch reason="line one\nline two"`,
		Line(decisionlog.Entry{Seq: 2, Time: at, Cloud: "azure", Service: "azureblob", Action: "blob:read", Resource: "c/k", Effect: "Deny",
			Code: "AuthorizationPermissionMismatch", Reason: "line one\nline two"}))
}

func TestVerdict(t *testing.T) {
	for effect, want := range map[string]string{"Allow": "ALLOWED", "ImplicitDeny": "DENIED (implicit deny: no statement allows it)",
		"ExplicitDeny": "DENIED (explicit deny)", "Rejected": "REJECTED (before any policy was evaluated)", "Deny": "DENIED", "Odd": "ODD"} {
		require.Equal(t, want, Verdict(effect))
	}
}
