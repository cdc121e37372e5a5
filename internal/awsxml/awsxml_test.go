package awsxml

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		err       error
		status    int
		typ, code string
	}{
		{Errorf(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"), 403, "Sender", "AccessDenied"},
		{&Error{Code: "InvalidIdentityToken", Message: "x"}, 400, "Sender", "InvalidIdentityToken"},
		{errors.New("boom"), 500, "Receiver", "InternalFailure"},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		WriteError(rec, "https://sts.amazonaws.com/doc/2011-06-15/", "req-1", tc.err)
		require.Equal(t, tc.status, rec.Code)
		require.Equal(t, "text/xml", rec.Header().Get("Content-Type"))
		require.Equal(t, "req-1", rec.Header().Get("x-amzn-RequestId"))
		var got errorResponse
		require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &got))
		require.Equal(t, "https://sts.amazonaws.com/doc/2011-06-15/", got.Xmlns)
		require.Equal(t, tc.typ, got.Error.Type)
		require.Equal(t, tc.code, got.Error.Code)
		require.Equal(t, "req-1", got.RequestID)
	}
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, NewRequestID())
	require.NotEqual(t, NewRequestID(), NewRequestID())
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{"AccessDenied", 403},
		{"ExpiredToken", 403},
		{"IDPRejectedClaim", 403},
		{"InvalidClientTokenId", 403},
		{"MissingAuthenticationToken", 403},
		{"SignatureDoesNotMatch", 403},
		{"RegionDisabledException", 403},
		{"IncompleteSignature", 400},
		{"InvalidIdentityToken", 400},
		{"ExpiredTokenException", 400},
		{"IDPCommunicationError", 400},
		{"ValidationError", 400},
		{"MalformedPolicyDocument", 400},
		{"PackedPolicyTooLarge", 400},
		{"InvalidAction", 400},
		{"InternalFailure", 500},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			require.Equal(t, tc.status, StatusFor(tc.code))
			rec := httptest.NewRecorder()
			WriteError(rec, "ns", "r", New(tc.code, "m %d", 1))
			require.Equal(t, tc.status, rec.Code)
			rec = httptest.NewRecorder()
			WriteError(rec, "ns", "r", &Error{Code: tc.code, Message: "m"})
			require.Equal(t, tc.status, rec.Code, "a zero Status defaults to StatusFor(Code)")
		})
	}
}

// The exact bytes the SDKs parse (awsquery error deserializers).
func TestErrorResponseBytes(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, "https://sts.amazonaws.com/doc/2011-06-15/", "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
		New("InvalidIdentityToken", "No OpenIDConnect provider found in your account for %s", "https://example.com/<x>&"))
	require.Equal(t, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>`+
		`<Message>No OpenIDConnect provider found in your account for https://example.com/&lt;x&gt;&amp;</Message></Error>`+
		`<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`, rec.Body.String())
	require.Equal(t, strconv.Itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
}

func TestWriteResult(t *testing.T) {
	type result struct {
		XMLName xml.Name         `xml:"GetCallerIdentityResponse"`
		Xmlns   string           `xml:"xmlns,attr"`
		Arn     string           `xml:"GetCallerIdentityResult>Arn"`
		Meta    ResponseMetadata `xml:"ResponseMetadata"`
	}
	rec := httptest.NewRecorder()
	require.NoError(t, WriteResult(rec, "r-1", result{Xmlns: "ns", Arn: "arn:aws:iam::1:user/a", Meta: ResponseMetadata{RequestID: "r-1"}}))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "r-1", rec.Header().Get("x-amzn-RequestId"))
	require.Equal(t, `<GetCallerIdentityResponse xmlns="ns"><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/a</Arn></GetCallerIdentityResult>`+
		`<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, rec.Body.String())
	require.Error(t, WriteResult(httptest.NewRecorder(), "r", make(chan int)))
}
