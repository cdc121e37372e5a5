package eksauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/jwtverify"
)

// Audience is the only audience EKS Auth accepts, and what it answers.
const Audience = "pods.eks.amazonaws.com"

// ServicePrincipal is the principal the role's trust policy must name.
const ServicePrincipal = "pods.eks.amazonaws.com"

// Action is the IAM action the caller (the node role) needs on the cluster.
const Action = "eks-auth:AssumeRoleForPodIdentity"

// maxBody bounds a request body; tokens are at most jwtverify.MaxTokenSize.
const maxBody = 64 << 10

// Options configure the EKS Auth emulator.
type Options struct {
	// IAM holds roles and credentials and decides. Required by New;
	// NewServer defaults it to an empty store.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// HTTPClient fetches cluster issuers' discovery documents and JWKS.
	// Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Region is the region of the endpoint and the default of clusters.
	// Defaults to us-east-1.
	Region string
	// DataDir, if set, keeps clusters and associations across restarts.
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
}

// Handler serves AssumeRoleForPodIdentity. It is safe for concurrent use.
type Handler struct {
	iam     *awsiam.IAM
	now     func() time.Time
	log     *slog.Logger
	region  string
	dataDir string
	fsync   bool
	keys    *jwtverify.DiscoveryKeys

	mu        sync.RWMutex
	clusters  map[string]Cluster
	assocs    []Association
	persistMu sync.Mutex
}

// New returns the handler, loading persisted clusters and associations.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("eksauth: Options.IAM is required")
	}
	h := &Handler{iam: opts.IAM, now: opts.Now, log: opts.Logger, region: opts.Region, dataDir: opts.DataDir, fsync: opts.Fsync,
		clusters: map[string]Cluster{}}
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
	h.keys = &jwtverify.DiscoveryKeys{Client: client, Now: h.now}
	if err := h.load(); err != nil {
		return nil, fmt.Errorf("eksauth: %w", err)
	}
	return h, nil
}

// ForgetIssuerKeys drops cached keys of an issuer (after a key rotation).
func (h *Handler) ForgetIssuerKeys(issuer string) { h.keys.Forget(issuer) }

// ServeHTTP answers POST /clusters/{clusterName}/assume-role-for-pod-identity.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, h.log, reqID, apiErr(CodeInvalidRequest, "could not read the request body"))
		return
	}
	if len(body) > maxBody {
		writeError(w, h.log, reqID, apiErr(CodeInvalidRequest, "request body is larger than %d bytes", maxBody))
		return
	}
	in, err := ParseRequest(r.Method, r.URL.EscapedPath(), body)
	if err != nil {
		writeError(w, h.log, reqID, err)
		return
	}
	out, err := h.assumeRoleForPodIdentity(r, body, in, reqID)
	if err != nil {
		writeError(w, h.log, reqID, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(http.StatusOK)
	if err := writeJSON(w, out); err != nil {
		h.log.Error("eks-auth write response", "err", err, "request_id", reqID)
	}
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
