package trustboundary

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"sts query error", nil, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation  for version </Message></Error><RequestId>r</RequestId></ErrorResponse>`, "InvalidAction"},
		{"s3 error with declaration", nil, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>_idlab</BucketName></Error>", "NoSuchBucket"},
		{"gcs xml error", nil, `<?xml version='1.0' encoding='UTF-8'?><Error><Code>AuthenticationRequired</Code><Message>Authentication required.</Message></Error>`, "AuthenticationRequired"},
		{"azure header wins", http.Header{"X-Ms-Error-Code": {"InvalidResourceName"}}, `<Error><Code>Other</Code></Error>`, "InvalidResourceName"},
		{"entra aadsts", nil, `{"error":"invalid_request","error_description":"AADSTS900023: ...","error_codes":[900023]}`, "AADSTS900023"},
		{"oauth error without codes", nil, `{"error":"invalid_client"}`, "invalid_client"},
		{"google json reason", nil, `{"error":{"code":404,"message":"Not Found","errors":[{"reason":"notFound"}],"status":"NOT_FOUND"}}`, "notFound"},
		{"google json status only", nil, `{"error":{"code":403,"status":"PERMISSION_DENIED"}}`, "PERMISSION_DENIED"},
		{"lab admin error", nil, `{"error":"Unauthorized","message":"..."}`, "Unauthorized"},
		{"plain 404 page", nil, "404 page not found\n", ""},
		{"success json", nil, `{"token":"x"}`, ""},
		{"xml without code", nil, `<ListBucketResult><Name>b</Name></ListBucketResult>`, ""},
		{"broken xml", nil, `<Error><Code>`, ""},
		{"broken json", nil, `{"error":`, ""},
		{"json error of another shape", nil, `{"error":42}`, ""},
		{"empty", nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			require.Equal(t, tc.want, ErrorCode(h, []byte(tc.body)))
		})
	}
}

func FuzzErrorCode(f *testing.F) {
	for _, s := range []string{`<Error><Code>NoSuchKey</Code></Error>`, `{"error":"invalid_request","error_codes":[700016]}`,
		`{"error":{"errors":[{"reason":"forbidden"}]}}`, "404 page not found", `<a><Code><b/></Code></a>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code := ErrorCode(http.Header{}, body)
		require.Equal(t, code, ErrorCode(http.Header{}, body), "the same answer reads the same")
	})
}

func TestRequestsAndTargetsNameRowsOnce(t *testing.T) {
	const issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/ABC"
	seen := map[string]bool{}
	for _, tg := range append(Targets("us-west-2", "app-data", "172.18.0.9"), Loopback()) {
		for _, r := range Requests(issuer, "123456789012") {
			id := tg.ID + "/" + r.ID
			require.False(t, seen[id], "row %s named twice", id)
			seen[id] = true
			a := Expected(tg, r)
			require.GreaterOrEqual(t, a.Status, 400, "%s: a workload's admin request never succeeds", id)
		}
	}
	require.Len(t, seen, 7*6)
	require.Len(t, Targets("us-west-2", "b", ""), 5, "no emulator IP, no row for it")
	for _, r := range Requests(issuer, "123456789012") {
		require.True(t, strings.HasPrefix(r.Path, "/_idlab/"), r.Path)
	}
}

func TestAnswerString(t *testing.T) {
	require.Equal(t, "404 NoSuchBucket", Answer{404, "NoSuchBucket"}.String())
	require.Equal(t, "404", Answer{Status: 404}.String())
}
