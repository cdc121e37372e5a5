package awssns_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssns"
)

// FuzzQueryParams sends arbitrary forms to the SNS handler: entry.N maps,
// MessageAttributes, batch entries. Unsigned, every one must be answered
// with a well-formed error, and only ConfirmSubscription may get past
// authentication (to fail on its topic or token).
func FuzzQueryParams(f *testing.F) {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := awssns.New(awssns.Options{IAM: iam})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	if _, err := h.CreateTopic(f.Context(), "111111111111", "us-east-1", "t", nil); err != nil {
		f.Fatal(err)
	}
	f.Add("", "Action=Publish&Version=2010-03-31&TopicArn=arn:aws:sns:us-east-1:111111111111:t&Message=m&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=v")
	f.Add("Action=CreateTopic&Version=2010-03-31", "Name=x&Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B&Tags.member.1.Key=k")
	f.Add("", "Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:111111111111:t&Token=abc")
	f.Add("", "Action=PublishBatch&Version=2010-03-31&PublishBatchRequestEntries.member.1.Id=a&PublishBatchRequestEntries.member.01.Message=x")
	f.Add("%zz", "a=%zz")
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest(http.MethodPost, "https://sns.us-east-1.amazonaws.com/", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 400 || w.Code > 599 || !strings.Contains(w.Body.String(), "<ErrorResponse") {
			t.Fatalf("status %d body %q", w.Code, w.Body.String())
		}
	})
}
