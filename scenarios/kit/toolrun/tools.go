package toolrun

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// rcloneEnv is remote's configuration as rclone reads it from the
// environment: RCLONE_CONFIG_<REMOTE>_<OPTION>, the remote's name upper
// case (ConfigToEnv in fs/config.go of Debian's rclone 1.60.1+dfsg-2).
func rcloneEnv(remote string, opts [][2]string) []corev1.EnvVar {
	prefix := "RCLONE_CONFIG_" + strings.ToUpper(remote) + "_"
	out := make([]corev1.EnvVar, 0, len(opts))
	for _, o := range opts {
		out = append(out, corev1.EnvVar{Name: prefix + strings.ToUpper(o[0]), Value: o[1]})
	}
	return out
}

// RcloneS3Env is an S3 remote that takes its credentials from the runtime
// (env_auth): with no keys in the configuration rclone 1.60 hands the AWS
// SDK's session its own chain (env keys, then web identity from
// AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which the IRSA webhook
// sets; backend/s3/s3.go s3Connection of Debian's rclone 1.60.1+dfsg-2).
// region is the bucket's: rclone sets us-east-1 when none is given and
// does not read AWS_REGION for it.
func RcloneS3Env(remote, region string) []corev1.EnvVar {
	return rcloneEnv(remote, [][2]string{{"type", "s3"}, {"provider", "AWS"}, {"env_auth", "true"}, {"region", region}})
}

// RcloneGCSEnv is a Cloud Storage remote with no credentials of its own:
// rclone 1.60, finding no service account and no OAuth token in the
// configuration, falls back to Application Default Credentials
// (golang.org/x/oauth2/google.DefaultClient), which end at the GKE
// metadata server (backend/googlecloudstorage NewFs, Debian's 1.60.1).
func RcloneGCSEnv(remote string) []corev1.EnvVar {
	return rcloneEnv(remote, [][2]string{{"type", "google cloud storage"}})
}

// RcloneAzureBlobEnv is a Blob Storage remote naming only its account, as
// a workload-identity pod would configure it: rclone 1.60's azureblob
// backend knows account keys, SAS URLs, a service principal file (a
// client secret), the storage emulator and IMDS managed identity
// (use_msi), and nothing that reads AZURE_FEDERATED_TOKEN_FILE
// (backend/azureblob/azureblob.go NewFs of Debian's 1.60.1: the switch
// ends in "no authentication method configured"). Upstream added env_auth
// in v1.61 (rclone/rclone#6132) and workload identity through it later
// (rclone/rclone#7001).
func RcloneAzureBlobEnv(remote, account string) []corev1.EnvVar {
	return rcloneEnv(remote, [][2]string{{"type", "azureblob"}, {"account", account}})
}

// ObjectFile is where the copy steps put the object they read.
const ObjectFile = "/tmp/idlab-object"

// RcloneCopy is `rclone copyto REMOTE:BUCKET/KEY ObjectFile`: one object,
// no listing when it is readable (copyto looks the object up by name; a
// lookup that fails makes rclone take the path for a directory and list
// it, so a refused read shows as the listing's refusal).
func RcloneCopy(remote, bucket, key string) Step {
	return Step{Name: "rclone-copyto", Shell: "rclone copyto " + Quote(remote+":"+bucket+"/"+key) + " " + ObjectFile}
}

// CatObject prints ObjectFile: the object a copy step read.
func CatObject() Step { return Step{Name: "cat", Shell: "cat " + ObjectFile} }

// AzLogin is the login of the issue, with the token Azure Workload
// Identity projects and the variables its webhook sets:
//
//	az login --federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)" --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID
//
// allowNoSubscriptions adds --allow-no-subscriptions.
func AzLogin(allowNoSubscriptions bool) Step {
	s := `az login --federated-token "$(cat $AZURE_FEDERATED_TOKEN_FILE)" --service-principal -u $AZURE_CLIENT_ID -t $AZURE_TENANT_ID`
	if allowNoSubscriptions {
		s += " --allow-no-subscriptions"
	}
	return Step{Name: "az-login", Shell: s}
}

// AzBlobDownload is `az storage blob download --auth-mode login` of
// account/container/blob into ObjectFile.
func AzBlobDownload(account, container, blob string) Step {
	return Step{Name: "az-blob-download", Shell: "az storage blob download --account-name " + Quote(account) + " --container-name " + Quote(container) +
		" --name " + Quote(blob) + " --file " + ObjectFile + " --auth-mode login"}
}

// Outcome is what a tool reported for one step: OK, or the cloud's error
// Code ("" when the tool printed none) with the tool's Message and the
// RequestID it named, if any.
type Outcome struct {
	OK        bool
	Code      string
	Message   string
	RequestID string
}

// rclone's last words on a failed command: "Failed to COMMAND: ERROR"
// (cmd.Run's fatal log line), after a log time stamp.
var rcloneFailedRE = regexp.MustCompile(`(?m)^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?Failed to [a-z]+(?: file system for "[^"]*")?: `)

