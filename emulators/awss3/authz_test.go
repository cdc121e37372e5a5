package awss3_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
)

// requestID is the x-amz-request-id of a failed SDK call.
func requestID(t *testing.T, err error) string {
	t.Helper()
	var re interface{ ServiceRequestID() string }
	require.True(t, errors.As(err, &re), "no request ID in %v", err)
	return re.ServiceRequestID()
}

// requireDenied checks that IAM recorded a deny for action in the request.
func requireDenied(t *testing.T, l *lab, reqID, action string, effect awsiam.Effect) {
	t.Helper()
	ds := l.iam.Decisions(awsiam.DecisionFilter{RequestID: reqID, Action: action})
	require.NotEmpty(t, ds, "no %s decision for request %s", action, reqID)
	d := ds[len(ds)-1]
	require.False(t, d.Allowed(), "decision: %+v", d)
	if effect != "" {
		require.Equal(t, effect, d.Effect, d.Reason)
	}
}

func TestAllowDeny(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	clients := map[string]*s3.Client{}
	for _, r := range []struct{ acct, name string }{{acctA, "app-a"}, {acctA, "getter-a"}, {acctA, "named-a"}, {acctB, "app-b"}} {
		clients[r.name] = l.roleClient(t, r.acct, r.name)
	}
	get := func(c *s3.Client, bucket, key string) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	put := func(c *s3.Client, bucket, key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("planted")})
		return err
	}
	list := func(c *s3.Client, bucket, _ string) error {
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		return err
	}
	for _, tc := range []struct {
		name, role  string
		call        func(*s3.Client, string, string) error
		bucket, key string
		code        string // "" = allowed
		action      string // the denied action in the decision log
		effect      awsiam.Effect
	}{
		{"own bucket read", "app-a", get, "bucket-a", "hello.txt", "", "", ""},
		{"other account's bucket", "app-a", get, "bucket-b", "b.txt", "AccessDenied", "s3:GetObject", awsiam.ImplicitDeny},
		{"missing key with ListBucket", "app-a", get, "bucket-a", "missing", "NoSuchKey", "", ""},
		{"missing key without ListBucket", "getter-a", get, "bucket-a", "missing", "AccessDenied", "s3:ListBucket", awsiam.ImplicitDeny},
		{"cross-account: bucket policy and identity", "app-a", get, "shared-b", "shared.txt", "", "", ""},
		{"cross-account: list with both sides", "app-a", list, "shared-b", "", "", "", ""},
		{"cross-account: no identity policy", "named-a", get, "shared-b", "shared.txt", "AccessDenied", "s3:GetObject", awsiam.ImplicitDeny},
		{"cross-account: no bucket policy", "app-a", get, "private-b", "private.txt", "AccessDenied", "s3:GetObject", awsiam.ImplicitDeny},
		{"explicit deny in bucket policy wins", "app-a", get, "bucket-a", "secret/key.txt", "AccessDenied", "s3:GetObject", awsiam.ExplicitDeny},
		{"write to other account", "app-b", put, "bucket-a", "planted", "AccessDenied", "s3:PutObject", awsiam.ImplicitDeny},
		{"read-only role writes", "getter-a", put, "bucket-a", "planted", "AccessDenied", "s3:PutObject", awsiam.ImplicitDeny},
		{"read-only role lists", "getter-a", list, "bucket-a", "", "AccessDenied", "s3:ListBucket", awsiam.ImplicitDeny},
		{"read-only role reads", "getter-a", get, "bucket-a", "hello.txt", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(clients[tc.role], tc.bucket, tc.key)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.code, apiCode(t, err))
			if tc.action != "" {
				requireDenied(t, l, requestID(t, err), tc.action, tc.effect)
			}
		})
	}
	_, err := l.srv.Handler().GetObject(ctx, "bucket-a", "planted")
	require.Error(t, err, "denied writes store nothing")

	// DeleteObjects answers per key.
	del, err := clients["app-a"].DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("shared-b"),
		Delete: &typesDelete{Objects: []typesObjectID{{Key: aws.String("shared.txt")}}}})
	require.NoError(t, err)
	require.Len(t, del.Errors, 1)
	require.Equal(t, "AccessDenied", aws.ToString(del.Errors[0].Code))
	require.NotEmpty(t, l.iam.Decisions(awsiam.DecisionFilter{Action: "s3:DeleteObject", Effect: awsiam.ImplicitDeny}))
}

