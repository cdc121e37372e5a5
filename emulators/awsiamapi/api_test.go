package awsiamapi

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/golden"
	"github.com/idlab/idlab/internal/sigv4"
)

const acct = "111122223333"

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// lab is a store with the lab's admin in acct, a user allowed nothing
// ("nobody"), a user allowed iam:GetRole on role app only and denied
// iam:DeleteRole ("narrow"), and the API over it.
type lab struct {
	iam                            *awsiam.IAM
	h                              *Handler
	admin, nobody, narrow, session awsiam.Credentials
}

func newLab(t *testing.T) *lab {
	t.Helper()
	iam, err := awsiam.New(awsiam.Options{Now: func() time.Time { return epoch }})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("lab.yaml", []byte(`accounts:
  - id: "`+acct+`"
    users:
      - name: nobody
      - name: narrow
        inlinePolicies:
          only-app:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: "iam:GetRole", Resource: "arn:aws:iam::`+acct+`:role/app"}
              - {Effect: Allow, Action: "iam:*", Resource: "*"}
              - {Effect: Deny, Action: "iam:DeleteRole", Resource: "*"}
`)))
	l := &lab{iam: iam}
	l.admin, err = iam.EnsureAdmin(acct)
	require.NoError(t, err)
	l.nobody, err = iam.CreateAccessKey(acct, "nobody")
	require.NoError(t, err)
	l.narrow, err = iam.CreateAccessKey(acct, "narrow")
	require.NoError(t, err)
	s, err := iam.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: acct,
		ARN: "arn:aws:sts::" + acct + ":assumed-role/app/s", RoleARN: "arn:aws:iam::" + acct + ":role/app", SessionName: "s"}})
	require.NoError(t, err)
	l.session = s.Credentials
	l.h, err = New(Options{IAM: iam})
	require.NoError(t, err)
	return l
}

