package awsxml_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/idlab/idlab/internal/awsxml"
)

func ExampleWriteError() {
	rec := httptest.NewRecorder()
	err := awsxml.New("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	awsxml.WriteError(rec, "https://sts.amazonaws.com/doc/2011-06-15/", "0d6c9e0e-5a8b-4d3e-9e0b-8a1f1b2c3d4e", err)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 403 text/xml
	// <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>0d6c9e0e-5a8b-4d3e-9e0b-8a1f1b2c3d4e</RequestId></ErrorResponse>
}
