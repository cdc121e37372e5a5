package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/idlab/idlab/internal/sigv4"
)

func ExampleVerify() {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	sum := sha256.Sum256([]byte(body))
	r := httptest.NewRequest("POST", "https://sts.us-east-1.amazonaws.com/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	_ = v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "sts", "us-east-1", now)

	sig, err := sigv4.Parse(r)
	if err != nil {
		panic(err)
	}
	// Look sig.AccessKeyID up to find its secret, then:
	fmt.Println(sig.AccessKeyID, sig.Scope())
	fmt.Println(sigv4.Verify(r, sig, creds.SecretAccessKey, now.Add(time.Minute), sigv4.Options{Body: []byte(body)}))
	fmt.Println(sigv4.Verify(r, sig, "another secret", now, sigv4.Options{Body: []byte(body)}).(*sigv4.Error).Code)
	// Output:
	// AKIAIOSFODNN7EXAMPLE 20261122/us-east-1/sts/aws4_request
	// <nil>
	// SignatureDoesNotMatch
}
