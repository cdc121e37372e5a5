package probe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseADCRun(t *testing.T) {
	out := `attempt {"ok":false,"errorCode":"NoDefaultCredentials","stage":"credentials","onGCE":false,"ms":3}
attempt {"ok":false,"errorCode":"NoDefaultCredentials","stage":"credentials","onGCE":false,"ms":1}
{"ok":false,"errorCode":"NoDefaultCredentials","attempts":[{"ok":false,"errorCode":"NoDefaultCredentials","stage":"credentials","onGCE":false,"ms":3},{"ok":false,"errorCode":"NoDefaultCredentials","stage":"credentials","onGCE":false,"ms":1}],"metadataDNS":["169.254.169.254"],"metadataPing":"refused","waitedMs":12000}
`
	run, err := ParseADCRun(out)
	require.NoError(t, err)
	require.Len(t, run.Attempts, 2)
	require.Equal(t, "NoDefaultCredentials", run.ErrorCode)
	require.Equal(t, ADCAttempt{Result: Result{ErrorCode: "NoDefaultCredentials"}, Stage: "credentials", Millis: 3}, run.Attempts[0])
	require.Equal(t, []string{"169.254.169.254"}, run.MetadataDNS)
	require.Equal(t, int64(12000), run.WaitedMillis)

	as, err := ParseAttempts(out)
	require.NoError(t, err)
	require.Equal(t, run.Attempts, as, "the attempt lines are the run's attempts")

	_, err = ParseADCRun(`{"ok":false,"errorCode":"UsageError"}`)
	require.ErrorContains(t, err, "no attempt")
	_, err = ParseAttempts("attempt {")
	require.ErrorContains(t, err, "probe attempt line")
}

// TestMetadataTokenRefused: the URL the metadata token source asks, its
// scopes query as url.Values encodes it, and the dial address with port 80
// when the host has none.
func TestMetadataTokenRefused(t *testing.T) {
	require.Equal(t,
		`Get "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.read_only": dial tcp 169.254.169.254:80: connect: connection refused`,
		MetadataTokenRefused("169.254.169.254", "https://www.googleapis.com/auth/devstorage.read_only"))
	require.Equal(t,
		`Get "http://127.0.0.1:988/computeMetadata/v1/instance/service-accounts/default/token": dial tcp 127.0.0.1:988: connect: connection refused`,
		MetadataTokenRefused("127.0.0.1:988"))
}

func FuzzParseAttempts(f *testing.F) {
	f.Add("attempt {\"ok\":true,\"onGCE\":true,\"ms\":4}\n{}")
	f.Add("attempt {\"stage\":\"token\"}\nattempt [1]\n")
	f.Add("attempt \n")
	f.Fuzz(func(t *testing.T, out string) {
		as, err := ParseAttempts(out)
		if err == nil {
			_ = len(as)
		}
		_, _ = ParseADCRun(out)
	})
}