// do sends params as a form POST signed with creds (unsigned for the zero
// Credentials) and returns the status and body.
func (l *lab) do(t *testing.T, creds awsiam.Credentials, params url.Values) (int, string) {
	t.Helper()
	if !params.Has("Version") {
		params.Set("Version", APIVersion)
	}
	body := []byte(params.Encode())
	r := httptest.NewRequest(http.MethodPost, "https://iam.amazonaws.com/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if creds.AccessKeyID != "" {
		require.NoError(t, sigv4.Sign(r, body, sigv4.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
			SessionToken: creds.SessionToken}, "us-east-1", "iam", epoch))
	}
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// ok sends a request the admin makes and expects 200.
func (l *lab) ok(t *testing.T, kv ...string) string {
	t.Helper()
	status, body := l.do(t, l.admin, form(kv...))
	require.Equal(t, http.StatusOK, status, body)
	return body
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

const readAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`

// The answers to bad requests: status, code and IAM's message.
func TestErrors(t *testing.T) {
	l := newLab(t)
	l.ok(t, "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument", trust)
	l.ok(t, "Action", "CreatePolicy", "PolicyName", "p", "PolicyDocument", readAll)
	l.ok(t, "Action", "CreateUser", "UserName", "two-keys")
	l.ok(t, "Action", "CreateAccessKey", "UserName", "two-keys")
	l.ok(t, "Action", "CreateAccessKey", "UserName", "two-keys")
	tests := []struct {
		name   string
		creds  *awsiam.Credentials
		params url.Values
		status int
		want   string // <Code>...</Code><Message>...</Message>
	}{
		{"unsigned", &awsiam.Credentials{}, form("Action", "ListRoles"), 403,
			"<Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message>"},
		{"unknown key", &awsiam.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, form("Action", "ListRoles"), 403,
			"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"},
		{"unknown action", nil, form("Action", "AssumeRole"), 400,
			"<Code>InvalidAction</Code><Message>Could not find operation AssumeRole for version 2010-05-08</Message>"},
		{"another version", nil, form("Action", "ListRoles", "Version", "2011-06-15"), 400,
			"<Code>InvalidAction</Code><Message>Could not find operation ListRoles for version 2011-06-15</Message>"},
		{"nothing given", nil, form("Action", "CreateRole"), 400,
			"<Code>ValidationError</Code><Message>2 validation errors detected: Value null at &#39;roleName&#39; failed to satisfy constraint: Member must not be null; " +
				"Value null at &#39;assumeRolePolicyDocument&#39; failed to satisfy constraint: Member must not be null</Message>"},
		{"bad path and duration", nil, form("Action", "CreateRole", "RoleName", "r", "Path", "nope", "MaxSessionDuration", "60", "AssumeRolePolicyDocument", trust), 400,
			"<Code>ValidationError</Code><Message>2 validation errors detected: Value &#39;nope&#39; at &#39;path&#39; failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007F]+\\u002F); " +
				"Value &#39;60&#39; at &#39;maxSessionDuration&#39; failed to satisfy constraint: Member must have value greater than or equal to 3600</Message>"},
		{"syntax error", nil, form("Action", "CreateRole", "RoleName", "r", "AssumeRolePolicyDocument", "{"), 400,
			"<Code>MalformedPolicyDocument</Code><Message>Syntax errors in policy.</Message>"},
		{"identity policy as trust", nil, form("Action", "CreateRole", "RoleName", "r", "AssumeRolePolicyDocument", readAll), 400,
			"<Code>MalformedPolicyDocument</Code><Message>Missing required field Principal</Message>"},
		{"boundary", nil, form("Action", "CreateRole", "RoleName", "r", "AssumeRolePolicyDocument", trust, "PermissionsBoundary", "arn:aws:iam::aws:policy/PowerUserAccess"), 400,
			"<Code>InvalidInput</Code><Message>idlab does not evaluate permissions boundaries; create the entity without PermissionsBoundary</Message>"},
		{"exists", nil, form("Action", "CreateRole", "RoleName", "APP", "AssumeRolePolicyDocument", trust), 409,
			"<Code>EntityAlreadyExists</Code><Message>Role with name APP already exists.</Message>"},
		{"no such role", nil, form("Action", "GetRole", "RoleName", "nope"), 404,
			"<Code>NoSuchEntity</Code><Message>The role with name nope cannot be found.</Message>"},
		{"no such inline policy", nil, form("Action", "GetRolePolicy", "RoleName", "app", "PolicyName", "nope"), 404,
			"<Code>NoSuchEntity</Code><Message>The role policy with name nope cannot be found.</Message>"},
		{"attach a policy that is not there", nil, form("Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":policy/nope"), 404,
			"<Code>NoSuchEntity</Code><Message>Policy arn:aws:iam::111122223333:policy/nope does not exist or is not attachable.</Message>"},
		{"attach something that is no policy", nil, form("Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":role/app"), 400,
			"<Code>InvalidInput</Code><Message>ARN arn:aws:iam::111122223333:role/app is not valid.</Message>"},
		{"a third key", nil, form("Action", "CreateAccessKey", "UserName", "two-keys"), 409,
			"<Code>LimitExceeded</Code><Message>Cannot exceed quota for AccessKeysPerUser: 2</Message>"},
		{"access key for no user", &l.session, form("Action", "CreateAccessKey"), 400,
			"<Code>ValidationError</Code><Message>Must specify userName when calling with non-User credentials</Message>"},
		{"bad marker", nil, form("Action", "ListRoles", "Marker", "!!"), 400,
			"<Code>InvalidInput</Code><Message>Invalid Marker.</Message>"},
		{"provider without https", nil, form("Action", "CreateOpenIDConnectProvider", "Url", "http://x.example", "ThumbprintList", ""), 400,
			"<Code>InvalidInput</Code><Message>Invalid URL: the provider URL must begin with https://</Message>"},
		{"short thumbprint", nil, form("Action", "CreateOpenIDConnectProvider", "Url", "https://x.example", "ThumbprintList.member.1", "abc"), 400,
			"<Code>ValidationError</Code><Message>1 validation error detected: Value &#39;abc&#39; at &#39;thumbprintList.member&#39; failed to satisfy constraint: Member must have length greater than or equal to 40</Message>"},
		{"nobody may list roles", &l.nobody, form("Action", "ListRoles"), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::111122223333:role/ " +
				"because no identity-based policy allows the iam:ListRoles action</Message>"},
		{"nobody may not even learn a role is missing", &l.nobody, form("Action", "GetRole", "RoleName", "nope"), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:GetRole on resource: role nope " +
				"because no identity-based policy allows the iam:GetRole action</Message>"},
		{"an explicit deny", &l.narrow, form("Action", "DeleteRole", "RoleName", "app"), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/narrow is not authorized to perform: iam:DeleteRole on resource: role app " +
				"with an explicit deny in an identity-based policy</Message>"},
		{"nobody may create a role", &l.nobody, form("Action", "CreateRole", "RoleName", "r", "Path", "/p/", "AssumeRolePolicyDocument", trust), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::111122223333:role/p/r " +
				"because no identity-based policy allows the iam:CreateRole action</Message>"},
		{"nobody may read another user", &l.nobody, form("Action", "GetUser", "UserName", "narrow"), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: iam:GetUser on resource: user narrow " +
				"because no identity-based policy allows the iam:GetUser action</Message>"},
		{"another account's policy", nil, form("Action", "GetPolicy", "PolicyArn", "arn:aws:iam::999999999999:policy/p"), 403,
			"<Code>AccessDenied</Code><Message>User: arn:aws:iam::111122223333:user/idlab/idlab-admin is not authorized to perform: iam:GetPolicy on resource: arn:aws:iam::999999999999:policy/p " +
				"because no identity-based policy allows the iam:GetPolicy action</Message>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := l.admin
			if tc.creds != nil {
				creds = *tc.creds
			}
			status, body := l.do(t, creds, tc.params)
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>`+tc.want+`</Error><RequestId>`)
		})
	}
}

