package awssts

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/jwtverify"
	"github.com/idlab/idlab/internal/lazyre"
	"github.com/idlab/idlab/internal/sigv4"
)

// Namespace is the XML namespace of STS responses.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// APIVersion is the only STS API version.
const APIVersion = "2011-06-15"

// maxBody bounds a request body. The largest valid request (a 20,000
// character token, or AssumeRole with ten policy ARNs and fifty tags) is
// well under it; a larger body gets ValidationError, since AWS documents no
// answer for one (awsxml.ReadParams).
const maxBody = 256 << 10

// Options configure the STS emulator.
type Options struct {
	// IAM holds roles, providers and credentials. Required by New;
	// NewServer defaults it to an empty store.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// HTTPClient fetches OIDC discovery documents and JWKS. Defaults to
	// http.DefaultClient.
	HTTPClient *http.Client
	// Region is reported where STS reports one. Defaults to us-east-1.
	Region string
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// KeyCacheTTL is how long issuer keys are cached. Defaults to 5 minutes;
	// tests of key rotation set it low.
	KeyCacheTTL time.Duration
}

// Handler serves the STS query API.
type Handler struct {
	iam    *awsiam.IAM
	now    func() time.Time
	log    *slog.Logger
	region string
	keys   *jwtverify.DiscoveryKeys
	// transitive holds the transitive session tag keys of the sessions this
	// handler issued, by access key ID (awsiam.Principal has no field).
	transitive sync.Map
	// signingKeys caches SigV4 signing keys.
	signingKeys sigv4.KeyCache
}

func (h *Handler) rememberTransitive(akid string, keys []string) {
	if len(keys) > 0 {
		h.transitive.Store(akid, slices.Clone(keys))
	}
}

func (h *Handler) transitiveKeys(akid string) []string {
	v, _ := h.transitive.Load(akid)
	keys, _ := v.([]string)
	return keys
}

func awsInvalidParameter(msg string) error {
	return awsxml.Errorf(400, "InvalidParameterValue", "%s", msg)
}

// New returns the STS handler.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("awssts: Options.IAM is required")
	}
	h := &Handler{iam: opts.IAM, now: opts.Now, log: opts.Logger, region: opts.Region}
	if h.now == nil {
		h.now = opts.IAM.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	h.keys = &jwtverify.DiscoveryKeys{Client: client, Now: h.now, TTL: opts.KeyCacheTTL}
	return h, nil
}

// ForgetIssuerKeys drops cached keys of an issuer (after a key rotation).
func (h *Handler) ForgetIssuerKeys(issuer string) { h.keys.Forget(issuer) }

// ServeHTTP dispatches on the Action parameter, whatever the path, as STS
// does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	awsxml.Serve(w, r, Namespace, maxBody, h.log, h.dispatch)
}

func (h *Handler) dispatch(ctx context.Context, r *http.Request, body []byte, p url.Values, reqID string) (any, error) {
	action := p.Get("Action")
	if v := p.Get("Version"); v != APIVersion || action == "" {
		return nil, awsxml.Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, v)
	}
	switch action {
	case "AssumeRoleWithWebIdentity":
		v, err := h.assumeRoleWithWebIdentity(ctx, p, reqID)
		h.recordTokenRejection(ctx, p, reqID, err)
		return v, err
	case "AssumeRole":
		caller, akid, err := h.authenticate(r, body)
		if err != nil {
			return nil, err
		}
		return h.assumeRole(ctx, caller, akid, p, reqID)
	case "GetCallerIdentity":
		caller, _, err := h.authenticate(r, body)
		if err != nil {
			return nil, err
		}
		return getCallerIdentityResponse{Result: callerIdentity{UserID: caller.UserID, Account: caller.Account, Arn: caller.ARN},
			Xmlns: Namespace, Meta: awsxml.ResponseMetadata{RequestID: reqID}}, nil
	}
	return nil, awsxml.Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, APIVersion)
}

// authenticate verifies SigV4 and returns the caller and its access key ID.
func (h *Handler) authenticate(r *http.Request, body []byte) (awsiam.Principal, string, error) {
	res, err := awsauth.Authenticate(r, h.iam, "sts", h.now(), sigv4.Options{Body: body, Keys: &h.signingKeys})
	if err != nil {
		return awsiam.Principal{}, "", awsauth.QueryError(err)
	}
	return res.Principal, res.Signature.AccessKeyID, nil
}

var (
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	anyARNRe      = regexp.MustCompile(`^arn:[^:]+:[^:]*:[^:]*:[^:]*:.+$`)
	roleARNRe     = lazyre.New(`^arn:aws:iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})$`)
)

