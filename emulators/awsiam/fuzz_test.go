package awsiam

import (
	"testing"
)

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["1","2"]},"NotAction":"s3:Get*","Condition":{"ForAllValues:StringLikeIfExists":{"a:b":["x*",1,true]}}}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err != nil {
			if _, ok := err.(*PolicyError); !ok {
				t.Fatalf("error is %T, want *PolicyError", err)
			}
			return
		}
		for _, k := range []PolicyKind{IdentityPolicy, ResourcePolicy, TrustPolicy, SessionPolicy} {
			_ = p.ValidateFor(k)
		}
		for _, s := range p.Statements {
			if s.Effect != "Allow" && s.Effect != "Deny" {
				t.Fatalf("accepted effect %q", s.Effect)
			}
			if (s.Action == nil) == (s.NotAction == nil) {
				t.Fatal("accepted a statement without exactly one of Action/NotAction")
			}
		}
	})
}

// FuzzEvaluate throws arbitrary policies and request values at the evaluator:
// no panics, and a policy that parses must never allow what an explicit
// deny-all statement added to it denies.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*","Condition":{"StringLike":{"test:k":"a*"}}}]}`), "s3:GetObject", "arn:aws:s3:::alice/x", "abc")
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"a","Condition":{"IpAddress":{"test:k":"10.0.0.0/8"}}}]}`), "s3:x", "b", "10.0.0.1")
	deny := MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, value string) {
		p, err := ParsePolicy(doc)
		if err != nil {
			return
		}
		req := Request{Principal: Principal{Type: PrincipalUser, Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/alice"},
			Action: action, Resource: resource, Context: map[string][]string{"test:k": {value}, "aws:username": {"alice"}}, ResourcePolicy: p}
		_ = Evaluate(EvalInput{Request: req, Identity: []NamedPolicy{{Name: "p", Policy: p}}})
		d := Evaluate(EvalInput{Request: req, Identity: []NamedPolicy{{Name: "p", Policy: p}, {Name: "deny", Policy: deny}}})
		if d.Allowed() {
			t.Fatalf("allowed despite an explicit deny-all: %s", d.Reason)
		}
	})
}
