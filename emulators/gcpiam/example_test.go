package gcpiam_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/idlab/idlab/emulators/gcpiam"
)

// A service account, a bucket binding, a token and the check GCS makes.
func Example() {
	h, err := gcpiam.New(gcpiam.Options{})
	if err != nil {
		panic(err)
	}
	sa, err := h.AddServiceAccount("idlab", "reader", "Reader")
	if err != nil {
		panic(err)
	}
	if err := h.AddBinding("projects/_/buckets/team-a-data", "roles/storage.objectViewer", "serviceAccount:"+sa.Email); err != nil {
		panic(err)
	}
	tok, _, err := h.MintAccessToken(context.Background(), sa.Email, nil, 0)
	if err != nil {
		panic(err)
	}
	info, err := h.VerifyAccessToken(tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(sa.Email, len(sa.UniqueID), strings.HasPrefix(tok, "ya29."))
	fmt.Println(h.CheckPermission("projects/_/buckets/team-a-data", info.Members, "storage.objects.get"))
	fmt.Println(h.CheckPermission("projects/_/buckets/team-a-data", info.Members, "storage.objects.create"))
	d := h.Decisions()[1]
	fmt.Println(d.Allowed(), d.Reason)
	// Output:
	// reader@idlab.iam.gserviceaccount.com 21 true
	// true
	// false
	// false no role including storage.objects.create on projects/_/buckets/team-a-data (or its project) is granted to serviceAccount:reader@idlab.iam.gserviceaccount.com
}