func validation(format string, args ...any) error {
	return awsxml.Errorf(400, "ValidationError", format, args...)
}

// common holds parameters shared by the AssumeRole* actions.
type common struct {
	role          *awsiam.Role
	roleARN       string
	session       string
	duration      time.Duration
	policy        *awsiam.Policy
	policyARNs    []string
	packedPercent int
}

func (h *Handler) parseCommon(p url.Values, action string) (*common, error) {
	c := &common{roleARN: p.Get("RoleArn"), session: p.Get("RoleSessionName")}
	var errs []string
	if c.roleARN == "" {
		errs = append(errs, "Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	} else if len(c.roleARN) < 20 {
		errs = append(errs, fmt.Sprintf("Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", c.roleARN))
	}
	switch {
	case !p.Has("RoleSessionName"):
		errs = append(errs, "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case len(c.session) < 2:
		errs = append(errs, fmt.Sprintf("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", c.session))
	case len(c.session) > 64:
		errs = append(errs, fmt.Sprintf("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", c.session))
	case !sessionNameRe.MatchString(c.session):
		errs = append(errs, fmt.Sprintf("Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", c.session))
	}
	c.duration = time.Hour
	if s := p.Get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", s))
		case n < 900:
			errs = append(errs, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n))
		case n > 43200:
			errs = append(errs, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", n))
		default:
			c.duration = time.Duration(n) * time.Second
		}
	}
	if len(errs) > 0 {
		return nil, validation("%d validation error%s detected: %s", len(errs), plural(len(errs)), strings.Join(errs, "; "))
	}
	if pol := p.Get("Policy"); pol != "" {
		parsed, err := awsiam.ParsePolicy([]byte(pol))
		if err == nil {
			err = parsed.ValidateFor(awsiam.SessionPolicy)
		}
		if err != nil {
			if strings.Contains(err.Error(), "PolicySize") {
				return nil, awsxml.Errorf(400, "PackedPolicyTooLarge", "Packed policy consumes more than 100%% of allotted space, please use smaller policy.")
			}
			return nil, awsxml.Errorf(400, "MalformedPolicyDocument", "%s", err.Error())
		}
		c.policy = parsed
	}
	for n := 1; ; n++ {
		a := p.Get(fmt.Sprintf("PolicyArns.member.%d.arn", n))
		if a == "" {
			break
		}
		if _, err := h.iam.ManagedPolicy(a); err != nil {
			return nil, awsxml.Errorf(400, "MalformedPolicyDocument", "Policy %s does not exist or is not attachable.", a)
		}
		c.policyARNs = append(c.policyARNs, a)
	}
	if len(c.policyARNs) > 10 {
		return nil, validation("1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	if !anyARNRe.MatchString(c.roleARN) {
		return c, validation("Request ARN is invalid")
	}
	if !roleARNRe.MatchString(c.roleARN) {
		// An ARN but not a role's (arn:aws:iam:1111...:role/x with one colon):
		// AWS answers as for a role it cannot find.
		return c, nil
	}
	role, err := h.iam.Role(c.roleARN)
	if err != nil {
		// AWS does not reveal whether the role exists.
		return c, nil
	}
	c.role = role
	return c, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// issue creates the session once authorization passed.
func (h *Handler) issue(c *common, p awsiam.Principal) (*awsiam.Session, error) {
	if c.duration > c.role.MaxSessionDuration {
		return nil, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	p.Type = awsiam.PrincipalAssumedRole
	p.Account = c.role.Account
	p.RoleARN = c.role.ARN
	p.SessionName = c.session
	p.ARN = "arn:aws:sts::" + c.role.Account + ":assumed-role/" + c.role.Name + "/" + c.session
	p.UserID = c.role.RoleID + ":" + c.session
	p.SessionPolicy = c.policy
	p.SessionPolicyARNs = c.policyARNs
	s, err := h.iam.IssueSession(awsiam.SessionSpec{Principal: p, Duration: c.duration})
	if err != nil {
		return nil, fmt.Errorf("issue session: %w", err)
	}
	return s, nil
}

// XML shapes of the results.
type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

func credsXML(s *awsiam.Session) credentialsXML {
	return credentialsXML{AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey,
		SessionToken: s.Credentials.SessionToken, Expiration: s.Credentials.Expiration.UTC().Format(time.RFC3339)}
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name                `xml:"GetCallerIdentityResponse"`
	Xmlns   string                  `xml:"xmlns,attr"`
	Result  callerIdentity          `xml:"GetCallerIdentityResult"`
	Meta    awsxml.ResponseMetadata `xml:"ResponseMetadata"`
}
