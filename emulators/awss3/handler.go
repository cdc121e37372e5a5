package awss3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/sigv4"
)

// Options configure the S3 emulator.
type Options struct {
	// IAM holds access keys (awsauth.Keys) and evaluates policies. Required
	// by New; NewServer defaults it to an empty store.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// DataDir is where objects persist; "" keeps everything in memory.
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// Region is the region of loopback endpoints when the request names
	// none. Defaults to us-east-1.
	Region string
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
}

// Handler serves the S3 REST API.
type Handler struct {
	iam    *awsiam.IAM
	now    func() time.Time
	log    *slog.Logger
	region string
	store  Store
	// policies caches parsed bucket policies.
	policies policyCache
	// keys caches SigV4 signing keys.
	keys sigv4.KeyCache
}

// New returns the S3 handler, opening the store under DataDir if set.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("awss3: Options.IAM is required")
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
	if opts.DataDir == "" {
		h.store = NewMemoryStore()
	} else {
		s, err := NewDiskStore(context.Background(), opts.DataDir, opts.Fsync, h.log)
		if err != nil {
			return nil, fmt.Errorf("awss3: %w", err)
		}
		h.store = s
	}
	return h, nil
}

// Close waits for the store's background work and closes its files; a
// store in memory has nothing to close.
func (h *Handler) Close() error {
	if c, ok := h.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// reqCtx is one request being served: where it is addressed and who sent it.
type reqCtx struct {
	h       *Handler
	r       *http.Request
	id, id2 string
	now     time.Time
	bucket  string
	key     string
	query   url.Values
	region  string // region of the endpoint the request was sent to
	virtual bool

	auth      *awsauth.Result // nil for anonymous requests
	principal awsiam.Principal
}

// ServeHTTP authenticates the request, routes it to an operation and
// renders the operation's error once. Every path is S3's: the admin API is
// AdminHandler's alone, so a key such as _idlab/x is an object like any.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := h.newReqCtx(r)
	if err := h.serve(rc, w); err != nil {
		h.log.Info("s3 error", "request_id", rc.id, "method", r.Method, "bucket", rc.bucket, "key", rc.key,
			"principal", rc.principal.ARN, "err", err)
		rc.writeError(w, err)
	}
}

func (h *Handler) newReqCtx(r *http.Request) *reqCtx {
	rc := &reqCtx{h: h, r: r, now: h.now(), query: r.URL.Query(), region: h.region}
	rc.id, rc.id2 = newRequestID()
	bucket, region, virtual := parseHost(r.Host)
	rc.virtual = virtual
	if region != "" {
		rc.region = region
	}
	path := r.URL.Path
	if virtual {
		rc.bucket, rc.key = bucket, strings.TrimPrefix(path, "/")
	} else {
		rc.bucket, rc.key, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	}
	return rc
}

// parseHost finds the bucket of a virtual-hosted S3 host name
// (BUCKET.s3[.dualstack][.REGION].amazonaws.com, BUCKET.s3-REGION...) and
// the region an S3 host names. Other hosts (loopback) are path-style.
func parseHost(hostport string) (bucket, region string, virtual bool) {
	host := strings.ToLower(hostport)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	rest, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		return "", "", false
	}
	labels := strings.Split(rest, ".")
	if slices.Contains(labels, "") {
		return "", "", false
	}
	n := len(labels)
	i := -1
	switch {
	case n >= 1 && (labels[n-1] == "s3" || strings.HasPrefix(labels[n-1], "s3-")):
		i = n - 1
		if r, ok := strings.CutPrefix(labels[n-1], "s3-"); ok {
			region = r
			if r == "external-1" {
				region = "us-east-1"
			}
		}
	case n >= 2 && labels[n-2] == "s3":
		i, region = n-2, labels[n-1]
	case n >= 3 && labels[n-3] == "s3" && labels[n-2] == "dualstack":
		i, region = n-3, labels[n-1]
	default:
		return "", "", false
	}
	if region == "" {
		region = "us-east-1"
	}
	if i == 0 {
		return "", region, false
	}
	return strings.Join(labels[:i], "."), region, true
}

