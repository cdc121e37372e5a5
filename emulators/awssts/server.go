package awssts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
	"github.com/idlab/idlab/internal/tlsserver"
)

// ClockPrefix is where the AdminHandler of a Server that owns its clock
// answers: GET reads the time, POST /_idlab/clock/advance?seconds=N moves
// it forward.
const ClockPrefix = "/_idlab/clock"

// Server is the STS handler on 127.0.0.1:0 over HTTPS, like httptest.
type Server struct {
	h      *Handler
	srv    *httptest.Server
	client *http.Client
	opt    Options
	clock  *clock.Clock // nil when Options.Now was given: the owner moves time
}

// NewServer starts STS over HTTPS with a certificate from Options.CA, or
// from a CA of its own (CA) when that is nil. Without Options.IAM it
// makes an empty store, which refuses every request.
//
// URL serves STS only. When Options.Now is nil the Server owns a
// clock.Clock reading IAM.Now, which AdminHandler moves; when Options.Now is
// set (idlab serve shares one clock across emulators) the owner of that
// clock moves it and the clock admin API answers 409. Session expirations
// are stamped by IAM's own clock, so a test that moves time should give IAM
// and STS the same Now.
func NewServer(opts Options) (*Server, error) {
	ca, err := tlsserver.OwnCA(opts.CA)
	if err != nil {
		return nil, fmt.Errorf("awssts: %w", err)
	}
	iam, err := awsiam.OrEmpty(opts.IAM, opts.Now, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("awssts: %w", err)
	}
	opts.CA, opts.IAM = ca, iam
	s := &Server{opt: opts}
	if opts.Now == nil {
		s.clock = clock.New(opts.IAM.Now)
		opts.Now = s.clock.Now
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	s.h = h
	if s.srv, err = opts.CA.StartServer(h); err != nil {
		return nil, fmt.Errorf("awssts: %w", err)
	}
	s.client = opts.CA.PinnedClient(s.srv.Listener.Addr().String())
	return s, nil
}

// AdminHandler is the test API a Server's URL does not serve: the clock
// under ClockPrefix and IAM's admin API (awsiam.AdminPrefix). Serve it on a
// listener only tests reach.
func (s *Server) AdminHandler() http.Handler {
	iam := s.opt.IAM.AdminHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == ClockPrefix || strings.HasPrefix(p, ClockPrefix+"/") {
			s.serveClock(w, r)
			return
		}
		iam.ServeHTTP(w, r)
	})
}

func (s *Server) serveClock(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if s.clock == nil {
		writeJSON(http.StatusConflict, map[string]string{"error": "ClockShared", "message": "this server reads a clock it does not own (Options.Now); advance it where it is owned"})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == ClockPrefix:
	case r.Method == http.MethodPost && r.URL.Path == ClockPrefix+"/advance":
		n, err := strconv.ParseInt(r.URL.Query().Get("seconds"), 10, 64)
		if err != nil || n < 0 {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "InvalidParameter", "message": "seconds must be a non-negative integer"})
			return
		}
		s.clock.Advance(time.Duration(n) * time.Second)
	default:
		writeJSON(http.StatusNotFound, map[string]string{"error": "NotFound", "message": "GET " + ClockPrefix + " or POST " + ClockPrefix + "/advance?seconds=N"})
		return
	}
	writeJSON(http.StatusOK, map[string]any{"now": s.clock.Now().UTC().Format(time.RFC3339), "offsetSeconds": int64(s.clock.Offset() / time.Second)})
}

// URL is https://127.0.0.1:PORT: set it as AWS_ENDPOINT_URL(_STS).
func (s *Server) URL() string { return s.srv.URL }

// Handler is the STS handler.
func (s *Server) Handler() *Handler { return s.h }

// Clock is the clock the Server owns, or nil when Options.Now was given.
func (s *Server) Clock() *clock.Clock { return s.clock }

// Client trusts the server's CA and dials this server whatever host a
// request names (sts.amazonaws.com, sts.us-west-2.amazonaws.com), like
// every emulator's Client. The same client is returned each time.
func (s *Server) Client() *http.Client { return s.client }

// CA is the authority of the server's certificate: CA().PEM is the bundle
// to trust (AWS_CA_BUNDLE).
func (s *Server) CA() *certs.CA { return s.opt.CA }

// CACertPEM is the PEM of the CA certificate the server's certificate
// chains to, for a client outside this module. It is a copy.
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.opt.CA.PEM) }

// Close stops the server.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