// awsErrRE is an aws-sdk-go (v1) error: "Code: message", its causes on
// "caused by:" lines, then "\tstatus code: N, request id: ID[, host id: H]".
var (
	awsCodeRE      = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9.]*): `)
	awsCausedRE    = regexp.MustCompile(`(?m)^caused by: ([A-Za-z][A-Za-z0-9.]*): (.*)$`)
	awsRequestIDRE = regexp.MustCompile(`status code: \d+, request id: ([^,\s]+)`)
	// googleapi.Error: "googleapi: Error 403: message, reason".
	googleErrRE = regexp.MustCompile(`^googleapi: Error (\d+): (.*?)(?:, ([a-zA-Z]+))?$`)
)

// RcloneOutcome reads what rclone reported in a step's output. A failure
// is read from its last line (Failed to ...): an AWS error gives its
// innermost code (the cause of a WebIdentityErr is STS's refusal) and the
// request ID; a Cloud Storage error gives HTTP<status> (the code the Go
// probe's rows use); anything else keeps the message with no code.
func RcloneOutcome(r Result) (Outcome, error) {
	if r.OK() {
		return Outcome{OK: true}, nil
	}
	locs := rcloneFailedRE.FindAllStringIndex(r.Output, -1)
	if len(locs) == 0 {
		return Outcome{}, fmt.Errorf("toolrun: rclone step %s (exit %d) printed no failure line: %q", r.Name, r.Exit, r.Output)
	}
	msg := strings.TrimSpace(r.Output[locs[len(locs)-1][1]:])
	o := Outcome{Message: msg}
	first, _, _ := strings.Cut(msg, "\n")
	switch {
	case googleErrRE.MatchString(first):
		m := googleErrRE.FindStringSubmatch(first)
		o.Code = "HTTP" + m[1]
	case awsCodeRE.MatchString(first):
		o.Code = awsCodeRE.FindStringSubmatch(first)[1]
		if c := awsCausedRE.FindAllStringSubmatch(msg, -1); len(c) > 0 {
			o.Code = c[len(c)-1][1]
		}
		if m := awsRequestIDRE.FindStringSubmatch(msg); m != nil {
			o.RequestID = m[1]
		}
	}
	return o, nil
}

// az's error lines: "ERROR: message" (knack's logger), the message
// possibly on the lines after.
var (
	azErrorRE  = regexp.MustCompile(`(?m)^ERROR: `)
	aadstsRE   = regexp.MustCompile(`^(AADSTS\d+): `)
	azTraceRE  = regexp.MustCompile(`Trace ID: ([0-9a-fA-F-]+)`)
	azNoSubsRE = regexp.MustCompile(`^No subscriptions found for (.+)\.$`)
)

// AzPermissionMismatch is the first line of what azure-cli 2.45 prints in
// place of Azure Storage's AuthorizationPermissionMismatch (its storage
// module's 403 handler, azure/cli/command_modules/storage/__init__.py
// get_handler_suppress_some_400, rewrites exactly that code's message).
const AzPermissionMismatch = "You do not have the required permissions needed to perform this operation."

// NoSubscriptions is the Code AzOutcome gives az login's refusal when
// Resource Manager listed no subscription (azure-cli 2.45
// azure/cli/core/_profile.py Profile.login: "No subscriptions found for
// {username}." unless --allow-no-subscriptions); az prints no code of its
// own for it.
const NoSubscriptions = "No subscriptions found"

// AzOutcome reads what az reported in a step's output: Entra's AADSTS code
// and its Trace ID (Entra's request ID) for a refused login,
// NoSubscriptions for a login whose tenant listed none,
// AuthorizationPermissionMismatch for az's message that stands for it, or
// the message with no code.
func AzOutcome(r Result) (Outcome, error) {
	if r.OK() {
		return Outcome{OK: true}, nil
	}
	loc := azErrorRE.FindStringIndex(r.Output)
	if loc == nil {
		return Outcome{}, fmt.Errorf("toolrun: az step %s (exit %d) printed no ERROR line: %q", r.Name, r.Exit, r.Output)
	}
	msg := strings.TrimSpace(r.Output[loc[1]:])
	o := Outcome{Message: msg}
	first, _, _ := strings.Cut(msg, "\n")
	switch {
	case aadstsRE.MatchString(first):
		o.Code = aadstsRE.FindStringSubmatch(first)[1]
		if m := azTraceRE.FindStringSubmatch(first); m != nil {
			o.RequestID = m[1]
		}
	case azNoSubsRE.MatchString(first):
		o.Code = NoSubscriptions
	case first == AzPermissionMismatch:
		o.Code = "AuthorizationPermissionMismatch"
	}
	return o, nil
}

// AzAccount is one entry of az login's output (its subscriptions, or the
// tenant-level account --allow-no-subscriptions makes).
type AzAccount struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TenantID string `json:"tenantId"`
	State    string `json:"state"`
	User     struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"user"`
}

// AzAccounts reads the JSON list az login printed (from the line that
// opens it to the last closing bracket; az's warnings come before it).
func AzAccounts(r Result) ([]AzAccount, error) {
	start := strings.Index("\n"+r.Output, "\n[")
	end := strings.LastIndex(r.Output, "]")
	if start < 0 || end < start {
		return nil, fmt.Errorf("toolrun: az login printed no account list: %q", r.Output)
	}
	var out []AzAccount
	if err := json.Unmarshal([]byte(r.Output[start:end+1]), &out); err != nil {
		return nil, fmt.Errorf("toolrun: az login's account list: %w", err)
	}
	return out, nil
}
