package awss3_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
)

// sigV2Body is S3's whole answer to Signature Version 2 for a bucket that
// does not take it.
var sigV2Body = regexp.MustCompile(`^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>InvalidRequest</Code>` +
	`<Message>The authorization mechanism you have provided is not supported\. Please use AWS4-HMAC-SHA256\.</Message>` +
	`<RequestId>[0-9A-F]{16}</RequestId><HostId>[A-Za-z0-9+/=]+</HostId></Error>$`)

// send makes a request with an optional Authorization header through the
// lab's client and returns the response with its body read.
func send(t *testing.T, l *lab, method, url, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := l.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestSignatureVersion2IsRefused(t *testing.T) {
	l := newLab(t, "")
	creds := l.session(t, roleARN(acctA, "app-a"), time.Hour)
	const sessionARN = "arn:aws:sts::" + acctA + ":assumed-role/app-a/test"
	// What botocore 1.29 presigns for get_object with session credentials
	// (the signature itself is never checked).
	presigned := url.Values{"AWSAccessKeyId": {creds.AccessKeyID}, "Signature": {"oYka9WN9PyOuXEKDz+fKTMGsq8o="},
		"x-amz-security-token": {creds.SessionToken}, "Expires": {"1796532187"}}.Encode()
	tests := []struct {
		name, method, url, auth string
		principal               string // in the decision log
		resource                string
	}{
		{name: "presigned, virtual-hosted as botocore writes it", method: "GET",
			url: "https://bucket-a.s3.amazonaws.com/hello.txt?" + presigned, principal: sessionARN, resource: "arn:aws:s3:::bucket-a/hello.txt"},
		{name: "presigned, path-style on loopback", method: "GET",
			url: l.srv.URL() + "/bucket-a/hello.txt?" + presigned, principal: sessionARN, resource: "arn:aws:s3:::bucket-a/hello.txt"},
		{name: "header", method: "GET", url: l.srv.URL() + "/bucket-a/hello.txt",
			auth: "AWS " + creds.AccessKeyID + ":oYka9WN9PyOuXEKDz+fKTMGsq8o=", principal: sessionARN, resource: "arn:aws:s3:::bucket-a/hello.txt"},
		{name: "header, put", method: "PUT", url: l.srv.URL() + "/bucket-a/new.txt",
			auth: "AWS " + creds.AccessKeyID + ":x", principal: sessionARN, resource: "arn:aws:s3:::bucket-a/new.txt"},
		{name: "header, list buckets", method: "GET", url: "https://s3.amazonaws.com/",
			auth: "AWS " + creds.AccessKeyID + ":x", principal: sessionARN, resource: "arn:aws:s3:::"},
		{name: "unknown key", method: "GET", url: l.srv.URL() + "/bucket-a/hello.txt?AWSAccessKeyId=AKIANOSUCHKEY0000000&Signature=x&Expires=1",
			principal: "unknown access key AKIANOSUCHKEY0000000", resource: "arn:aws:s3:::bucket-a/hello.txt"},
		{name: "signature without key", method: "GET", url: l.srv.URL() + "/bucket-a/hello.txt?Signature=x",
			principal: "no access key", resource: "arn:aws:s3:::bucket-a/hello.txt"},
		// SigV2 is not anonymous: a public object is refused all the same.
		{name: "public object", method: "GET", url: l.srv.URL() + "/public-a/index.html?AWSAccessKeyId=" + creds.AccessKeyID + "&Signature=x&Expires=1",
			principal: sessionARN, resource: "arn:aws:s3:::public-a/index.html"},
		{name: "head has no body", method: "HEAD", url: l.srv.URL() + "/bucket-a/hello.txt",
			auth: "AWS " + creds.AccessKeyID + ":x", principal: sessionARN, resource: "arn:aws:s3:::bucket-a/hello.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(t, l, tc.method, tc.url, tc.auth)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			id := resp.Header.Get("x-amz-request-id")
			if tc.method == http.MethodHead {
				require.Empty(t, body)
			} else {
				require.Regexp(t, sigV2Body, string(body))
				require.Contains(t, string(body), "<RequestId>"+id+"</RequestId>")
				require.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
			}
			ds := l.iam.Decisions(awsiam.DecisionFilter{RequestID: id})
			require.Len(t, ds, 1, "one decision, the refusal; no policy was evaluated")
			d := ds[0]
			require.Equal(t, awsiam.Rejected, d.Effect)
			require.Equal(t, awss3.ActionAuthenticate, d.Action)
			require.Equal(t, tc.principal, d.Principal)
			require.Equal(t, tc.resource, d.Resource)
			require.True(t, strings.HasPrefix(d.Reason, "InvalidRequest: Signature Version 2"), d.Reason)
		})
	}
	_, err := l.srv.Handler().GetObject(context.Background(), "bucket-a", "new.txt")
	require.Error(t, err, "the SigV2 PUT wrote nothing")
}

// Requests that are not SigV2 keep their own answers: the tests of the
// test above.
func TestNotSignatureVersion2(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	get, err := s3.NewPresignClient(l.roleClient(t, acctA, "app-a")).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("hello.txt")})
	require.NoError(t, err)
	tests := []struct {
		name, url, auth string
		status          int
		code            string
	}{
		{name: "sigv4 presigned", url: get.URL, status: http.StatusOK},
		{name: "anonymous public object with an Expires parameter", url: l.srv.URL() + "/public-a/index.html?Expires=1", status: http.StatusOK},
		{name: "anonymous private object", url: l.srv.URL() + "/bucket-a/hello.txt", status: http.StatusForbidden, code: "AccessDenied"},
		{name: "an Authorization scheme that is not AWS's", url: l.srv.URL() + "/bucket-a/hello.txt", auth: "AWS4-HMAC-SHA1 Credential=x",
			status: http.StatusBadRequest, code: "AuthorizationHeaderMalformed"},
		// With SigV4 in the query, SigV2's parameters are not read (which
		// SigV4 error follows is the SigV4 code's to say: status 0).
		{name: "sigv4 presigned with a stray Signature", url: get.URL + "&Signature=x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(t, l, http.MethodGet, tc.url, tc.auth)
			require.NotContains(t, string(body), "<Code>InvalidRequest</Code>")
			if tc.status != 0 {
				require.Equal(t, tc.status, resp.StatusCode, string(body))
			}
			if tc.code != "" {
				require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
			}
			require.Empty(t, l.iam.Decisions(awsiam.DecisionFilter{RequestID: resp.Header.Get("x-amz-request-id"), Action: awss3.ActionAuthenticate}))
		})
	}
}
