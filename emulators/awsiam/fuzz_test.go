package awsiam

import (
	"encoding/json"
	"reflect"
	"strings"
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
		// parse -> marshal -> parse is stable.
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		q, err := ParsePolicy(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if p.Version != q.Version || p.ID != q.ID || !reflect.DeepEqual(p.Statements, q.Statements) {
			t.Fatalf("round trip changed the policy:\n%s\n%s", doc, out)
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

// FuzzLoadFixtureYAML: arbitrary YAML never panics the loader, and every
// error it returns names the file.
func FuzzLoadFixtureYAML(f *testing.F) {
	f.Add([]byte(sampleFixture))
	f.Add([]byte("accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        maxSessionDuration: 7200\n        trustPolicy: {Version: 2012-10-17, Statement: {Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}}\n"))
	f.Add([]byte("accounts: [{id: &a \"111111111111\", users: [{name: *a}]}]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		i, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := i.LoadFixtureYAML("f.yaml", doc); err != nil && !strings.HasPrefix(err.Error(), "f.yaml:") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
