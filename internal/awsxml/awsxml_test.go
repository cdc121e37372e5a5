package awsxml

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
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
	_ = http.StatusOK
}
