package gcs_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
)

// Cloud Storage in front of IAM: a reader's token reads, an anonymous
// caller is refused.
func Example() {
	ctx := context.Background()
	iam, _ := gcpiam.New(gcpiam.Options{})
	sa, _ := iam.AddServiceAccount("idlab", "reader", "")
	_ = iam.AddBinding("projects/_/buckets/data", "roles/storage.objectViewer", "serviceAccount:"+sa.Email)
	h, err := gcs.New(gcs.Options{IAM: iam})
	if err != nil {
		panic(err)
	}
	_ = h.PutObject(ctx, "data", "hello.txt", []byte("hello"), "text/plain")
	tok, _, _ := iam.MintAccessToken(ctx, sa.Email, nil, 0)

	req := httptest.NewRequest("GET", "https://storage.googleapis.com/storage/v1/b/data/o/hello.txt?alt=media", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, string(body))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://storage.googleapis.com/storage/v1/b/data/o", nil))
	fmt.Println(rec.Code)
	// Output:
	// 200 hello
	// 401
}