// A role's whole life at the API, and its effect at the store STS and S3
// read.
func TestRoleLifecycle(t *testing.T) {
	l := newLab(t)
	body := l.ok(t, "Action", "CreateRole", "RoleName", "app", "Path", "/team/", "AssumeRolePolicyDocument", trust,
		"Description", "the app", "MaxSessionDuration", "7200", "Tags.member.1.Key", "team", "Tags.member.1.Value", "a")
	require.Contains(t, body, "<Arn>arn:aws:iam::111122223333:role/team/app</Arn>")
	l.ok(t, "Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "read", "PolicyDocument", readAll)
	l.ok(t, "Action", "CreatePolicy", "PolicyName", "managed", "PolicyDocument", readAll)
	l.ok(t, "Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":policy/managed")
	l.ok(t, "Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":policy/managed") // again: no change
	l.ok(t, "Action", "TagRole", "RoleName", "app", "Tags.member.1.Key", "env", "Tags.member.1.Value", "dev")
	l.ok(t, "Action", "UntagRole", "RoleName", "app", "TagKeys.member.1", "team")
	require.Contains(t, l.ok(t, "Action", "UpdateRole", "RoleName", "app", "Description", "still the app"), "<UpdateRoleResult></UpdateRoleResult>",
		"UpdateRole has an (empty) output in IAM's model, which the SDKs read")

	r, err := l.iam.Role("arn:aws:iam::" + acct + ":role/team/app")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"env": "dev"}, r.Tags)
	require.Equal(t, []string{"arn:aws:iam::" + acct + ":policy/managed"}, r.ManagedPolicyARNs)
	require.Equal(t, 2*time.Hour, r.MaxSessionDuration)
	require.Equal(t, "still the app", r.Description)

	golden.File(t, "testdata/getrole.xml", []byte(normalize(l.ok(t, "Action", "GetRole", "RoleName", "app"))))
	golden.File(t, "testdata/getrolepolicy.xml", []byte(normalize(l.ok(t, "Action", "GetRolePolicy", "RoleName", "app", "PolicyName", "read"))))
	require.Contains(t, l.ok(t, "Action", "ListRolePolicies", "RoleName", "app"), "<PolicyNames><member>read</member></PolicyNames>")
	require.Contains(t, l.ok(t, "Action", "ListAttachedRolePolicies", "RoleName", "app"),
		"<AttachedPolicies><member><PolicyName>managed</PolicyName><PolicyArn>arn:aws:iam::111122223333:policy/managed</PolicyArn></member></AttachedPolicies>")
	require.Contains(t, l.ok(t, "Action", "ListRoleTags", "RoleName", "app"), "<Tags><member><Key>env</Key><Value>dev</Value></member></Tags><IsTruncated>false</IsTruncated>")
	require.Contains(t, l.ok(t, "Action", "GetPolicy", "PolicyArn", "arn:aws:iam::"+acct+":policy/managed"), "<AttachmentCount>1</AttachmentCount>")

	status, body := l.do(t, l.admin, form("Action", "DeleteRole", "RoleName", "app"))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "<Code>DeleteConflict</Code><Message>Cannot delete entity, must delete policies first.</Message>")
	l.ok(t, "Action", "DeleteRolePolicy", "RoleName", "app", "PolicyName", "read")
	status, body = l.do(t, l.admin, form("Action", "DeleteRole", "RoleName", "app"))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "<Message>Cannot delete entity, must detach all policies first.</Message>")
	l.ok(t, "Action", "DetachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":policy/managed")
	// An action without output answers with the metadata alone.
	require.Equal(t, `<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata></DeleteRoleResponse>`,
		normalize(l.ok(t, "Action", "DeleteRole", "RoleName", "app")))
	_, err = l.iam.Role("arn:aws:iam::" + acct + ":role/team/app")
	require.ErrorIs(t, err, awsiam.ErrNoSuchEntity)
}

