// Package fakeemu is a fixture for awserrcodes' scanner tests: each
// function puts an error code on the "wire" one way, named by the code.
package fakeemu

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/idlab/idlab/internal/awsxml"
)

// Error is the package's wire error; its Code field is a sink.
type Error struct {
	Status int
	Code   string
}

func (e *Error) Error() string { return e.Code }

// batchEntry has a Code field too, so it is a sink as well.
type batchEntry struct {
	ID   string
	Code string
}

const codeConst = "ViaConst"

type codeName string

func newErr(status int, code string) *Error { return &Error{Status: status, Code: code} }

func forward(code string) error { return newErr(400, code) }

func pick() string { return "ViaResult" }

func two() (string, int) { return "ViaTuple", 1 }

func literal() error { return &Error{Code: "ViaLiteral"} }

func constant() Error { return Error{Code: codeConst} }

func positional() error { return &Error{400, "ViaPositional"} }

func param() error { return newErr(400, "ViaParam") }

func forwarded() error { return forward("ViaForward") }

func closure() error {
	f := func(code string) error { return newErr(400, code) }
	return f("ViaClosure")
}

func result() error { return newErr(400, pick()) }

func local(b bool) error {
	c := "ViaLocal"
	if b {
		c = "ViaLocalToo"
	}
	return newErr(400, c)
}

func tuple() error {
	c, _ := two()
	return newErr(400, c)
}

func conversion() error {
	n := codeName("ViaConversion")
	return newErr(400, string(n))
}

func otherSink() batchEntry { return batchEntry{ID: "1", Code: "ViaOtherSink"} }

func shared() error { return awsxml.Errorf(400, "ViaShared", "m") }

// tagged has its code in a field named otherwise, tagged as the Code
// element.
type tagged struct {
	Kind string `xml:"Code"`
}

func viaTag() tagged { return tagged{Kind: "ViaTag"} }

func anonymous() any { return struct{ Code string }{"ViaAnonymous"} }

func localType() any {
	type reply struct {
		Code string `json:"Code"`
	}
	return reply{Code: "ViaLocalType"}
}

func header(w http.ResponseWriter) {
	w.Header().Set("X-Amzn-ErrorType", "ViaHeader")
	w.Header().Set("Content-Type", "NotACodeEither")
}

func mapKey() ([]byte, error) {
	return json.Marshal(map[string]string{"__type": "ViaMapKey", "message": "NotACodeToo"})
}

// copied adds no code: it copies one that is already a sink's.
func copied(e *Error) error { return &Error{Code: e.Code} }

// notCodes holds strings that never reach a sink.
func notCodes(err error) bool {
	var e *Error
	fmt.Println("NotACode")
	return err != nil && e.Code == "Compared"
}

// The rest cannot be followed, and the scan must say so.

var table = map[string]string{"a": "FromMap"}

func fromMap(k string) error { return newErr(400, table[k]) }

func fromCall(n int) error { return newErr(400, fmt.Sprint(n)) }

func fromRange() error {
	var last *Error
	for _, c := range []string{"FromRange"} {
		last = &Error{Code: c}
	}
	return last
}

var asValue = newErr

// failer is called through an interface, so the scan cannot see which
// method runs.
type failer interface{ fail(code string) error }

type wireFailer struct{}

func (wireFailer) fail(code string) error { return &Error{Code: code} }

func viaInterface(f failer) error { return f.fail("ViaInterface") }