// op is one S3 operation handler.
type op func(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error

func (h *Handler) serve(rc *reqCtx, w http.ResponseWriter) error {
	if err := rc.authenticate(); err != nil {
		return err
	}
	f, err := rc.route()
	if err != nil {
		return err
	}
	return f(rc.r.Context(), rc, w)
}

// unsupported are S3 subresources this emulator does not implement; a
// request naming one gets NotImplemented rather than a wrong answer.
var unsupported = []string{"acl", "accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls",
	"policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select", "tagging",
	"torrent", "versioning", "versions", "website", "session", "metadataTable", "renameObject"}

// route picks the operation from the method, the addressing and the
// subresource in the query string.
func (rc *reqCtx) route() (op, error) {
	q := rc.query
	for _, s := range unsupported {
		if q.Has(s) {
			return nil, errNotImplemented()
		}
	}
	m := rc.r.Method
	switch {
	case rc.bucket == "":
		if m == http.MethodGet {
			return listBuckets, nil
		}
		return nil, errMethodNotAllowed(m, "SERVICE")
	case rc.key == "":
		switch m {
		case http.MethodGet:
			switch {
			case q.Has("policy"):
				return getBucketPolicy, nil
			case q.Has("location"):
				return getBucketLocation, nil
			case q.Has("uploads"):
				return listMultipartUploads, nil
			case q.Get("list-type") == "2":
				return listObjectsV2, nil
			}
			return listObjectsV1, nil
		case http.MethodHead:
			return headBucket, nil
		case http.MethodPut:
			if q.Has("policy") {
				return putBucketPolicy, nil
			}
			return createBucket, nil
		case http.MethodDelete:
			if q.Has("policy") {
				return deleteBucketPolicy, nil
			}
			return deleteBucket, nil
		case http.MethodPost:
			if q.Has("delete") {
				return deleteObjects, nil
			}
		}
		return nil, errMethodNotAllowed(m, "BUCKET")
	}
	switch m {
	case http.MethodGet:
		if q.Has("uploadId") {
			return listParts, nil
		}
		return getObject, nil
	case http.MethodHead:
		return getObject, nil
	case http.MethodPut:
		if q.Has("uploadId") || q.Has("partNumber") {
			if rc.r.Header.Get("x-amz-copy-source") != "" {
				return nil, errNotImplemented() // UploadPartCopy
			}
			return uploadPart, nil
		}
		if rc.r.Header.Get("x-amz-copy-source") != "" {
			return copyObject, nil
		}
		return putObject, nil
	case http.MethodDelete:
		if q.Has("uploadId") {
			return abortMultipartUpload, nil
		}
		return deleteObject, nil
	case http.MethodPost:
		if q.Has("uploads") {
			return createMultipartUpload, nil
		}
		if q.Has("uploadId") {
			return completeMultipartUpload, nil
		}
	}
	return nil, errMethodNotAllowed(m, "OBJECT")
}

// setCommonHeaders adds the headers every S3 response carries.
func (rc *reqCtx) setCommonHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd[hdrRequestID] = []string{rc.id}
	hd[hdrID2] = []string{rc.id2}
	hd["Date"] = []string{httpDate(rc.now)}
	hd["Server"] = serverName
}

// Common response header names, canonical, and the Server value.
var (
	hdrRequestID = http.CanonicalHeaderKey("x-amz-request-id")
	hdrID2       = http.CanonicalHeaderKey("x-amz-id-2")
	serverName   = []string{"AmazonS3"}
)

// lastDate caches the HTTP date of the last second answered: formatting
// it is a measurable part of a small request.
var lastDate atomic.Pointer[cachedDate]

type cachedDate struct {
	unix int64
	s    string
}

// httpDate is t in http.TimeFormat.
func httpDate(t time.Time) string {
	u := t.Unix()
	if c := lastDate.Load(); c != nil && c.unix == u {
		return c.s
	}
	c := &cachedDate{unix: u, s: t.UTC().Format(http.TimeFormat)}
	lastDate.Store(c)
	return c.s
}

// lookupBucket finds the addressed bucket; NoSuchBucket comes before
// authorization, as in S3.
func (rc *reqCtx) lookupBucket(ctx context.Context, name string) (Bucket, error) {
	b, err := rc.h.store.Bucket(ctx, name)
	if errors.Is(err, ErrNoSuchBucket) {
		return Bucket{}, errNoSuchBucket(name)
	}
	if err != nil {
		return Bucket{}, fmt.Errorf("bucket %q: %w", name, err)
	}
	return b, nil
}

// sigv4Opts are the SigV4 options S3 verifies with.
func (h *Handler) sigv4Opts() sigv4.Options { return sigv4.Options{S3: true, Keys: &h.keys} }
