package awssns_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssns"
)

// Seed a topic as a fixture would, then read it back from the admin API.
func ExampleHandler_CreateTopic() {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		panic(err)
	}
	h, err := awssns.New(awssns.Options{IAM: iam, Region: "eu-west-1"})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	arn, err := h.CreateTopic(context.Background(), "111122223333", "", "uploads", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(arn)

	w := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/_idlab/sns/topics", nil))
	fmt.Println(w.Code, strings.Contains(w.Body.String(), `"Sid":"__default_statement_ID"`))
	fmt.Println(len(h.QueueMessages("111122223333", "nothing-subscribed")))
	// Output:
	// arn:aws:sns:eu-west-1:111122223333:uploads
	// 200 true
	// 0
}
