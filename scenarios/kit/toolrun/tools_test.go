package toolrun

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// testdata/*.log are pod logs as Script makes them, captured by running
// the scripts with sh against the lab's composed cloud on loopback
// (requests sent to it through an HTTPS proxy, in place of cluster DNS)
// with Debian bookworm's rclone 1.60.1+dfsg-2+b5 and azure-cli 2.45.0-1,
// unpacked from their .debs, and the lab's fixtures: what those tools
// print, byte for byte.
func readLog(t *testing.T, name string) []Result {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	rs, err := Parse(string(raw))
	require.NoError(t, err)
	return rs
}

func TestOutcomesOfCapturedLogs(t *testing.T) {
	const permission = AzPermissionMismatch + "\nDepending on your operation, you may need to be assigned one of the following roles:"
	for _, tc := range []struct {
		log, step string
		outcome   func(Result) (Outcome, error)
		want      Outcome
		prefix    string // of Message, when it is long
		object    string // what the cat step printed
	}{
		{log: "rclone-s3-own.log", step: "rclone-copyto", outcome: RcloneOutcome, want: Outcome{OK: true}, object: "hello from app-a-data"},
		// The HEAD rclone sends first is refused too; rclone swallows
		// that, takes the path for a directory and reports the listing's
		// refusal.
		{log: "rclone-s3-other-bucket.log", step: "rclone-copyto", outcome: RcloneOutcome,
			want: Outcome{Code: "AccessDenied", RequestID: "0FC8F611639284AF"}, prefix: "AccessDenied: Access Denied\n\tstatus code: 403, request id: 0FC8F611639284AF"},
		{log: "rclone-s3-unbound.log", step: "rclone-copyto", outcome: RcloneOutcome,
			want:   Outcome{Code: "AccessDenied", RequestID: "REQ"},
			prefix: "WebIdentityErr: failed to retrieve credentials\ncaused by: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{log: "rclone-gcs-own.log", step: "rclone-copyto", outcome: RcloneOutcome, want: Outcome{OK: true}, object: "hello from team-a-data"},
		{log: "rclone-gcs-other-bucket.log", step: "rclone-copyto", outcome: RcloneOutcome, want: Outcome{Code: "HTTP403"},
			prefix: "googleapi: Error 403: team-a-reader@idlab.iam.gserviceaccount.com does not have storage.objects.list access to the Google Cloud Storage bucket."},
		{log: "rclone-azblob.log", step: "rclone-copyto", outcome: RcloneOutcome, want: Outcome{Message: "no authentication method configured"}},
		{log: "az-own.log", step: "az-login", outcome: AzOutcome, want: Outcome{OK: true}},
		{log: "az-own.log", step: "az-blob-download", outcome: AzOutcome, want: Outcome{OK: true}, object: "hello from team-a-data"},
		{log: "az-other-container.log", step: "az-blob-download", outcome: AzOutcome, want: Outcome{Code: "AuthorizationPermissionMismatch"}, prefix: permission},
		{log: "az-norbac.log", step: "az-login", outcome: AzOutcome,
			want: Outcome{Code: NoSubscriptions, Message: "No subscriptions found for 0d444444-4444-4444-8444-444444444444."}},
		{log: "az-norbac-allow.log", step: "az-blob-download", outcome: AzOutcome, want: Outcome{Code: "AuthorizationPermissionMismatch"}, prefix: permission},
		{log: "az-unfederated.log", step: "az-login", outcome: AzOutcome, want: Outcome{Code: "AADSTS700213", RequestID: "TRACE"},
			prefix: "AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:idlab-thirdparty:az-other'."},
	} {
		t.Run(tc.log+"/"+tc.step, func(t *testing.T) {
			rs := readLog(t, tc.log)
			r, ok := Find(rs, tc.step)
			require.True(t, ok, "%s ran %+v", tc.log, rs)
			got, err := tc.outcome(r)
			require.NoError(t, err)
			if tc.prefix != "" {
				require.Contains(t, got.Message, tc.prefix)
				tc.want.Message = got.Message
			}
			if tc.want.RequestID == "REQ" || tc.want.RequestID == "TRACE" {
				require.Regexp(t, `^[0-9a-f-]{36}$`, got.RequestID)
				tc.want.RequestID = got.RequestID
			}
			require.Equal(t, tc.want, got)
			if tc.object != "" {
				cat, ok := Find(rs, "cat")
				require.True(t, ok)
				require.True(t, cat.OK())
				require.Equal(t, tc.object, cat.Output)
			}
			if !got.OK {
				_, ran := Find(rs, "cat")
				require.False(t, ran, "no step runs after a failure")
			}
		})
	}
}

func TestOutcomeWithoutAnErrorLine(t *testing.T) {
	failed := Result{Name: "x", Output: "Segmentation fault\n", Exit: 139, Done: true}
	_, err := RcloneOutcome(failed)
	require.ErrorContains(t, err, "printed no failure line")
	_, err = AzOutcome(failed)
	require.ErrorContains(t, err, "printed no ERROR line")
	cut := Result{Name: "x", Output: "partial"}
	o, err := RcloneOutcome(Result{Name: "x", Output: "2026/12/07 05:09:16 Failed to copyto: googleapi: Error 500: boom\n", Exit: 1, Done: true})
	require.NoError(t, err)
	require.Equal(t, Outcome{Code: "HTTP500", Message: "googleapi: Error 500: boom"}, o)
	require.False(t, cut.OK(), "a step the log cut off did not succeed")
}

func TestAzAccounts(t *testing.T) {
	for _, tc := range []struct {
		log              string
		id, name, tenant string
		user             string
	}{
		{"az-own.log", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "0c333333-3333-4333-8333-333333333333"},
		{"az-norbac-allow.log", "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "N/A(tenant level account)", "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "0d444444-4444-4444-8444-444444444444"},
	} {
		t.Run(tc.log, func(t *testing.T) {
			r, ok := Find(readLog(t, tc.log), "az-login")
			require.True(t, ok)
			accts, err := AzAccounts(r)
			require.NoError(t, err)
			require.Len(t, accts, 1)
			a := accts[0]
			require.Equal(t, []string{tc.id, tc.name, tc.tenant, tc.user, "servicePrincipal"}, []string{a.ID, a.Name, a.TenantID, a.User.Name, a.User.Type})
		})
	}
	_, err := AzAccounts(Result{Output: "WARNING: nothing\n"})
	require.Error(t, err)
}

func TestRcloneEnv(t *testing.T) {
	env := func(kv ...string) []corev1.EnvVar {
		var out []corev1.EnvVar
		for i := 0; i < len(kv); i += 2 {
			out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	require.Equal(t, env("RCLONE_CONFIG_S3_TYPE", "s3", "RCLONE_CONFIG_S3_PROVIDER", "AWS", "RCLONE_CONFIG_S3_ENV_AUTH", "true", "RCLONE_CONFIG_S3_REGION", "us-west-2"),
		RcloneS3Env("s3", "us-west-2"))
	require.Equal(t, env("RCLONE_CONFIG_GCS_TYPE", "google cloud storage"), RcloneGCSEnv("gcs"))
	require.Equal(t, env("RCLONE_CONFIG_AZBLOB_TYPE", "azureblob", "RCLONE_CONFIG_AZBLOB_ACCOUNT", "idlab"), RcloneAzureBlobEnv("azblob", "idlab"))
}

func TestCommandLines(t *testing.T) {
	for _, tc := range []struct {
		step Step
		want string
	}{
		{RcloneCopy("s3", "app-a-data", "hello.txt"), "rclone copyto s3:app-a-data/hello.txt /tmp/idlab-object"},
		{RcloneCopy("gcs", "b", "a key"), "rclone copyto 'gcs:b/a key' /tmp/idlab-object"},
		{CatObject(), "cat /tmp/idlab-object"},
		{AzLogin(false), `az login --federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)" --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID`},
		{AzLogin(true), `az login --federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)" --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID --allow-no-subscriptions`},
		{AzBlobDownload("idlab", "team-a-data", "hello.txt"),
			"az storage blob download --account-name idlab --container-name team-a-data --name hello.txt --file /tmp/idlab-object --auth-mode login"},
	} {
		require.Equal(t, tc.want, tc.step.Shell)
	}
}