func TestAnonymous(t *testing.T) {
	l := newLab(t, "")
	c := l.srv.Client()
	resp, err := c.Get(l.srv.URL() + "/public-a/index.html")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "<h1>public</h1>", string(body))
	require.Equal(t, "text/html", resp.Header.Get("Content-Type"))

	resp, err = c.Get(l.srv.URL() + "/bucket-a/hello.txt")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, string(body), "<Code>AccessDenied</Code>")
	require.Contains(t, string(body), "<Message>Access Denied</Message>")
	id := resp.Header.Get("x-amz-request-id")
	require.Len(t, id, 16)
	require.NotEmpty(t, resp.Header.Get("x-amz-id-2"))
	ds := l.iam.Decisions(awsiam.DecisionFilter{RequestID: id, Action: "s3:GetObject"})
	require.Len(t, ds, 1)
	require.False(t, ds[0].Allowed())

	req, _ := http.NewRequest(http.MethodPut, l.srv.URL()+"/public-a/defaced.html", strings.NewReader("x"))
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestAuthErrors(t *testing.T) {
	ctx := context.Background()
	getHello := func(c *s3.Client) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("hello.txt")})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	t.Run("unknown key", func(t *testing.T) {
		l := newLab(t, "")
		c := l.client(awsiam.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"})
		require.Equal(t, "InvalidAccessKeyId", apiCode(t, getHello(c)))
	})
	t.Run("deactivated user key", func(t *testing.T) {
		l := newLab(t, "")
		require.NoError(t, l.iam.AddUser(awsiam.User{Account: acctA, Name: "carol", InlinePolicies: map[string]*awsiam.Policy{
			"get": awsiam.MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}]}`)}}))
		creds, _, err := l.iam.CreateUserAccessKey(acctA, "carol")
		require.NoError(t, err)
		c := l.client(creds)
		require.NoError(t, getHello(c))
		require.Empty(t, l.iam.Decisions(awsiam.DecisionFilter{Action: awss3.ActionAuthenticate}), "an active key authenticates")
		require.NoError(t, l.iam.UpdateAccessKey(acctA, "carol", creds.AccessKeyID, false))
		require.Equal(t, "InvalidAccessKeyId", apiCode(t, getHello(c)), "S3 answers an inactive key as one that does not exist")
		// The decision log says what S3's answer does not: the key is
		// the user's, deactivated.
		ds := l.iam.Decisions(awsiam.DecisionFilter{Action: awss3.ActionAuthenticate})
		require.Len(t, ds, 1)
		require.Equal(t, awsiam.Rejected, ds[0].Effect)
		require.Equal(t, "arn:aws:iam::"+acctA+":user/carol", ds[0].Principal)
		require.Equal(t, "arn:aws:s3:::bucket-a/hello.txt", ds[0].Resource)
		require.Equal(t, "InvalidAccessKeyId: access key "+creds.AccessKeyID+" of arn:aws:iam::"+acctA+":user/carol is Inactive (UpdateAccessKey)", ds[0].Reason)
		// Active again, it authenticates; deleted, it is unknown and
		// nothing is recorded.
		require.NoError(t, l.iam.UpdateAccessKey(acctA, "carol", creds.AccessKeyID, true))
		require.NoError(t, getHello(c))
		require.NoError(t, l.iam.DeleteAccessKey(acctA, "carol", creds.AccessKeyID))
		require.Equal(t, "InvalidAccessKeyId", apiCode(t, getHello(c)))
		require.Len(t, l.iam.Decisions(awsiam.DecisionFilter{Action: awss3.ActionAuthenticate}), 1)
	})
	t.Run("wrong secret", func(t *testing.T) {
		l := newLab(t, "")
		creds := l.session(t, roleARN(acctA, "app-a"), time.Hour)
		creds.SecretAccessKey = "wrong" + creds.SecretAccessKey[5:]
		require.Equal(t, "SignatureDoesNotMatch", apiCode(t, getHello(l.client(creds))))
	})
	t.Run("bad token", func(t *testing.T) {
		l := newLab(t, "")
		creds := l.session(t, roleARN(acctA, "app-a"), time.Hour)
		creds.SessionToken = "IQoJb3JpZ2luX2VjEforged"
		require.Equal(t, "InvalidToken", apiCode(t, getHello(l.client(creds))))
	})
	t.Run("expired session", func(t *testing.T) {
		l := newLab(t, "")
		c := l.client(l.session(t, roleARN(acctA, "app-a"), 5*time.Minute))
		require.NoError(t, getHello(c))
		l.clock.Advance(6 * time.Minute)
		require.Equal(t, "ExpiredToken", apiCode(t, getHello(c)))
		// The refusal is in the decision log, naming the session.
		ds := l.iam.Decisions(awsiam.DecisionFilter{Action: awss3.ActionAuthenticate})
		require.Len(t, ds, 1)
		require.Equal(t, awsiam.Rejected, ds[0].Effect)
		require.Contains(t, ds[0].Principal, ":assumed-role/app-a/")
		require.Regexp(t, `^ExpiredToken: the session's credentials \(ASIA[A-Z0-9]+\) expired at `, ds[0].Reason)
	})
	t.Run("skew", func(t *testing.T) {
		l := newLab(t, "")
		c := l.roleClient(t, acctA, "app-a")
		l.clock.Advance(20 * time.Minute)
		require.Equal(t, "RequestTimeTooSkewed", apiCode(t, getHello(c)))
	})
}

func TestPresign(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	pc := s3.NewPresignClient(l.roleClient(t, acctA, "app-a"))
	hc := l.srv.Client()

	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("presigned/up.txt")},
		s3.WithPresignExpires(5*time.Minute))
	require.NoError(t, err)
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("uploaded via presigned url"))
	for k, v := range put.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = v
		}
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("presigned/up.txt")},
		s3.WithPresignExpires(time.Minute))
	require.NoError(t, err)
	fetch := func(u string) (int, string) {
		resp, err := hc.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := fetch(get.URL)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "uploaded via presigned url", body)

	status, body = fetch(strings.Replace(get.URL, "X-Amz-Expires=60", "X-Amz-Expires=604801", 1))
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "<Code>AuthorizationQueryParametersError</Code>")
	require.Contains(t, body, "X-Amz-Expires must be less than a week (in seconds) that is; 604800")

	i := strings.Index(get.URL, "X-Amz-Signature=") + len("X-Amz-Signature=")
	tampered := get.URL[:i] + strings.Repeat("0", 64) + get.URL[i+64:]
	status, body = fetch(tampered)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "<Code>SignatureDoesNotMatch</Code>")
	require.Contains(t, body, "<CanonicalRequest>GET\n/bucket-a/presigned/up.txt")

	l.clock.Advance(2 * time.Minute)
	status, body = fetch(get.URL)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "<Code>AccessDenied</Code>")
	require.Contains(t, body, "<Message>Request has expired</Message>")
	require.Contains(t, body, "<X-Amz-Expires>60</X-Amz-Expires>")
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signedChunkedPut builds a PUT with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// body (as awscli and older SDKs send), optionally corrupting one byte of the
// first chunk after it was signed.
func signedChunkedPut(t *testing.T, l *lab, creds awsiam.Credentials, key string, chunks [][]byte, corrupt bool) *http.Request {
	t.Helper()
	const mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	total, encLen := 0, 0
	for _, c := range append(chunks, nil) {
		total += len(c)
		encLen += len(fmt.Sprintf("%x", len(c))) + len(";chunk-signature=") + 64 + 2 + len(c) + 2
	}
	req, err := http.NewRequest(http.MethodPut, l.srv.URL()+"/bucket-a/"+key, nil)
	require.NoError(t, err)
	req.ContentLength = int64(encLen)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("x-amz-decoded-content-length", fmt.Sprint(total))
	req.Header.Set("x-amz-content-sha256", mode)
	now := l.clock.Now().UTC()
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, req, mode, "s3", "us-east-1", now))
	auth := req.Header.Get("Authorization")
	prev := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	date := now.Format("20060102")
	scope := date + "/us-east-1/s3/aws4_request"
	k := hmacSHA256([]byte("AWS4"+creds.SecretAccessKey), date)
	k = hmacSHA256(hmacSHA256(hmacSHA256(k, "us-east-1"), "s3"), "aws4_request")
	var body bytes.Buffer
	for i, c := range append(chunks, nil) {
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + now.Format("20060102T150405Z") + "\n" + scope + "\n" + prev + "\n" + hexSHA256(nil) + "\n" + hexSHA256(c)
		prev = hex.EncodeToString(hmacSHA256(k, sts))
		data := append([]byte(nil), c...)
		if corrupt && i == 0 {
			data[0] ^= 0xff
		}
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n%s\r\n", len(c), prev, data)
	}
	require.Equal(t, encLen, body.Len())
	req.Body = io.NopCloser(&body)
	return req
}

func TestChunkedUpload(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	creds := l.session(t, roleARN(acctA, "app-a"), time.Hour)
	chunks := [][]byte{bytes.Repeat([]byte("a"), 8192), bytes.Repeat([]byte("b"), 8192), []byte("tail")}
	want := string(bytes.Join(chunks, nil))
	for _, tc := range []struct {
		name    string
		corrupt bool
		status  int
		code    string
	}{
		{"valid chunks", false, http.StatusOK, ""},
		{"corrupted chunk", true, http.StatusForbidden, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			resp, err := l.srv.Client().Do(signedChunkedPut(t, l, creds, key, chunks, tc.corrupt))
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, string(b))
			got, err := l.srv.Handler().GetObject(ctx, "bucket-a", key)
			if tc.code != "" {
				require.Contains(t, string(b), "<Code>"+tc.code+"</Code>")
				require.Error(t, err, "nothing stored")
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, string(got))
		})
	}
}
