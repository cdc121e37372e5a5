package labenv

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecisionQueryValues(t *testing.T) {
	tests := []struct {
		name string
		q    DecisionQuery
		want url.Values
	}{
		{name: "empty", want: url.Values{}},
		{name: "step on an own resource", q: DecisionQuery{Since: "7", Action: "sts:AssumeRoleWithWebIdentity", Resource: "arn:aws:iam::1:role/r"},
			want: url.Values{"since": {"7"}, "action": {"sts:AssumeRoleWithWebIdentity"}, "resource": {"arn:aws:iam::1:role/r"}}},
		{name: "step on a shared object", q: DecisionQuery{Since: "7", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: ":assumed-role/app-a/", RequestID: "0A1B"},
			want: url.Values{"since": {"7"}, "action": {"s3:GetObject"}, "resource": {"arn:aws:s3:::b/k"}, "principal": {":assumed-role/app-a/"}, "requestId": {"0A1B"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.q.Values())
		})
	}
}