// normalize replaces the request ID, which is random.
func normalize(body string) string {
	i := strings.Index(body, "<RequestId>")
	j := strings.Index(body, "</RequestId>")
	if i < 0 || j < i {
		return body
	}
	return body[:i] + "<RequestId>REQUEST-ID" + body[j:]
}

// Lists page with MaxItems and the Marker they hand back.
func TestListRolesPages(t *testing.T) {
	l := newLab(t)
	for _, n := range []string{"c", "A", "b", "d", "e"} {
		l.ok(t, "Action", "CreateRole", "RoleName", n, "AssumeRolePolicyDocument", trust)
	}
	type page struct {
		Names       []string `xml:"ListRolesResult>Roles>member>RoleName"`
		IsTruncated bool     `xml:"ListRolesResult>IsTruncated"`
		Marker      string   `xml:"ListRolesResult>Marker"`
	}
	var got []string
	marker := ""
	for k := 0; k < 5; k++ {
		params := []string{"Action", "ListRoles", "MaxItems", "2"}
		if marker != "" {
			params = append(params, "Marker", marker)
		}
		var p page
		require.NoError(t, xml.Unmarshal([]byte(l.ok(t, params...)), &p))
		got = append(got, p.Names...)
		if !p.IsTruncated {
			require.Empty(t, p.Marker)
			break
		}
		require.NotEmpty(t, p.Marker)
		marker = p.Marker
	}
	require.Equal(t, []string{"A", "b", "c", "d", "e"}, got)
	var p page
	require.NoError(t, xml.Unmarshal([]byte(l.ok(t, "Action", "ListRoles", "PathPrefix", "/none/")), &p))
	require.Empty(t, p.Names)
	require.Contains(t, l.ok(t, "Action", "ListRoles", "PathPrefix", "/none/"), "<Roles></Roles>", "an empty list is still there")
}

