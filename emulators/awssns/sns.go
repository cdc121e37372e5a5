package awssns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/sigv4"
)

// Namespace is the XML namespace of SNS responses.
const Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// APIVersion is the only SNS API version.
const APIVersion = "2010-03-31"

// maxBody bounds a request body: a 256 KiB message grows up to three times
// when form-encoded, and PublishBatch carries ten of them within 256 KiB.
const maxBody = 1 << 20

// Options configure the SNS emulator.
type Options struct {
	// IAM holds credentials and policies. Required by New; NewServer
	// defaults it to an empty store.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// DataDir persists topics, subscriptions, queue contents and the signing
	// key as JSON (written to a temporary file, then renamed). Defaults to ""
	// (memory only).
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// Region names topics when a request carries no SigV4 scope region.
	// Defaults to us-east-1.
	Region string
	// HTTPClient delivers to http/https subscriptions. Defaults to
	// http.DefaultClient.
	HTTPClient *http.Client
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// RetryDelays are the waits before each retry of an HTTP delivery.
	// Defaults to 100ms, 1s, 5s.
	RetryDelays []time.Duration
}

// Handler serves the SNS query API and delivers notifications.
type Handler struct {
	iam     *awsiam.IAM
	now     func() time.Time
	log     *slog.Logger
	region  string
	client  *http.Client
	retries []time.Duration
	signer  *signer
	store   *store
	// signingKeys caches SigV4 signing keys.
	signingKeys sigv4.KeyCache

	// deliveries tracks asynchronous HTTP deliveries; Close cancels and
	// waits for them.
	deliveries sync.WaitGroup
	stop       context.Context
	cancel     context.CancelFunc
	closeMu    sync.Mutex
	closed     bool
}

// New returns the SNS handler, loading DataDir when set.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("awssns: Options.IAM is required")
	}
	h := &Handler{iam: opts.IAM, now: opts.Now, log: opts.Logger, region: opts.Region, client: opts.HTTPClient, retries: opts.RetryDelays}
	if h.now == nil {
		h.now = opts.IAM.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	if h.client == nil {
		h.client = http.DefaultClient
	}
	if h.retries == nil {
		h.retries = []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second}
	}
	st, err := openStore(opts.DataDir, opts.Fsync)
	if err != nil {
		return nil, fmt.Errorf("awssns: %w", err)
	}
	h.store = st
	sg, err := loadOrCreateSigner(opts.DataDir, opts.Fsync, h.now())
	if err != nil {
		return nil, fmt.Errorf("awssns: %w", err)
	}
	h.signer = sg
	h.stop, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Close cancels pending HTTP delivery retries and waits for deliveries in
// flight to end.
func (h *Handler) Close() {
	h.closeMu.Lock()
	h.closed = true
	h.cancel()
	h.closeMu.Unlock()
	h.deliveries.Wait()
}

// ServeHTTP serves the signing certificate at its SigningCertURL path and
// dispatches the query API on the Action parameter. The admin API is
// AdminHandler's alone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/"+h.signer.certName {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(h.signer.certPEM)
		return
	}
	awsxml.Serve(w, r, Namespace, maxBody, h.log, h.dispatch)
}

// call is one authenticated (or, for ConfirmSubscription, anonymous)
// request on its way through an action.
type call struct {
	ctx       context.Context
	r         *http.Request
	p         url.Values
	reqID     string
	action    string
	caller    awsiam.Principal
	region    string
	anonymous bool
}

type actionFunc func(h *Handler, c *call) (any, error)

// actions maps the wire action names to their implementations.
var actions = map[string]actionFunc{
	"CreateTopic":               (*Handler).createTopic,
	"DeleteTopic":               (*Handler).deleteTopic,
	"ListTopics":                (*Handler).listTopics,
	"GetTopicAttributes":        (*Handler).getTopicAttributes,
	"SetTopicAttributes":        (*Handler).setTopicAttributes,
	"ListTagsForResource":       (*Handler).listTagsForResource,
	"Subscribe":                 (*Handler).subscribe,
	"ConfirmSubscription":       (*Handler).confirmSubscription,
	"Unsubscribe":               (*Handler).unsubscribe,
	"ListSubscriptions":         (*Handler).listSubscriptions,
	"ListSubscriptionsByTopic":  (*Handler).listSubscriptionsByTopic,
	"GetSubscriptionAttributes": (*Handler).getSubscriptionAttributes,
	"SetSubscriptionAttributes": (*Handler).setSubscriptionAttributes,
	"Publish":                   (*Handler).publish,
	"PublishBatch":              (*Handler).publishBatch,
}

func (h *Handler) dispatch(ctx context.Context, r *http.Request, body []byte, p url.Values, reqID string) (any, error) {
	action := p.Get("Action")
	fn, ok := actions[action]
	if v := p.Get("Version"); !ok || (v != APIVersion && v != "") {
		return nil, awsxml.Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, v)
	}
	c := &call{ctx: ctx, r: r, p: p, reqID: reqID, action: action, region: h.region}
	if action == "ConfirmSubscription" && !sigv4.Present(r) {
		// AWS lets anyone holding the token confirm (the SubscribeURL is a
		// plain GET); AuthenticateOnUnsubscribe is recorded but not enforced.
		c.anonymous = true
		return fn(h, c)
	}
	res, err := awsauth.Authenticate(r, h.iam, "sns", h.now(), sigv4.Options{Body: body, Keys: &h.signingKeys})
	if err != nil {
		return nil, awsauth.QueryError(err)
	}
	c.caller = res.Principal
	if res.Signature.Region != "" {
		c.region = res.Signature.Region
	}
	return fn(h, c)
}

// authorize asks IAM whether the caller may do sns:<action> on resource,
// with the topic's policy (nil for none) as resource policy, and answers
// AuthorizationError in AWS's words when it may not.
func (h *Handler) authorize(c *call, action, resource, owner string, policy *awsiam.Policy, cctx map[string][]string) error {
	req := awsiam.Request{Principal: c.caller, Action: "sns:" + action, Resource: resource, ResourceAccount: owner,
		ResourcePolicy: policy, Context: cctx, RequestID: c.reqID}
	if policy != nil {
		req.ResourcePolicyName = "topic policy of " + resource
	}
	d := h.iam.Authorize(c.ctx, req)
	if d.Allowed() {
		return nil
	}
	act := "SNS:" + action
	why := "because no identity-based policy allows the " + act + " action"
	switch {
	case d.Effect == awsiam.ExplicitDeny && len(d.Matched) > 0 && d.Matched[0].Policy == req.ResourcePolicyName:
		why = "with an explicit deny in a resource-based policy"
	case d.Effect == awsiam.ExplicitDeny:
		why = "with an explicit deny in an identity-based policy"
	case owner != "" && owner != c.caller.Account && !strings.Contains(d.Reason, "no identity policy"):
		why = "because no resource-based policy allows the " + act + " action"
	}
	return awsxml.Errorf(403, "AuthorizationError", "User: %s is not authorized to perform: %s on resource: %s %s", c.caller.ARN, act, resource, why)
}

func invalidParameter(format string, args ...any) error {
	return awsxml.Errorf(400, "InvalidParameter", "Invalid parameter: "+format, args...)
}

func notFound(msg string) error { return awsxml.Errorf(404, "NotFound", "%s", msg) }
