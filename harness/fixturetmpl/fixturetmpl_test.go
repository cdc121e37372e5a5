package fixturetmpl

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	issuers := map[string]string{"existing": "https://kubernetes.default.svc.cluster.local", "aks": "https://westus2.oic.prod-aks.azure.com/T/ID/"}
	tests := []struct {
		name, in, want, errMatch string
	}{
		{name: "provider ARN and condition key", in: `Federated: arn:aws:iam::111122223333:oidc-provider/{{issuerHost "existing"}}` + "\n" + `"{{issuerHost "existing"}}:sub"`,
			want: "Federated: arn:aws:iam::111122223333:oidc-provider/kubernetes.default.svc.cluster.local\n\"kubernetes.default.svc.cluster.local:sub\""},
		{name: "issuer URL as is", in: `{{issuer "aks"}}`, want: "https://westus2.oic.prod-aks.azure.com/T/ID/"},
		{name: "host without the trailing slash", in: `{{issuerHost "aks"}}`, want: "westus2.oic.prod-aks.azure.com/T/ID"},
		{name: "no template action", in: "accounts: []\n", want: "accounts: []\n"},
		{name: "unknown cluster", in: `{{issuer "eks"}}`, errMatch: `no cluster "eks" in the lab (it has aks, existing)`},
		{name: "bad template", in: `{{issuer "eks"`, errMatch: "fixture template t.tmpl.yaml"},
		{name: "unknown function", in: `{{env "HOME"}}`, errMatch: `function "env" not defined`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render("t.tmpl.yaml", []byte(tc.in), issuers)
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestOutputName(t *testing.T) {
	for in, want := range map[string]struct {
		out string
		ok  bool
	}{"existing.tmpl.yaml": {"existing.yaml", true}, "lab.yaml": {"lab.yaml", false}, "x.tmpl.yml": {"x.tmpl.yml", false}} {
		out, ok := OutputName(in)
		require.Equal(t, want.out, out, in)
		require.Equal(t, want.ok, ok, in)
	}
}
