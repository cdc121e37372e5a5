package cloud

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/internal/awsxml"
)

// Web identity forms too large for the router to read whole, posted to the
// loopback endpoint, reach STS and get STS's own errors (never S3's 405,
// never a 413).
func TestLargeWebIdentityFormsReachSTS(t *testing.T) {
	c, _ := startCloud(t)
	const tokenTooLong = "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"
	head := "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/app-a&RoleSessionName=s1"
	token := strings.Repeat("a", 70<<10)
	tests := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"70 KiB token after the action", head + "&WebIdentityToken=" + token, 400, "ValidationError", tokenTooLong},
		{"70 KiB token before the action", "WebIdentityToken=" + token + "&" + head, 400, "ValidationError", tokenTooLong},
		{"a body over STS's 256 KiB", head + "&WebIdentityToken=" + strings.Repeat("a", 300<<10), 400, "ValidationError", awsxml.MsgInputConstraints},
		{"a 70 KiB form naming an IAM action last", "Version=2011-06-15&Padding=" + token + "&Action=ListUsers", 400, "InvalidAction", "Could not find operation ListUsers for version 2011-06-15"},
		// The test of the test: a small form with a token STS cannot parse
		// is STS's too, and answered past the length check.
		{"small form, unparsable token", head + "&WebIdentityToken=not-a-jwt", 400, "InvalidIdentityToken", "Couldn't parse provided token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Client().Post(c.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			var e struct {
				XMLName xml.Name `xml:"ErrorResponse"`
				Xmlns   string   `xml:"xmlns,attr"`
				Type    string   `xml:"Error>Type"`
				Code    string   `xml:"Error>Code"`
				Message string   `xml:"Error>Message"`
			}
			require.NoError(t, xml.Unmarshal(raw, &e), string(raw))
			require.Equal(t, awssts.Namespace, e.Xmlns, "STS's error document")
			require.Equal(t, "Sender", e.Type)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.msg, e.Message)
			require.Equal(t, "text/xml", resp.Header.Get("Content-Type"))
			require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode)
		})
	}
}
