package awss3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
)

// The unmodified SDK with no endpoint at all: Server.Client dials the
// emulator for S3's real host names (BUCKET.s3.us-east-1.amazonaws.com)
// and trusts the server's own CA. IAM holds two users' access keys; the
// one without a policy is refused.
func ExampleNewServer() {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		log.Fatal(err)
	}
	err = iam.LoadFixtureYAML("example.yaml", []byte(`accounts:
  - id: "111111111111"
    users:
      - name: writer
        inlinePolicies:
          s3: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
      - name: nobody
`))
	if err != nil {
		log.Fatal(err)
	}
	srv, err := awss3.NewServer(awss3.Options{IAM: iam})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := func(user string) *s3.Client {
		key, err := iam.CreateAccessKey("111111111111", user)
		if err != nil {
			log.Fatal(err)
		}
		return s3.New(s3.Options{Region: "us-east-1", HTTPClient: srv.Client(), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	}

	ctx := context.Background()
	writer := client("writer")
	if _, err := writer.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")}); err != nil {
		log.Fatal(err)
	}
	_, err = writer.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("q1.txt"), Body: strings.NewReader("up and to the right")})
	if err != nil {
		log.Fatal(err)
	}
	for _, user := range []string{"writer", "nobody"} {
		out, err := client(user).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("q1.txt")})
		var ae smithy.APIError
		switch {
		case err == nil:
			body, _ := io.ReadAll(out.Body)
			out.Body.Close()
			fmt.Println(user, "reads:", string(body))
		case errors.As(err, &ae):
			fmt.Println(user, "is refused:", ae.ErrorCode())
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// writer reads: up and to the right
	// nobody is refused: AccessDenied
}
