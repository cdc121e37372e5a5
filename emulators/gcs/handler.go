package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/internal/certs"
)

// Host is Cloud Storage's host name (JSON, upload, download and XML APIs).
const Host = "storage.googleapis.com"

// OAuth scopes that allow reading and writing Cloud Storage.
var (
	readScopes = []string{
		gcpiam.ScopeCloudPlatform, "https://www.googleapis.com/auth/cloud-platform.read-only",
		"https://www.googleapis.com/auth/devstorage.read_only", "https://www.googleapis.com/auth/devstorage.read_write",
		"https://www.googleapis.com/auth/devstorage.full_control",
	}
	writeScopes = []string{
		gcpiam.ScopeCloudPlatform, "https://www.googleapis.com/auth/devstorage.read_write",
		"https://www.googleapis.com/auth/devstorage.full_control",
	}
)

// Options configure the Cloud Storage emulator.
type Options struct {
	// IAM verifies bearer tokens and holds bucket bindings. Required by
	// New; NewServer defaults it to an empty Google IAM.
	IAM *gcpiam.Handler
	// Now is the clock. Defaults to IAM.Now. (Token expiry is IAM's clock.)
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// DataDir keeps buckets and objects in fake-gcs-server's filesystem
	// backend under DataDir/gcs. "" (the default) keeps them in memory.
	DataDir string
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// ExternalURL is the URL fake-gcs-server puts in resumable-upload
	// Location headers. Defaults to https://storage.googleapis.com;
	// NewServer sets its own URL.
	ExternalURL string
}

// Handler is fake-gcs-server behind bearer authentication and bucket IAM.
type Handler struct {
	iam  *gcpiam.Handler
	now  func() time.Time
	log  *slog.Logger
	fake *fakestorage.Server
	next http.Handler
}

// New embeds fake-gcs-server (no listener) behind the IAM layer.
func New(opts Options) (*Handler, error) {
	if opts.IAM == nil {
		return nil, errors.New("gcs: Options.IAM is required")
	}
	h := &Handler{iam: opts.IAM, now: opts.Now, log: opts.Logger}
	if h.now == nil {
		h.now = opts.IAM.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	ext := opts.ExternalURL
	if ext == "" {
		ext = "https://" + Host
	}
	fo := fakestorage.Options{NoListener: true, ExternalURL: ext, PublicHost: Host, Writer: io.Discard}
	if opts.DataDir != "" {
		fo.StorageRoot = filepath.Join(opts.DataDir, "gcs")
	}
	fake, err := fakestorage.NewServerWithOptions(fo)
	if err != nil {
		return nil, fmt.Errorf("gcs: start fake-gcs-server: %w", err)
	}
	h.fake, h.next = fake, fake.HTTPHandler()
	return h, nil
}

// CreateBucket creates a bucket (idempotent). project is recorded in logs
// only: fake-gcs-server has no projects.
func (h *Handler) CreateBucket(ctx context.Context, project, name string) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() { // fake-gcs-server panics on backend errors
		if r := recover(); r != nil {
			err = fmt.Errorf("gcs: create bucket %q: %v", name, r)
		}
	}()
	if _, gerr := h.fake.Backend().GetBucket(name); gerr == nil {
		return nil
	}
	h.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	h.log.Info("bucket created", "project", project, "bucket", name)
	return nil
}

// PutObject stores an object, creating the bucket when missing.
func (h *Handler) PutObject(ctx context.Context, bucket, name string, data []byte, contentType string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	obj := fakestorage.StreamingObject{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: name, ContentType: contentType},
		Content:     nopCloser{bytes.NewReader(data)},
	}
	if err := h.fake.CreateObjectStreaming(obj); err != nil {
		return fmt.Errorf("gcs: put gs://%s/%s: %w", bucket, name, err)
	}
	return nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// ServeHTTP authenticates the bearer token, authorizes each permission the
// request needs against bucket IAM, then hands the request to
// fake-gcs-server.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := Classify(r.Method, r.Host, r.URL.EscapedPath(), r.URL.Query())
	if err != nil {
		asXML := !strings.HasPrefix(r.URL.Path, "/storage/") && !strings.HasPrefix(r.URL.Path, "/upload/") && !strings.HasPrefix(r.URL.Path, "/download/")
		if errors.Is(err, errUnsupported) {
			writeError(w, unsupported("The lab's Cloud Storage does not support "+r.Method+" "+r.URL.Path+"."), asXML)
			return
		}
		writeError(w, notFound("Not Found"), asXML)
		return
	}
	var members []string
	who := "Anonymous caller"
	var scopes []string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		info, verr := h.iam.VerifyAccessToken(strings.TrimSpace(tok))
		if !strings.EqualFold(scheme, "Bearer") || verr != nil {
			reason := "invalid bearer token"
			if verr != nil {
				reason = verr.Error()
			}
			h.iam.RecordDecision(gcpiam.Decision{Member: "invalid-token", Resource: rt.Checks[0].Resource,
				Permission: rt.Checks[0].Permission, Reason: "401 Invalid Credentials: " + reason})
			writeError(w, invalidCredentials(), rt.XML)
			return
		}
		members, scopes = info.Members, info.Scopes
		who = info.Email
		if who == "" {
			who = info.Member()
		}
	}
	for _, a := range rt.Checks {
		if members != nil {
			want := readScopes
			if !strings.HasSuffix(a.Permission, ".get") && !strings.HasSuffix(a.Permission, ".list") {
				want = writeScopes
			}
			if !slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(want, s) }) {
				h.iam.RecordDecision(gcpiam.Decision{Member: members[0], Resource: a.Resource, Permission: a.Permission,
					Reason: "403 token scopes " + strings.Join(scopes, " ") + " do not allow " + a.Permission})
				writeError(w, insufficientScope(), rt.XML)
				return
			}
		}
		if !h.iam.CheckPermission(a.Resource, members, a.Permission) {
			h.log.Info("denied", "principal", who, "action", a.Permission, "resource", a.Resource)
			writeError(w, denied(who, a), rt.XML)
			return
		}
	}
	if !rt.VirtualHost {
		r.Host = Host
	}
	r.Header.Del("Authorization")
	h.next.ServeHTTP(w, r)
}
