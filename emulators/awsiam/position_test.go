package awsiam

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatementSpans(t *testing.T) {
	// The wanted spans were computed apart, with Python's json.raw_decode.
	tests := []struct {
		name string
		doc  string
		want []Span
	}{
		// The layout of awscli's simulate-principal-policy example: the
		// statement at line 3 column 19, its end at line 9 column 10.
		{"awscli example", "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [{\n        \"Sid\": \"Grant-Access-To-CodeCommit-ListRepo\",\n" +
			"        \"Effect\": \"Allow\",\n        \"Action\": [\n            \"codecommit:ListRepositories\"\n        ], \"Resource\": \"*\"\n        }\n    ]\n}",
			[]Span{{Position{3, 19}, Position{9, 10}}}},
		{"one line, two statements", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}, {"Effect":"Deny","Action":"a:c","Resource":"*"}]}`,
			[]Span{{Position{1, 38}, Position{1, 86}}, {Position{1, 88}, Position{1, 135}}}},
		{"statement as an object", `{"Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"},"Version":"2012-10-17"}`,
			[]Span{{Position{1, 14}, Position{1, 62}}}},
		{"nested braces in strings and conditions", "{\"Version\":\"2012-10-17\",\"Statement\":[\n {\"Effect\":\"Allow\",\"Action\":\"a:b\",\"Resource\":\"}{\",\"Condition\":{\"Bool\":{\"aws:x\":\"true\"}}}]}",
			[]Span{{Position{2, 2}, Position{2, 89}}}},
		{"columns count characters", "{\"Id\":\"é\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a:b\",\"Resource\":\"*\"}]}",
			[]Span{{Position{1, 24}, Position{1, 72}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.doc))
			require.NoError(t, err)
			got, err := StatementSpans([]byte(tc.doc))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Len(t, got, len(p.Statements))
		})
	}
}

// FuzzStatementSpans: for every document ParsePolicy accepts, one span a
// statement, in order, each ending after it starts.
func FuzzStatementSpans(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Deny","NotAction":"a:b","NotResource":"*"}}`,
		"{\n \"Statement\" : [ {\"Effect\":\"Allow\",\"Action\":[\"a:b\"],\"Resource\":\"*\"} ,\n{\"Effect\":\"Allow\",\"Action\":\"a:c\",\"Resource\":\"*\"} ] }",
		`{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}],"Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		spans, err := StatementSpans([]byte(doc))
		p, perr := ParsePolicy([]byte(doc))
		if perr != nil {
			return
		}
		require.NoError(t, err)
		require.Len(t, spans, len(p.Statements))
		for _, s := range spans {
			require.True(t, s.Start.Line < s.End.Line || s.Start.Line == s.End.Line && s.Start.Column < s.End.Column, "%+v", s)
		}
	})
}

func TestMissingContextKeys(t *testing.T) {
	p := MustParsePolicy(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"a","s3:prefix":"x"},"Bool":{"aws:SecureTransport":"true"}}},
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestTag/x":"y"},"Null":{"aws:TokenIssueTime":"true"}}},
		{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"v"}}}]}`)
	require.Equal(t, []string{"aws:PrincipalTag/team", "aws:SecureTransport"},
		MissingContextKeys([]*Policy{p, nil}, "s3:GetObject", "arn:aws:s3:::b/k", map[string][]string{"S3:Prefix": {"x"}}))
	require.Equal(t, []string{"aws:SourceVpc"}, MissingContextKeys([]*Policy{p}, "s3:PutObject", "*", nil))
	require.Empty(t, MissingContextKeys([]*Policy{p}, "s3:DeleteObject", "*", nil))
}
