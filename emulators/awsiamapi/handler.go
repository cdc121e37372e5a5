package awsiamapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/sigv4"
)

// Namespace is the XML namespace of IAM responses.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is the IAM API version.
const APIVersion = "2010-05-08"

// maxBody bounds a request body: the largest valid request (a 131,072
// character policy document, form-encoded up to three times as long, or
// a simulation with its policies) is under it; a larger one gets
// ValidationError (awsxml.ReadParams).
const maxBody = 2 << 20

// Options configure the IAM API.
type Options struct {
	// IAM is the store the API reads and changes. Required by New;
	// NewServer defaults it to an empty store.
	IAM *awsiam.IAM
	// Now is the clock SigV4 signatures are checked against. Defaults to
	// IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Handler serves the IAM query API.
type Handler struct {
	iam *awsiam.IAM
	now func() time.Time
	log *slog.Logger
}

// New returns the IAM API handler.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("awsiamapi: Options.IAM is required")
	}
	h := &Handler{iam: opts.IAM, now: opts.Now, log: opts.Logger}
	if h.now == nil {
		h.now = opts.IAM.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// ServeHTTP runs the action named by the Action parameter, whatever the
// path, as IAM does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	awsxml.Serve(w, r, Namespace, maxBody, h.log, h.dispatch)
}

// call is one request being served.
type call struct {
	ctx    context.Context
	h      *Handler
	p      url.Values
	action string
	caller awsiam.Principal
	reqID  string
	// errs are the parameter constraint violations found so far, in
	// IAM's ValidationError wording.
	errs []string
	pg   paging
}

func (h *Handler) dispatch(ctx context.Context, r *http.Request, body []byte, p url.Values, reqID string) (any, error) {
	res, err := awsauth.Authenticate(r, h.iam, "iam", h.now(), sigv4.Options{Body: body})
	if err != nil {
		return nil, awsauth.QueryError(err)
	}
	action := p.Get("Action")
	run, ok := operations[action]
	if v := p.Get("Version"); v != APIVersion || !ok {
		return nil, awsxml.Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, v)
	}
	c := &call{ctx: ctx, h: h, p: p, action: action, caller: res.Principal, reqID: reqID}
	result, err := run(c)
	if err != nil {
		return nil, storeErr(err)
	}
	return response{action: action, result: result, reqID: reqID}, nil
}

// storeErr turns the store's errors into IAM's wire errors, with the
// message the store wrote after the code.
func storeErr(err error) error {
	var wire *awsxml.Error
	if errors.As(err, &wire) {
		return err
	}
	var pe *awsiam.PolicyError
	if errors.As(err, &pe) {
		return awsxml.Errorf(400, "MalformedPolicyDocument", "%s", pe.Msg)
	}
	for _, k := range []struct {
		sentinel error
		code     string
		status   int
	}{
		{awsiam.ErrNoSuchEntity, "NoSuchEntity", 404},
		{awsiam.ErrEntityAlreadyExists, "EntityAlreadyExists", 409},
		{awsiam.ErrDeleteConflict, "DeleteConflict", 409},
		{awsiam.ErrLimitExceeded, "LimitExceeded", 409},
		{awsiam.ErrInvalidInput, "InvalidInput", 400},
	} {
		if errors.Is(err, k.sentinel) {
			msg := err.Error()
			if i := strings.Index(msg, k.code+": "); i >= 0 {
				msg = msg[i+len(k.code)+2:]
			}
			return awsxml.Errorf(k.status, k.code, "%s", msg)
		}
	}
	return err
}

// authorize asks the store whether the caller may do iam:ACTION on
// resource, which belongs to the account its ARN names (the caller's for
// "*"), and answers AccessDenied as IAM words it when not.
func (c *call) authorize(resource string, context map[string][]string) error {
	return c.authorizeAs(resource, resource, context)
}

// authorizeAs is authorize naming the resource label in AccessDenied:
// IAM names an existing role or user "role NAME" or "user NAME" there,
// its ARN only where it makes one (CreateRole, CreateUser), as these
// answers of AWS's record: "iam:GetRole on resource: role cdk-hnb659fds-..."
// (github.com/aws/aws-cdk/issues/27067), "iam:UpdateAssumeRolePolicy on
// resource: role dpr-start-..." (github.com/ministryofjustice/
// modernisation-platform/pull/7939), "iam:GetUser on resource: user
// rancher-cloud-credential-user" (github.com/aws-samples/
// rancher-on-aws-workshop/issues/28), against "iam:CreateRole on resource:
// arn:aws:iam::...:role/..." (github.com/galaxyproject/cloudlaunch/issues/175).
func (c *call) authorizeAs(resource, label string, context map[string][]string) error {
	action := "iam:" + c.action
	owner := arnAccount(resource)
	if owner == "" || owner == awsiam.AWSManaged { // AWS managed policies are every account's to read and attach
		owner = c.caller.Account
	}
	d := c.h.iam.Authorize(c.ctx, awsiam.Request{Principal: c.caller, Action: action, Resource: resource,
		ResourceAccount: owner, Context: context, RequestID: c.reqID})
	if d.Allowed() {
		return nil
	}
	why := "because no identity-based policy allows the " + action + " action"
	if d.Effect == awsiam.ExplicitDeny {
		why = "with an explicit deny in an identity-based policy"
	}
	return awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s %s", c.caller.ARN, action, label, why)
}

// arnAccount is the account field of an ARN ("" for none).
func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[4]
}

// account is the caller's account: where IAM's entities are made and
// found.
func (c *call) account() string { return c.caller.Account }

// response renders an action's answer: <ActionResponse> holding
// <ActionResult> (none for actions without output) and ResponseMetadata.
type response struct {
	action string
	result any
	reqID  string
}

// MarshalXML writes the response envelope in Namespace.
func (r response) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Local: r.action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if r.result != nil {
		if err := e.EncodeElement(r.result, xml.StartElement{Name: xml.Name{Local: r.action + "Result"}}); err != nil {
			return err
		}
	}
	if err := e.EncodeElement(awsxml.ResponseMetadata{RequestID: r.reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

// policyEscape URL-encodes a policy document as IAM returns documents:
// every byte but the unreserved characters of RFC 3986 percent-encoded,
// so that urllib's unquote (botocore) and url.QueryUnescape both read it
// back.
func policyEscape(doc []byte) string {
	const hex = "0123456789ABCDEF"
	var b bytes.Buffer
	for _, c := range doc {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// isoTime is IAM's timestamp format.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
