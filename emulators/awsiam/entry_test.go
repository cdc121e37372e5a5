package awsiam

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecisionEntryCarriesTheChain: a web identity decision's log entry
// holds what the request carried (the token's condition keys, not IAM's
// global ones), the statement that allowed it, or the statement that
// nearly did and the condition that failed.
func TestDecisionEntryCarriesTheChain(t *testing.T) {
	host := "oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	provider := "arn:aws:iam::" + acctA + ":oidc-provider/" + host
	i, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, i.AddOIDCProvider(OIDCProvider{Account: acctA, URL: "https://" + host, ClientIDs: []string{"sts.amazonaws.com"}}))
	trust := MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"PaymentsAPI","Effect":"Allow","Principal":{"Federated":"` + provider +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:sub":"system:serviceaccount:payments:api"}}}]}`)
	role := "arn:aws:iam::" + acctA + ":role/payments"
	web := Principal{Type: PrincipalWebIdentity, ARN: provider, FederatedProvider: host}
	ask := func(sub string) Decision {
		return i.Authorize(t.Context(), Request{Principal: web, Action: "sts:AssumeRoleWithWebIdentity", Resource: role,
			ResourcePolicy: trust, ResourcePolicyName: "trust policy of " + role, RequestID: "req-" + sub,
			Context: map[string][]string{host + ":sub": {"system:serviceaccount:payments:" + sub}, host + ":aud": {"sts.amazonaws.com"}}})
	}
	tests := []struct {
		sub         string
		effect      Effect
		wantMatched []MatchedStatement
		wantNear    *NearMiss
	}{
		{sub: "api", effect: Allow, wantMatched: []MatchedStatement{{Policy: "trust policy of " + role, Sid: "PaymentsAPI", Effect: "Allow"}}},
		{sub: "worker", effect: ImplicitDeny, wantNear: &NearMiss{Statement: MatchedStatement{Policy: "trust policy of " + role, Sid: "PaymentsAPI", Effect: "Allow"},
			Condition: `condition StringEquals ` + host + `:sub wants "system:serviceaccount:payments:api", got "system:serviceaccount:payments:worker"`}},
	}
	for _, tc := range tests {
		t.Run(tc.sub, func(t *testing.T) {
			d := ask(tc.sub)
			require.Equal(t, tc.effect, d.Effect)
			e := d.Entry()
			var keys map[string][]string
			require.NoError(t, json.Unmarshal([]byte(e.Detail[DetailKeys]), &keys))
			require.Equal(t, map[string][]string{host + ":sub": {"system:serviceaccount:payments:" + tc.sub}, host + ":aud": {"sts.amazonaws.com"}}, keys,
				"the request's keys, not aws:CurrentTime and the other global ones")
			if tc.wantMatched != nil {
				var m []MatchedStatement
				require.NoError(t, json.Unmarshal([]byte(e.Detail[DetailMatched]), &m))
				require.Equal(t, tc.wantMatched, m)
			} else {
				require.NotContains(t, e.Detail, DetailMatched)
			}
			if tc.wantNear != nil {
				var n NearMiss
				require.NoError(t, json.Unmarshal([]byte(e.Detail[DetailNear]), &n))
				require.Equal(t, *tc.wantNear, n)
				require.Contains(t, d.Reason, n.Condition, "the near miss is the one the reason names")
			} else {
				require.NotContains(t, e.Detail, DetailNear)
			}
		})
	}
	// A request without keys of its own (an S3 call) has no keys entry.
	d := i.Authorize(t.Context(), Request{Principal: web, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"})
	require.NotContains(t, d.Entry().Detail, DetailKeys)
}