func TestPolicyVersions(t *testing.T) {
	l := newLab(t)
	arn := "arn:aws:iam::" + acct + ":policy/p"
	l.ok(t, "Action", "CreatePolicy", "PolicyName", "p", "PolicyDocument", readAll, "Description", "reads")
	for v := 2; v <= 5; v++ {
		l.ok(t, "Action", "CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", readAll, "SetAsDefault", "true")
	}
	status, body := l.do(t, l.admin, form("Action", "CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", readAll))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "<Code>LimitExceeded</Code><Message>A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.</Message>")
	status, body = l.do(t, l.admin, form("Action", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v5"))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "<Message>Cannot delete the default version of a policy.</Message>")
	l.ok(t, "Action", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v1")
	require.Contains(t, l.ok(t, "Action", "CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", readAll), "<VersionId>v6</VersionId><IsDefaultVersion>false</IsDefaultVersion>")
	require.Contains(t, l.ok(t, "Action", "GetPolicy", "PolicyArn", arn), "<DefaultVersionId>v5</DefaultVersionId>")
	golden.File(t, "testdata/getpolicyversion.xml", []byte(normalize(l.ok(t, "Action", "GetPolicyVersion", "PolicyArn", arn, "VersionId", "v6"))))
	status, body = l.do(t, l.admin, form("Action", "DeletePolicy", "PolicyArn", arn))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body, "<Code>DeleteConflict</Code><Message>This policy has more than one version.")
	for _, v := range []string{"v2", "v3", "v4", "v6"} {
		l.ok(t, "Action", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", v)
	}
	l.ok(t, "Action", "DeletePolicy", "PolicyArn", arn)
	require.Contains(t, l.ok(t, "Action", "ListPolicies", "Scope", "Local"), "<Policies></Policies>")
}

// The simulator's answer names the statements that decided, where they
// are in their documents, and the condition keys the request lacked.
func TestSimulateCustomPolicy(t *testing.T) {
	l := newLab(t)
	allow := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"Read\",\n      \"Effect\": \"Allow\",\n      \"Action\": \"s3:GetObject\",\n" +
		"      \"Resource\": \"arn:aws:s3:::b/*\",\n      \"Condition\": {\"StringEquals\": {\"aws:PrincipalTag/team\": \"a\"}}\n    }\n  ]\n}"
	deny := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret"}}`
	body := l.ok(t, "Action", "SimulateCustomPolicy", "PolicyInputList.member.1", allow, "PolicyInputList.member.2", deny,
		"ActionNames.member.1", "s3:GetObject", "ResourceArns.member.1", "arn:aws:s3:::b/report", "ResourceArns.member.2", "arn:aws:s3:::b/secret",
		"ContextEntries.member.1.ContextKeyName", "aws:PrincipalTag/team", "ContextEntries.member.1.ContextKeyType", "string",
		"ContextEntries.member.1.ContextKeyValues.member.1", "a")
	golden.File(t, "testdata/simulatecustompolicy.xml", []byte(normalize(body)))

	// Without the tag the allow's condition fails: implicit deny, and the
	// key is missing.
	body = l.ok(t, "Action", "SimulateCustomPolicy", "PolicyInputList.member.1", allow, "ActionNames.member.1", "s3:GetObject",
		"ResourceArns.member.1", "arn:aws:s3:::b/report")
	require.Contains(t, body, "<ResourceSpecificResults><member><EvalResourceName>arn:aws:s3:::b/report</EvalResourceName><EvalResourceDecision>implicitDeny</EvalResourceDecision>"+
		"<MatchedStatements></MatchedStatements><MissingContextValues><member>aws:PrincipalTag/team</member></MissingContextValues></member></ResourceSpecificResults>")
	// With no resource the simulation is on "*", which the allow's
	// resource does not cover: nothing is missing.
	body = l.ok(t, "Action", "SimulateCustomPolicy", "PolicyInputList.member.1", allow, "ActionNames.member.1", "s3:GetObject")
	require.Contains(t, body, "<EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><MatchedStatements></MatchedStatements><MissingContextValues></MissingContextValues>")
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	l := newLab(t)
	l.ok(t, "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument", trust)
	l.ok(t, "Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "read", "PolicyDocument", readAll)
	l.ok(t, "Action", "CreatePolicy", "PolicyName", "no-secrets", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret"}]}`)
	l.ok(t, "Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", "arn:aws:iam::"+acct+":policy/no-secrets")
	type result struct {
		Action   string   `xml:"EvalActionName"`
		Resource string   `xml:"EvalResourceName"`
		Decision string   `xml:"EvalDecision"`
		Sources  []string `xml:"MatchedStatements>member>SourcePolicyId"`
		Types    []string `xml:"MatchedStatements>member>SourcePolicyType"`
	}
	var out struct {
		Results []result `xml:"SimulatePrincipalPolicyResult>EvaluationResults>member"`
	}
	require.NoError(t, xml.Unmarshal([]byte(l.ok(t, "Action", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::"+acct+":role/app",
		"ActionNames.member.1", "s3:GetObject", "ActionNames.member.2", "s3:PutObject",
		"ResourceArns.member.1", "arn:aws:s3:::b/report", "ResourceArns.member.2", "arn:aws:s3:::b/secret")), &out))
	require.Equal(t, []result{
		{"s3:GetObject", "arn:aws:s3:::b/report", "allowed", []string{"read"}, []string{"role"}},
		{"s3:GetObject", "arn:aws:s3:::b/secret", "explicitDeny", []string{"no-secrets"}, []string{"user-managed"}},
		{"s3:PutObject", "arn:aws:s3:::b/report", "implicitDeny", nil, nil},
		{"s3:PutObject", "arn:aws:s3:::b/secret", "implicitDeny", nil, nil},
	}, out.Results)

	status, body := l.do(t, l.admin, form("Action", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::"+acct+":role/nope", "ActionNames.member.1", "s3:GetObject"))
	require.Equal(t, http.StatusNotFound, status, body)
	status, body = l.do(t, l.narrow, form("Action", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::"+acct+":role/app", "ActionNames.member.1", "s3:GetObject"))
	require.Equal(t, http.StatusOK, status, "narrow's iam:* on * allows simulating: %s", body)
}

// A caller limited to one role reads that role and no other: the
// authorization is on the entity's ARN.
func TestAuthorizationIsPerEntity(t *testing.T) {
	l := newLab(t)
	l.ok(t, "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument", trust)
	l.ok(t, "Action", "CreateRole", "RoleName", "other", "AssumeRolePolicyDocument", trust)
	require.NoError(t, l.iam.PutUserPolicy(acct, "nobody", "app-only", awsiam.MustParsePolicy(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:PutRolePolicy"],"Resource":"arn:aws:iam::`+acct+`:role/app"}]}`)))
	status, _ := l.do(t, l.nobody, form("Action", "GetRole", "RoleName", "app"))
	require.Equal(t, http.StatusOK, status)
	status, body := l.do(t, l.nobody, form("Action", "GetRole", "RoleName", "other"))
	require.Equal(t, http.StatusForbidden, status, body)
	status, _ = l.do(t, l.nobody, form("Action", "PutRolePolicy", "RoleName", "app", "PolicyName", "p", "PolicyDocument", readAll))
	require.Equal(t, http.StatusOK, status)
	status, body = l.do(t, l.nobody, form("Action", "PutRolePolicy", "RoleName", "other", "PolicyName", "p", "PolicyDocument", readAll))
	require.Equal(t, http.StatusForbidden, status, body)
	r, err := l.iam.GetRole(acct, "other")
	require.NoError(t, err)
	require.Empty(t, r.InlinePolicies, "a refused call changes nothing")
	status, body = l.do(t, l.nobody, form("Action", "CreateAccessKey", "UserName", "idlab-admin"))
	require.Equal(t, http.StatusForbidden, status, "no key for another user: %s", body)
}

// AWS managed policies the fixtures load: every account reads and
// attaches them, none changes them, and the simulator types them.
func TestAWSManagedPolicies(t *testing.T) {
	l := newLab(t)
	require.NoError(t, l.iam.LoadFixtureYAML("aws.yaml", []byte(`awsManagedPolicies:
  - name: AmazonS3ReadOnlyAccess
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:Get*", "s3:List*"], Resource: "*"}]}
`)))
	arn := "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
	require.Contains(t, l.ok(t, "Action", "GetPolicy", "PolicyArn", arn), "<Arn>arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess</Arn>")
	require.Contains(t, l.ok(t, "Action", "ListPolicies", "Scope", "AWS"), "<PolicyName>AmazonS3ReadOnlyAccess</PolicyName>")
	require.NotContains(t, l.ok(t, "Action", "ListPolicies", "Scope", "Local"), "AmazonS3ReadOnlyAccess")
	l.ok(t, "Action", "CreateRole", "RoleName", "app", "AssumeRolePolicyDocument", trust)
	l.ok(t, "Action", "AttachRolePolicy", "RoleName", "app", "PolicyArn", arn)
	require.Contains(t, l.ok(t, "Action", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::"+acct+":role/app", "ActionNames.member.1", "s3:GetObject"),
		"<SourcePolicyId>AmazonS3ReadOnlyAccess</SourcePolicyId><SourcePolicyType>aws-managed</SourcePolicyType>")
	for _, params := range []url.Values{
		form("Action", "DeletePolicy", "PolicyArn", arn),
		form("Action", "CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", readAll),
		form("Action", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v1"),
	} {
		status, body := l.do(t, l.admin, params)
		require.Equal(t, http.StatusForbidden, status, body)
		require.Contains(t, body, "<Code>AccessDenied</Code>")
	}
	require.Equal(t, []string{acct}, l.iam.Accounts(), "aws is no account")
}
