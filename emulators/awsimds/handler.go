package awsimds

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/lazyre"
)

// Header names of the IMDSv2 protocol and of the lab's hop model.
const (
	TokenHeader    = "X-Aws-Ec2-Metadata-Token"
	TTLHeader      = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	HopsHeader     = "X-Idlab-Hops"
	MaxTokenTTL    = 21600
	defaultHops    = 1
	ec2Service     = "ec2.amazonaws.com"
	credentialType = "AWS-HMAC"
)

// Options configure one instance's metadata.
type Options struct {
	// IAM issues the instance profile's credentials and decides the trust
	// policy. Required when RoleARN is set.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now, or time.Now without IAM.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// RoleARN is the instance profile's role; empty means no instance profile
	// (the iam/ paths then answer 404, as on EC2).
	RoleARN string
	// InstanceID defaults to i-0123456789abcdef0.
	InstanceID string
	// Region defaults to us-east-1.
	Region string
	// AvailabilityZone defaults to Region + "a".
	AvailabilityZone string
	// Account is reported in the identity document. Defaults to RoleARN's account.
	Account string
	// RequireV2 is HttpTokens=required: GETs without a token get 401.
	RequireV2 bool
	// HopLimit is HttpPutResponseHopLimit (1..64). Defaults to 1.
	HopLimit int
}

// Handler serves the metadata of one instance. It is safe for concurrent use.
type Handler struct {
	opt  Options
	now  func() time.Time
	log  *slog.Logger
	role string // role name, "" without an instance profile
	key  []byte // HMAC key of session tokens
	boot time.Time

	optMu sync.RWMutex // guards opt.RequireV2 and opt.HopLimit (SetMetadataOptions)

	mu      sync.Mutex
	session *awsiam.Session
	issued  time.Time
}

var roleARNRe = lazyre.New(`^arn:aws:iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})$`)

// New validates opts and returns the handler.
func New(opts Options) (*Handler, error) {
	h := &Handler{opt: opts, now: opts.Now, log: opts.Logger}
	if opts.RoleARN != "" {
		m := roleARNRe.FindStringSubmatch(opts.RoleARN)
		if m == nil {
			return nil, fmt.Errorf("awsimds: RoleARN %q is not an IAM role ARN", opts.RoleARN)
		}
		if opts.IAM == nil {
			return nil, errors.New("awsimds: Options.IAM is required with a RoleARN")
		}
		h.role = m[2]
		if h.opt.Account == "" {
			h.opt.Account = m[1]
		}
	}
	if h.now == nil {
		h.now = time.Now
		if opts.IAM != nil {
			h.now = opts.IAM.Now
		}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.opt.InstanceID == "" {
		h.opt.InstanceID = "i-0123456789abcdef0"
	}
	if h.opt.Region == "" {
		h.opt.Region = "us-east-1"
	}
	if h.opt.AvailabilityZone == "" {
		h.opt.AvailabilityZone = h.opt.Region + "a"
	}
	if h.opt.HopLimit == 0 {
		h.opt.HopLimit = 1
	}
	if h.opt.HopLimit < 1 || h.opt.HopLimit > 64 {
		return nil, fmt.Errorf("awsimds: HopLimit %d must be between 1 and 64", h.opt.HopLimit)
	}
	h.key = make([]byte, 32)
	if _, err := rand.Read(h.key); err != nil {
		return nil, fmt.Errorf("awsimds: token key: %w", err)
	}
	h.boot = h.now().UTC()
	return h, nil
}

// ServeHTTP answers the token PUT and metadata GETs.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		h.serveToken(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, http.StatusMethodNotAllowed)
		return
	}
	tok := r.Header.Get(TokenHeader)
	switch {
	case tok != "":
		if !h.validToken(tok) {
			h.log.Info("imds deny", "decision", "Deny", "path", r.URL.Path, "reason", "session token is invalid or expired", "remote", r.RemoteAddr)
			writeStatus(w, http.StatusUnauthorized)
			return
		}
	case h.MetadataOptions().RequireV2:
		h.log.Info("imds deny", "decision", "Deny", "path", r.URL.Path, "reason", "IMDSv1 request while HttpTokens=required", "remote", r.RemoteAddr)
		h.reject(r, ActionGetMetadata, "Unauthorized", "IMDSv1 request (no session token) while HttpTokens=required: 401")
		writeStatus(w, http.StatusUnauthorized)
		return
	}
	h.serveMetadata(w, r)
}

// writeStatus writes the XHTML error page IMDS answers with.
func writeStatus(w http.ResponseWriter, code int) {
	text := fmt.Sprintf("%d - %s", code, http.StatusText(code))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
	"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>%s</title>
 </head>
 <body>
  <h1>%s</h1>
 </body>
</html>
`, text, text)
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(s))
}

func cleanPath(p string) string {
	return strings.TrimSuffix(p, "/")
}
