package awsiam

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var (
	roleA    = "arn:aws:iam::" + acctA + ":role/app-a"
	sessionA = "arn:aws:sts::" + acctA + ":assumed-role/app-a/s1"
	userA    = "arn:aws:iam::" + acctA + ":user/alice"
)

func sessionPrincipal(account, role, session string) Principal {
	return Principal{Type: PrincipalAssumedRole, Account: account, RoleARN: "arn:aws:iam::" + account + ":role/" + role,
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session, UserID: "AROAEXAMPLE:" + session}
}

func pol(doc string) []NamedPolicy { return []NamedPolicy{{Name: "p", Policy: MustParsePolicy(doc)}} }

func TestEvaluateRules(t *testing.T) {
	allowGet := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`
	denyGet := `{"Version":"2012-10-17","Statement":[{"Sid":"NoGet","Effect":"Deny","Action":"s3:Get*","Resource":"*"}]}`
	sA := sessionPrincipal(acctA, "app-a", "s1")
	sB := sessionPrincipal(acctB, "app-b", "s1")
	get := func(p Principal, res string) Request {
		return Request{Principal: p, Action: "s3:GetObject", Resource: res}
	}
	tests := []struct {
		name string
		in   EvalInput
		want Effect
	}{
		{"identity allow", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Identity: pol(allowGet)}, Allow},
		{"no policy is implicit deny", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k")}, ImplicitDeny},
		{"other resource implicit deny", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-b/k"), Identity: pol(allowGet)}, ImplicitDeny},
		{"action is case-insensitive", EvalInput{Request: Request{Principal: sA, Action: "S3:getobject", Resource: "arn:aws:s3:::bucket-a/k"}, Identity: pol(allowGet)}, Allow},
		{"resource is case-sensitive", EvalInput{Request: get(sA, "arn:aws:s3:::BUCKET-A/k"), Identity: pol(allowGet)}, ImplicitDeny},
		{"explicit deny beats identity allow", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Identity: append(pol(allowGet), pol(denyGet)...)}, ExplicitDeny},
		{"explicit deny in resource policy beats identity allow", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, ExplicitDeny},
		{"explicit deny in session policy", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Identity: pol(allowGet), Session: pol(denyGet), HasSession: true}, ExplicitDeny},
		{"session policy intersects: allowed by both", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Identity: pol(allowGet), Session: pol(allowGet), HasSession: true}, Allow},
		{"session policy intersects: session lacks it", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Identity: pol(allowGet),
			Session: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`), HasSession: true}, ImplicitDeny},
		{"session policy alone grants nothing", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-a/k"), Session: pol(allowGet), HasSession: true}, ImplicitDeny},
		{"NotAction allows other actions", EvalInput{Request: get(sA, "arn:aws:s3:::x/k"), Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`)}, Allow},
		{"NotAction excludes its action", EvalInput{Request: Request{Principal: sA, Action: "iam:CreateUser", Resource: "*"}, Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`)}, ImplicitDeny},
		{"NotResource allows other resources", EvalInput{Request: get(sA, "arn:aws:s3:::public/k"), Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}]}`)}, Allow},
		{"NotResource excludes its resource", EvalInput{Request: get(sA, "arn:aws:s3:::secret/k"), Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}]}`)}, ImplicitDeny},
		{"wildcard ? in resource", EvalInput{Request: get(sA, "arn:aws:s3:::bucket-1/k"), Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket-?/*"}]}`)}, Allow},
		{"wildcard does not cross ARN segments", EvalInput{Request: Request{Principal: sA, Action: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:111111111111:extra:q"}, Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:*:q"}]}`)}, ImplicitDeny},
		{"resource policy naming the role allows same-account session", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleA + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)
			return r
		}()}, Allow},
		{"resource policy naming the role is limited by session policy", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleA + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)
			return r
		}(), Session: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}`), HasSession: true}, ImplicitDeny},
		{"resource policy naming the session is not limited by session policy", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + sessionA + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)
			return r
		}(), Session: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}`), HasSession: true}, Allow},
		{"resource policy naming the account delegates to identity (none)", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctA + `:root"},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}()}, ImplicitDeny},
		{"cross-account: identity only is denied", EvalInput{Request: get(sB, "arn:aws:s3:::bucket-a/k"), Identity: pol(allowGet), CrossAccount: true}, ImplicitDeny},
		{"cross-account: resource only is denied", EvalInput{Request: func() Request {
			r := get(sB, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)
			return r
		}(), CrossAccount: true}, ImplicitDeny},
		{"cross-account: both sides allow", EvalInput{Request: func() Request {
			r := get(sB, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)
			return r
		}(), Identity: pol(allowGet), CrossAccount: true}, Allow},
		{"NotPrincipal excludes a session named with its role and account", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["` + sessionA + `","` + roleA + `","arn:aws:iam::` + acctA + `:root"]},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, Allow},
		{"NotPrincipal naming only the session still denies it (role and account not listed)", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"` + sessionA + `"},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, ExplicitDeny},
		{"NotPrincipal excludes a user named with its account", EvalInput{Request: func() Request {
			r := get(Principal{Type: PrincipalUser, Account: acctA, ARN: userA}, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["` + userA + `","` + acctA + `"]},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, Allow},
		{"NotPrincipal with Allow grants everyone else", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"` + userA + `"},"Action":"s3:GetObject","Resource":"*"}]}`)
			return r
		}()}, Allow},
		{"resource policy naming the account allows with an identity allow", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctA + `"},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, Allow},
		{"resource policy naming the user allows same-account user", EvalInput{Request: func() Request {
			r := get(Principal{Type: PrincipalUser, Account: acctA, ARN: userA}, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + userA + `"},"Action":"s3:GetObject","Resource":"*"}]}`)
			return r
		}()}, Allow},
		{"resource policy naming another role does not allow", EvalInput{Request: func() Request {
			r := get(sA, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctA + `:role/other"},"Action":"s3:GetObject","Resource":"*"}]}`)
			return r
		}()}, ImplicitDeny},
		{"cross-account: explicit deny in resource policy beats both allows", EvalInput{Request: func() Request {
			r := get(sB, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"` + acctA + `"}}}]}`)
			r.Context = map[string][]string{"aws:PrincipalAccount": {acctB}}
			return r
		}(), Identity: pol(allowGet), CrossAccount: true}, ExplicitDeny},
		{"cross-account: session policy still limits", EvalInput{Request: func() Request {
			r := get(sB, "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"s3:GetObject","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet), Session: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}`), HasSession: true, CrossAccount: true}, ImplicitDeny},
		{"root of another account needs the resource policy", EvalInput{Request: get(Principal{Type: PrincipalAccount, Account: acctB, ARN: "arn:aws:iam::" + acctB + ":root"}, "arn:aws:s3:::x/y"), IdentityIsRoot: true, CrossAccount: true}, ImplicitDeny},
		{"root of another account allowed by resource policy naming its account", EvalInput{Request: func() Request {
			r := get(Principal{Type: PrincipalAccount, Account: acctB, ARN: "arn:aws:iam::" + acctB + ":root"}, "arn:aws:s3:::x/y")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctB + `"},"Action":"s3:GetObject","Resource":"*"}]}`)
			return r
		}(), IdentityIsRoot: true, CrossAccount: true}, Allow},
		{"root in own account is still bound by a resource policy deny", EvalInput{Request: func() Request {
			r := get(Principal{Type: PrincipalAccount, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":root"}, "arn:aws:s3:::x/y")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), IdentityIsRoot: true}, ExplicitDeny},
		{"${*} in a StringEquals value is a literal star", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"s3:prefix": {"a*"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"a${*}"}}}]}`)}, Allow},
		{"condition operators AND together: one fails", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"aws:SourceIp": {"10.0.0.1"}, "aws:SecureTransport": {"false"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}]}`)}, ImplicitDeny},
		{"condition operators AND together: both hold", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"aws:SourceIp": {"10.0.0.1"}, "aws:SecureTransport": {"true"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}}]}`)}, Allow},
		{"deny with a negated condition on a missing key applies", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "x"},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"us-west-2"}}}]}`)}, ExplicitDeny},
		{"variable in condition value", EvalInput{Request: Request{Principal: sA, Action: "s3:ListBucket", Resource: "x", Context: map[string][]string{"s3:prefix": {"home/AROAEXAMPLE:s1/"}, "aws:userid": {"AROAEXAMPLE:s1"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":"home/${aws:userid}/*"}}}]}`)}, Allow},
		{"variable default in condition value", EvalInput{Request: Request{Principal: sA, Action: "s3:ListBucket", Resource: "x", Context: map[string][]string{"s3:prefix": {"none"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team, 'none'}"}}}]}`)}, Allow},
		{"principal tag variable picks the tag value", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/team-a/x", Context: map[string][]string{"aws:PrincipalTag/team": {"team-a"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:PrincipalTag/team, 'none'}/*"}]}`)}, Allow},
		{"NotPrincipal denies everyone else", EvalInput{Request: func() Request {
			r := get(sessionPrincipal(acctA, "app-a", "other"), "arn:aws:s3:::bucket-a/k")
			r.ResourcePolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"` + sessionA + `"},"Action":"s3:*","Resource":"*"}]}`)
			return r
		}(), Identity: pol(allowGet)}, ExplicitDeny},
		{"root user allowed in own account", EvalInput{Request: get(Principal{Type: PrincipalAccount, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":root"}, "arn:aws:s3:::x/y"), IdentityIsRoot: true}, Allow},
		{"policy variable aws:username in resource", EvalInput{Request: Request{Principal: Principal{Type: PrincipalUser, Account: acctA, ARN: userA},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/f", Context: map[string][]string{"aws:username": {"alice"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}`)}, Allow},
		{"policy variable does not match another user's folder", EvalInput{Request: Request{Principal: Principal{Type: PrincipalUser, Account: acctA, ARN: userA},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/f", Context: map[string][]string{"aws:username": {"alice"}}},
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}`)}, ImplicitDeny},
		{"2008-10-17 policies treat variables literally", EvalInput{Request: Request{Principal: sA, Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/f", Context: map[string][]string{"aws:username": {"alice"}}},
			Identity: pol(`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}`)}, ImplicitDeny},
		{"unresolved variable matches nothing", EvalInput{Request: get(sA, "arn:aws:s3:::home//f"),
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}]}`)}, ImplicitDeny},
		{"variable default value", EvalInput{Request: get(sA, "arn:aws:s3:::home/none/f"),
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/team, 'none'}/*"}]}`)}, Allow},
		{"${*} is a literal star", EvalInput{Request: get(sA, "arn:aws:s3:::b/a*"),
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a${*}"}]}`)}, Allow},
		{"${*} does not act as a wildcard", EvalInput{Request: get(sA, "arn:aws:s3:::b/abc"),
			Identity: pol(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a${*}"}]}`)}, ImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.in)
			require.Equal(t, tc.want, d.Effect, d.Reason)
			require.NotEmpty(t, d.Reason)
			if tc.want != ImplicitDeny && !tc.in.IdentityIsRoot {
				require.NotEmpty(t, d.Matched, "allow and explicit deny must cite a statement")
			}
		})
	}
}

// Trust policies decide web-identity and service callers alone.
func TestEvaluateTrustPolicies(t *testing.T) {
	host := "oidc.eks.us-west-2.amazonaws.com/id/ABC"
	provider := "arn:aws:iam::" + acctA + ":oidc-provider/" + host
	trust := func(cond string) *Policy {
		return MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}]}`)
	}
	web := Principal{Type: PrincipalWebIdentity, ARN: provider, FederatedProvider: host}
	ctx := func(sub, aud string) map[string][]string {
		return map[string][]string{host + ":sub": {sub}, host + ":aud": {aud}}
	}
	exact := `{"StringEquals":{"` + host + `:sub":"system:serviceaccount:team-a:app-a","` + host + `:aud":"sts.amazonaws.com"}}`
	like := `{"StringLike":{"` + host + `:sub":"system:serviceaccount:team-a:*"}}`
	tests := []struct {
		name   string
		policy *Policy
		p      Principal
		ctx    map[string][]string
		want   Effect
		reason string
	}{
		{"right SA", trust(exact), web, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.com"), Allow, ""},
		{"other SA", trust(exact), web, ctx("system:serviceaccount:team-a:app-b", "sts.amazonaws.com"), ImplicitDeny, `wants "system:serviceaccount:team-a:app-a", got "system:serviceaccount:team-a:app-b"`},
		{"other namespace", trust(exact), web, ctx("system:serviceaccount:team-b:app-a", "sts.amazonaws.com"), ImplicitDeny, "team-b"},
		{"wrong aud", trust(exact), web, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.co"), ImplicitDeny, ":aud"},
		{"other provider", trust(exact), Principal{Type: PrincipalWebIdentity, ARN: "arn:aws:iam::" + acctA + ":oidc-provider/other"}, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.com"), ImplicitDeny, "no statement"},
		{"StringLike wildcard admits every SA of the namespace (too wide)", trust(like), web, ctx("system:serviceaccount:team-a:anything", "sts.amazonaws.com"), Allow, ""},
		{"StringLike wildcard still rejects other namespaces", trust(like), web, ctx("system:serviceaccount:team-b:app", "sts.amazonaws.com"), ImplicitDeny, ""},
		{"IAM user cannot use a Federated trust", trust(exact), Principal{Type: PrincipalUser, Account: acctA, ARN: userA}, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.com"), ImplicitDeny, ""},
		{"service principal", MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`),
			Principal{Type: PrincipalService, ARN: "pods.eks.amazonaws.com"}, nil, Allow, ""},
		{"other service principal", MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
			Principal{Type: PrincipalService, ARN: "ec2.amazonaws.com"}, nil, ImplicitDeny, ""},
		{`{"AWS":"*"} does not admit a web identity`, MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`),
			web, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.com"), ImplicitDeny, ""},
		{`"Principal":"*" admits a web identity`, MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}]}`),
			web, ctx("system:serviceaccount:team-a:app-a", "sts.amazonaws.com"), Allow, ""},
		{"explicit deny in trust policy beats its allow", MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity"},{"Sid":"NoTeamB","Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringLike":{"` + host + `:sub":"system:serviceaccount:team-b:*"}}}]}`),
			web, ctx("system:serviceaccount:team-b:app", "sts.amazonaws.com"), ExplicitDeny, "NoTeamB"},
		{"ForAnyValue on a multi-valued aud", trust(`{"ForAnyValue:StringEquals":{"` + host + `:aud":["sts.amazonaws.com"]}}`), web,
			map[string][]string{host + ":aud": {"other", "sts.amazonaws.com"}}, Allow, ""},
		{"StringLike ? matches one character", trust(`{"StringLike":{"` + host + `:sub":"system:serviceaccount:team-?:app"}}`), web,
			ctx("system:serviceaccount:team-a:app", "sts.amazonaws.com"), Allow, ""},
		{"missing sub claim fails StringEquals", trust(`{"StringEquals":{"` + host + `:sub":"x"}}`), web, map[string][]string{}, ImplicitDeny, "has no"},
		{"google federation", MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:sub":"1234"}}}]}`),
			Principal{Type: PrincipalWebIdentity, ARN: "accounts.google.com", FederatedProvider: "accounts.google.com"}, map[string][]string{"accounts.google.com:sub": {"1234"}}, Allow, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action := "sts:AssumeRoleWithWebIdentity"
			if tc.p.Type == PrincipalService {
				action = "sts:AssumeRole"
			}
			d := Evaluate(EvalInput{Request: Request{Principal: tc.p, Action: action, Resource: roleA, ResourcePolicy: tc.policy, ResourcePolicyName: "trust policy of " + roleA, Context: tc.ctx},
				ResourceOnly: tc.p.Type != PrincipalUser})
			require.Equal(t, tc.want, d.Effect, d.Reason)
			require.Contains(t, d.Reason, tc.reason)
		})
	}
}

func TestConditionOperators(t *testing.T) {
	type row struct {
		op    string
		key   string
		want  string // JSON value(s)
		got   []string
		match bool
	}
	k := "test:key"
	rows := []row{
		{"StringEquals", k, `"a"`, []string{"a"}, true},
		{"StringEquals", k, `"a"`, []string{"A"}, false},
		{"StringEquals", k, `["x","a"]`, []string{"a"}, true},
		{"StringEquals", k, `"a"`, nil, false},
		{"StringNotEquals", k, `"a"`, []string{"b"}, true},
		{"StringNotEquals", k, `["a","b"]`, []string{"b"}, false},
		{"StringNotEquals", k, `"a"`, nil, true},
		{"StringEqualsIgnoreCase", k, `"abc"`, []string{"ABC"}, true},
		{"StringNotEqualsIgnoreCase", k, `"abc"`, []string{"ABC"}, false},
		{"StringLike", k, `"team-*"`, []string{"team-a"}, true},
		{"StringLike", k, `"te?m"`, []string{"team"}, true},
		{"StringLike", k, `"team-*"`, []string{"x-team-a"}, false},
		{"StringNotLike", k, `"team-*"`, []string{"x"}, true},
		{"StringNotLike", k, `"team-*"`, []string{"team-b"}, false},
		{"StringNotLike", k, `"team-*"`, nil, true},
		{"NumericEquals", k, `10`, []string{"10.0"}, true},
		{"NumericNotEquals", k, `10`, []string{"11"}, true},
		{"NumericLessThan", k, `10`, []string{"9"}, true},
		{"NumericLessThan", k, `10`, []string{"10"}, false},
		{"NumericLessThanEquals", k, `10`, []string{"10"}, true},
		{"NumericGreaterThan", k, `10`, []string{"11"}, true},
		{"NumericGreaterThanEquals", k, `10`, []string{"9"}, false},
		{"NumericEquals", k, `10`, []string{"ten"}, false},
		{"DateLessThan", k, `"2026-01-01T00:00:00Z"`, []string{"2025-12-31T23:59:59Z"}, true},
		{"DateGreaterThan", k, `"2026-01-01T00:00:00Z"`, []string{"2025-12-31T23:59:59Z"}, false},
		{"DateEquals", k, `"2026-01-01T00:00:00Z"`, []string{"1767225600"}, true},
		{"DateNotEquals", k, `"2026-01-01T00:00:00Z"`, []string{"1767225601"}, true},
		{"DateLessThanEquals", k, `"2026-01-01"`, []string{"2026-01-01T00:00:00Z"}, true},
		{"DateGreaterThanEquals", k, `"2026-01-01T00:00:00Z"`, []string{"2026-01-01T00:00:00Z"}, true},
		{"Bool", k, `true`, []string{"true"}, true},
		{"Bool", k, `"true"`, []string{"false"}, false},
		{"BinaryEquals", k, `"aGVsbG8="`, []string{"aGVsbG8="}, true},
		{"BinaryEquals", k, `"aGVsbG8="`, []string{"d29ybGQ="}, false},
		{"IpAddress", k, `"10.0.0.0/8"`, []string{"10.1.2.3"}, true},
		{"IpAddress", k, `"10.0.0.0/8"`, []string{"192.168.0.1"}, false},
		{"IpAddress", k, `"2001:db8::/32"`, []string{"2001:db8::1"}, true},
		{"IpAddress", k, `"203.0.113.7"`, []string{"203.0.113.7"}, true},
		{"NotIpAddress", k, `"10.0.0.0/8"`, []string{"192.168.0.1"}, true},
		{"NotIpAddress", k, `"10.0.0.0/8"`, []string{"10.0.0.1"}, false},
		{"ArnEquals", k, `"arn:aws:iam::111111111111:role/x"`, []string{"arn:aws:iam::111111111111:role/x"}, true},
		{"ArnLike", k, `"arn:aws:iam::*:role/app-*"`, []string{"arn:aws:iam::222222222222:role/app-b"}, true},
		{"ArnLike", k, `"arn:aws:iam::*:role/app-*"`, []string{"arn:aws:sts::222222222222:role/app-b"}, false},
		{"ArnNotEquals", k, `"arn:aws:iam::111111111111:role/x"`, []string{"arn:aws:iam::111111111111:role/y"}, true},
		{"ArnNotLike", k, `"arn:aws:iam::*:role/app-*"`, []string{"arn:aws:iam::1:role/app-a"}, false},
		{"Null", k, `true`, nil, true},
		{"Null", k, `true`, []string{"x"}, false},
		{"Null", k, `false`, []string{"x"}, true},
		{"Null", k, `false`, nil, false},
		{"StringEqualsIfExists", k, `"a"`, nil, true},
		{"StringEqualsIfExists", k, `"a"`, []string{"b"}, false},
		{"NumericLessThanIfExists", k, `5`, nil, true},
		{"ForAnyValue:StringEquals", k, `["a","b"]`, []string{"x", "b"}, true},
		{"ForAnyValue:StringEquals", k, `["a","b"]`, []string{"x", "y"}, false},
		{"ForAnyValue:StringEquals", k, `["a"]`, nil, false},
		{"ForAllValues:StringEquals", k, `["a","b"]`, []string{"a", "b"}, true},
		{"ForAllValues:StringEquals", k, `["a","b"]`, []string{"a", "c"}, false},
		{"ForAllValues:StringEquals", k, `["a"]`, nil, true},
		{"ForAnyValue:StringNotEquals", k, `["a"]`, []string{"a", "b"}, true},
		{"ForAllValues:StringNotEquals", k, `["a"]`, []string{"b", "a"}, false},
		{"ForAllValues:StringLike", k, `["team-*"]`, []string{"team-a", "team-b"}, true},
		{"StringEquals", "TEST:KEY", `"a"`, []string{"a"}, true}, // keys are case-insensitive
		{"StringNotEqualsIfExists", k, `"a"`, nil, true},
		{"StringNotEqualsIfExists", k, `"a"`, []string{"a"}, false},
		{"StringLikeIfExists", k, `"a*"`, []string{"abc"}, true},
		{"StringLikeIfExists", k, `"a*"`, []string{"b"}, false},
		{"DateGreaterThanIfExists", k, `"2026-01-01T00:00:00Z"`, nil, true},
		{"DateGreaterThanIfExists", k, `"2026-01-01T00:00:00Z"`, []string{"2025-01-01T00:00:00Z"}, false},
		{"BoolIfExists", k, `"false"`, nil, true},
		{"BoolIfExists", k, `"false"`, []string{"true"}, false},
		{"IpAddressIfExists", k, `"10.0.0.0/8"`, nil, true},
		{"IpAddressIfExists", k, `"10.0.0.0/8"`, []string{"11.0.0.1"}, false},
		{"ArnLikeIfExists", k, `"arn:aws:iam::*:role/*"`, nil, true},
		{"ArnNotLikeIfExists", k, `"arn:aws:iam::*:role/*"`, []string{"arn:aws:iam::1:role/x"}, false},
		{"NumericGreaterThanEqualsIfExists", k, `3`, []string{"3"}, true},
		{"BinaryEqualsIfExists", k, `"aGVsbG8="`, nil, true},
		{"NotIpAddress", k, `"10.0.0.0/8"`, nil, true},
		{"IpAddress", k, `"10.0.0.0/8"`, []string{"not-an-ip"}, false},
		{"IpAddress", k, `"::ffff:10.0.0.0/104"`, []string{"10.1.1.1"}, true},
		{"DateLessThan", k, `1767225600`, []string{"2025-12-31T23:59:59Z"}, true},
		{"DateEquals", k, `"not a date"`, []string{"2026-01-01T00:00:00Z"}, false},
		{"Bool", k, `"true"`, []string{"TRUE"}, true},
		{"Bool", k, `true`, nil, false},
		{"ArnNotEquals", k, `"arn:aws:iam::1:role/x"`, nil, true},
		{"ForAnyValue:StringNotEquals", k, `["a"]`, nil, false},
		{"ForAllValues:StringNotEquals", k, `["a"]`, nil, true},
		{"ForAllValues:StringNotLike", k, `["x*"]`, []string{"a", "b"}, true},
		{"ForAllValues:StringNotLike", k, `["x*"]`, []string{"a", "xb"}, false},
		{"ForAnyValue:StringLike", k, `["team-*"]`, []string{"other", "team-x"}, true},
		{"ForAnyValue:StringEqualsIgnoreCase", k, `["ABC"]`, []string{"x", "abc"}, true},
		{"ForAllValues:StringEqualsIfExists", k, `["a"]`, nil, true},
		{"ForAnyValue:StringEqualsIfExists", k, `["a"]`, nil, true},
		{"ForAllValues:NumericLessThan", k, `10`, []string{"1", "9"}, true},
		{"ForAllValues:NumericLessThan", k, `10`, []string{"1", "19"}, false},
		{"StringEquals", k, `"a"`, []string{"b", "a"}, true}, // a single-valued operator matches any request value
		{"StringNotEquals", k, `"a"`, []string{"b", "a"}, false},
	}
	for _, r := range rows {
		t.Run(r.op+" "+r.want+" vs "+quoteList(r.got), func(t *testing.T) {
			p, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"` + r.op + `":{"` + r.key + `":` + r.want + `}}}]}`))
			require.NoError(t, err)
			ctx := map[string][]string{}
			if r.got != nil {
				ctx["test:key"] = r.got
			}
			d := Evaluate(EvalInput{Request: Request{Principal: sessionPrincipal(acctA, "r", "s"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b", Context: ctx},
				Identity: []NamedPolicy{{Name: "p", Policy: p}}})
			require.Equal(t, r.match, d.Allowed(), d.Reason)
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`not json`, "Syntax errors in policy."},
		{`{"Statement":[{"Effect":"Allow","Action":"*"}]}]`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}} {}`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Bogus":1,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":{"Sid":"a","Effect":"Allow","Action":[],"Resource":"*"}}`, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`, "must be unique"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"me","Action":"s3:*","Resource":"*"}}`, "Invalid principal"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Bogus":"x"},"Action":"s3:*","Resource":"*"}}`, "Invalid principal"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"nokeyvendor":"c"}}}}`, "prefaced by a vendor"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"a:b":{"x":1}}}}}`, "Syntax errors"},
		{`{"Version":"2012-10-17"}`, "Syntax errors in policy."},
		{`{"Version":"2019-01-01","Statement":[]}`, "valid version"},
		{`{"Version":"2012-10-17","Statement":[]}`, "Syntax errors"},
		{`{"Version":"2012-10-17","Statement":{"Action":"s3:*","Resource":"*"}}`, "Missing required field Effect"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Maybe","Action":"s3:*","Resource":"*"}}`, "Invalid effect"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, "must contain actions"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}`, "both Action and NotAction"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}}`, "both Resource and NotResource"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}`, "prefaced by a vendor"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Bogus":1}}`, "Syntax errors"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringSortOf":{"a:b":"c"}}}}`, "invalid condition operator"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}}}`, "invalid condition operator"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:role/x"},"Action":"s3:*"}}`, "Invalid principal"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"s3:*"}}`, "Invalid principal"},
		{`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, "must be unique"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Syntax errors"},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}} {}`, "Syntax errors"},
	}
	for _, tc := range tests {
		t.Run(tc.want+" "+tc.doc, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.doc))
			var pe *PolicyError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Msg, tc.want)
		})
	}
}

func TestValidateFor(t *testing.T) {
	withPrincipal := MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`)
	require.ErrorContains(t, withPrincipal.ValidateFor(IdentityPolicy), "should not specify a principal")
	require.ErrorContains(t, withPrincipal.ValidateFor(SessionPolicy), "should not specify a principal")
	require.NoError(t, withPrincipal.ValidateFor(TrustPolicy))
	noPrincipal := MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	require.ErrorContains(t, noPrincipal.ValidateFor(ResourcePolicy), "Missing required field Principal")
	require.ErrorContains(t, noPrincipal.ValidateFor(TrustPolicy), "Principal")
	trustWithS3 := MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}`)
	require.ErrorContains(t, trustWithS3.ValidateFor(TrustPolicy), "only supports sts actions")
	noResource := MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}`)
	require.ErrorContains(t, noResource.ValidateFor(IdentityPolicy), "must contain resources")

	// Size quotas count the packed document, whitespace excluded.
	big := func(n int) *Policy {
		return MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("a", n) + `"}}`)
	}
	require.NoError(t, big(1900).ValidateFor(SessionPolicy))
	require.ErrorContains(t, big(2100).ValidateFor(SessionPolicy), "Cannot exceed quota for PolicySize: 2048")
	require.NoError(t, big(2100).ValidateFor(IdentityPolicy))
	require.ErrorContains(t, big(10300).ValidateFor(IdentityPolicy), "Cannot exceed quota for PolicySize: 10240")
	spaced := MustParsePolicy("{ \"Version\" : \"2012-10-17\",\n\n   \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::" + strings.Repeat("a", 1900) + "\"}" + strings.Repeat(" ", 500) + "}")
	require.NoError(t, spaced.ValidateFor(SessionPolicy), "whitespace does not count")

	i, err := New(Options{})
	require.NoError(t, err)
	_, err = i.AddManagedPolicy(acctA, "big", "", big(6200))
	require.ErrorContains(t, err, "Cannot exceed quota for PolicySize: 6144")
	err = i.AddUser(User{Account: acctA, Name: "u", InlinePolicies: map[string]*Policy{"a": big(1000), "b": big(1000)}})
	require.ErrorContains(t, err, "Cannot exceed quota for PolicySize: 2048")
	trust := MustParsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`)
	require.NoError(t, i.AddRole(Role{Account: acctA, Name: "r", TrustPolicy: trust, InlinePolicies: map[string]*Policy{"a": big(4000), "b": big(4000)}}))
	err = i.AddRole(Role{Account: acctA, Name: "r2", TrustPolicy: trust, InlinePolicies: map[string]*Policy{"a": big(6000), "b": big(6000)}})
	require.ErrorContains(t, err, "Cannot exceed quota for PolicySize: 10240")
	err = i.AddRole(Role{Account: acctA, Name: "R", TrustPolicy: trust})
	require.ErrorIs(t, err, ErrEntityAlreadyExists, "role names are unique case-insensitively")
}

func TestExplain(t *testing.T) {
	d := Evaluate(EvalInput{Request: Request{Principal: sessionPrincipal(acctA, "app-a", "s1"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", RequestID: "req-1"},
		Identity: []NamedPolicy{{Name: "role/app-a inline deny", Policy: MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoGet","Effect":"Deny","Action":"s3:Get*","Resource":"*"}]}`)}}})
	require.Equal(t, ExplicitDeny, d.Effect)
	require.Equal(t, []MatchedStatement{{Policy: "role/app-a inline deny", Sid: "NoGet", Index: 1, Effect: "Deny"}}, d.Matched)
	require.Equal(t, `explicitly denied by statement "NoGet" of role/app-a inline deny`, d.Reason)
	lines := strings.Split(strings.TrimSpace(d.Explain()), "\n")
	require.Len(t, lines, 4)
	require.Equal(t, "DENIED (explicit deny): arn:aws:sts::111111111111:assumed-role/app-a/s1 may not s3:GetObject on arn:aws:s3:::b/k", lines[0])
	require.Contains(t, lines[2], `matched: role/app-a inline deny statement "NoGet" (Deny)`)
	require.Contains(t, lines[3], "req-1")

	// A near miss names the failing condition, the wanted and the seen value.
	d = Evaluate(EvalInput{Request: Request{Principal: sessionPrincipal(acctA, "app-a", "s1"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
		Context: map[string][]string{"aws:SourceIp": {"192.0.2.1"}}},
		Identity: pol(`{"Version":"2012-10-17","Statement":[{"Sid":"Office","Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)})
	require.Equal(t, ImplicitDeny, d.Effect)
	require.Equal(t, `implicitly denied: statement "Office" of p would allow it, but condition IpAddress aws:SourceIp wants "10.0.0.0/8", got "192.0.2.1"`, d.Reason)
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"s3:Get*", "s3:GetObject", true, true},
		{"S3:GET*", "s3:getobject", true, true},
		{"S3:GET*", "s3:getobject", false, false},
		{"s3:?etObject", "s3:GetObject", false, true},
		{"s3:*Object*", "s3:GetObjectTagging", false, true},
		{"*", "", false, true},
		{"", "", false, true},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"a?c", "aäc", false, true},
		{"ÄB*", "äbc", true, true},
		{"home/" + string(litStar) + "/x", "home/*/x", false, true},
		{"home/" + string(litStar) + "/x", "home/a/x", false, false},
		{"home/" + string(litQuestion), "home/?", false, true},
		{"home/" + string(litQuestion), "home/a", false, false},
		{"**a", "ba", false, true},
		{"a*", "b", false, false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, globMatch(tc.pattern, tc.s, tc.fold), "%q %q fold=%v", tc.pattern, tc.s, tc.fold)
	}
}
