package awsxml

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Action runs one query-API request: params merge the query string and the
// form body; body is the raw form, which SigV4 verification needs.
type Action func(ctx context.Context, r *http.Request, body []byte, params url.Values, requestID string) (any, error)

// Serve is the query protocol's request loop shared by STS and SNS: read at
// most maxBody bytes of parameters, run the action, and write its result or
// its error as ErrorResponse in namespace xmlns.
func Serve(w http.ResponseWriter, r *http.Request, xmlns string, maxBody int64, log *slog.Logger, action Action) {
	reqID := NewRequestID()
	body, params, err := ReadParams(r, maxBody)
	if err == nil {
		var v any
		v, err = action(r.Context(), r, body, params, reqID)
		if err == nil {
			err = WriteResult(w, reqID, v)
		}
	}
	if err != nil {
		log.Info("request failed", "request_id", reqID, "action", params.Get("Action"), "err", err)
		WriteError(w, xmlns, reqID, err)
	}
}

// codeInvalidQueryParameter is the common error for a query-protocol
// request that does not adhere to the protocol (AWS's "Common Errors",
// cited in internal/awserrcodes/testdata/common-errors.txt).
const codeInvalidQueryParameter = "InvalidQueryParameter"

// MsgInputConstraints is the documented meaning of the common error
// ValidationError ("Common Error Types" of the STS and SNS API references),
// the answer to a body over maxBody.
const MsgInputConstraints = "The input fails to satisfy the constraints specified by an AWS service."

// ReadParams reads the form body (POST) or query (GET) into values. A body
// over maxBody is a ValidationError (400): AWS documents no answer for a
// query-API body that large (the common errors list no size error), and a
// body no valid request reaches must break some member's length
// constraint, so the documented common error closest to it is the one for
// input outside the constraints. A body that cannot be read is an
// InvalidQueryParameter, as ParseParams answers a body that is not a form.
func ReadParams(r *http.Request, maxBody int64) ([]byte, url.Values, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, url.Values{}, Errorf(400, codeInvalidQueryParameter, "could not read the request body")
		}
		if int64(len(body)) > maxBody {
			return nil, url.Values{}, New("ValidationError", "%s", MsgInputConstraints)
		}
	}
	params, err := ParseParams(r.URL.RawQuery, r.Method, r.Header.Get("Content-Type"), body)
	return body, params, err
}

// ParseParams merges the query string and a form-encoded body as the query
// protocol does. A body in another Content-Type is an InvalidQueryParameter
// (400), the common error AWS documents for a request that "does not
// adhere to AWS standards" of the query protocol; AWS documents no answer
// specific to the Content-Type. A query string or form body that does not
// parse is MalformedQueryString, with the 404 the common errors list gives
// it ("The query string contains a syntax error. HTTP Status Code: 404",
// docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
func ParseParams(rawQuery, method, contentType string, body []byte) (url.Values, error) {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return url.Values{}, Errorf(404, "MalformedQueryString", "The query string is malformed")
	}
	if method == http.MethodPost && len(body) > 0 {
		if ct := strings.ToLower(contentType); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return params, Errorf(400, codeInvalidQueryParameter, "Content-Type %q is not supported; use application/x-www-form-urlencoded", contentType)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params, Errorf(404, "MalformedQueryString", "The request body is not form-encoded")
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, nil
}

// MaxMembers bounds the member indexes Members reads, so that a hostile
// request cannot make it allocate for a huge N.
const MaxMembers = 1000

// Members returns the members of the query-protocol list name
// (name.member.1, name.member.2, ...), ordered by index, each as the
// parameters under it with "name.member.N." cut off: a scalar member's
// value is under "", a structure's fields under their names, and a list
// inside it is read with Members again. Indexes outside 1..MaxMembers or
// not in canonical decimal are ignored, as are gaps.
func Members(p url.Values, name string) []url.Values {
	prefix := name + ".member."
	byN := map[int]url.Values{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || len(v) == 0 {
			continue
		}
		num, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > MaxMembers || strconv.Itoa(n) != num {
			continue
		}
		if byN[n] == nil {
			byN[n] = url.Values{}
		}
		byN[n][field] = v
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	out := make([]url.Values, 0, len(ns))
	for _, n := range ns {
		out = append(out, byN[n])
	}
	return out
}

// Strings returns the scalar members of the list name, ordered by index.
func Strings(p url.Values, name string) []string {
	var out []string
	for _, m := range Members(p, name) {
		if v, ok := m[""]; ok {
			out = append(out, v[0])
		}
	}
	return out
}
