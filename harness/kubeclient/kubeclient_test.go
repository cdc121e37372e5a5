package kubeclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// fakeAPIServer answers /readyz with the next of readyz (the last repeats)
// and every other request with the next of answers, recording the bodies.
type fakeAPIServer struct {
	mu      sync.Mutex
	readyz  []int
	answers []int
	bodies  []string
	asked   int
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := func(codes *[]int) int {
		c := (*codes)[0]
		if len(*codes) > 1 {
			*codes = (*codes)[1:]
		}
		return c
	}
	if r.URL.Path == "/readyz" {
		f.asked++
		w.WriteHeader(next(&f.readyz))
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(b))
	code := next(&f.answers)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusForbidden {
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"namespaces \"x\" is forbidden: User \"kubernetes-admin\" cannot get resource \"namespaces\""}`)
		return
	}
	_, _ = io.WriteString(w, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"}}`)
}

func transport(host string) *Transport {
	return &Transport{Base: http.DefaultTransport, Host: host, MaxWait: 2 * time.Second, Poll: 10 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestTransport(t *testing.T) {
	for _, tc := range []struct {
		name       string
		readyz     []int
		answers    []int
		wantCode   int
		wantSent   int // requests that reached the server, retries included
		wantAsked  int // /readyz requests
		wantBodies bool
	}{
		{name: "an answer that is not 403 is returned at once", readyz: []int{200}, answers: []int{200}, wantCode: 200, wantSent: 1},
		{name: "a 404 is returned at once", readyz: []int{500}, answers: []int{404}, wantCode: 404, wantSent: 1},
		{name: "a ready server's 403 is a real denial, not retried", readyz: []int{200}, answers: []int{403, 200}, wantCode: 403, wantSent: 1, wantAsked: 1},
		{name: "a 403 while not ready waits for readyz, then one retry", readyz: []int{500, 403, 500, 200}, answers: []int{403, 200}, wantCode: 200, wantSent: 2, wantAsked: 4, wantBodies: true},
		{name: "the retry's own 403 is the answer", readyz: []int{500, 200}, answers: []int{403, 403, 200}, wantCode: 403, wantSent: 2, wantAsked: 2},
		{name: "a server that never gets ready keeps its 403", readyz: []int{500}, answers: []int{403, 200}, wantCode: 403, wantSent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPIServer{readyz: tc.readyz, answers: tc.answers}
			srv := httptest.NewServer(f)
			defer srv.Close()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/namespaces", strings.NewReader(`{"metadata":{"name":"x"}}`))
			require.NoError(t, err)
			resp, err := transport(srv.URL).RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.wantCode, resp.StatusCode)
			require.Len(t, f.bodies, tc.wantSent)
			if tc.wantAsked > 0 {
				require.Equal(t, tc.wantAsked, f.asked)
			}
			for _, b := range f.bodies {
				require.Equal(t, `{"metadata":{"name":"x"}}`, b, "a retried request carries its body again")
			}
		})
	}
}

// TestTransportConnectionRefused: a server that is down (the restart's
// first half) is waited for, then asked again.
func TestTransportConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens: refused
	f := &fakeAPIServer{readyz: []int{200}, answers: []int{200}}
	go func() {
		time.Sleep(200 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		_ = http.Serve(ln, f)
	}()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/namespaces/x", nil)
	require.NoError(t, err)
	resp, err := transport("http://" + addr).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
}

// TestTransportRefusedForGood: a server that stays down keeps the error.
func TestTransportRefusedForGood(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	tr := transport("http://" + addr)
	tr.MaxWait = 100 * time.Millisecond
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.ErrorContains(t, err, "connection refused")
}

// TestNewClientset: the clientset from New goes through the transport: a
// restart's 403 on a Get becomes the object once the server is ready.
func TestNewClientset(t *testing.T) {
	f := &fakeAPIServer{readyz: []int{500, 200}, answers: []int{403, 200}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cs, err := New(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "x", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "x", ns.Name)
	require.Len(t, f.bodies, 2)
}

// TestTransportDroppedConnection: a stopping server drops connections
// without an answer. An idempotent request is sent again once the server
// is ready; a POST or PATCH is not, since it may have been done.
func TestTransportDroppedConnection(t *testing.T) {
	for _, tc := range []struct {
		method   string
		wantErr  bool
		wantSent int
	}{
		{method: http.MethodGet, wantSent: 2},
		{method: http.MethodHead, wantSent: 2},
		{method: http.MethodPut, wantSent: 2},
		{method: http.MethodDelete, wantSent: 2},
		{method: http.MethodPost, wantErr: true, wantSent: 1},
		{method: http.MethodPatch, wantErr: true, wantSent: 1},
	} {
		t.Run(tc.method, func(t *testing.T) {
			var mu sync.Mutex
			sent := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/readyz" {
					return
				}
				mu.Lock()
				sent++
				first := sent == 1
				mu.Unlock()
				if first {
					conn, _, err := w.(http.Hijacker).Hijack()
					require.NoError(t, err)
					conn.Close() // no answer at all
					return
				}
				_, _ = io.WriteString(w, "{}")
			}))
			defer srv.Close()
			tr := transport(srv.URL)
			tr.Base = &http.Transport{DisableKeepAlives: true} // Go's own retry of a reused connection stays out
			req, err := http.NewRequest(tc.method, srv.URL+"/api/v1/namespaces", strings.NewReader("{}"))
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, tc.wantSent, sent)
		})
	}
}

// silentFirst is a listener whose first connection is accepted by the
// kernel but never answered: the client's TLS handshake on it times out.
type silentFirst struct {
	net.Listener
	once sync.Once
	held chan net.Conn
}

func (l *silentFirst) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	swallowed := false
	l.once.Do(func() { l.held <- c; swallowed = true })
	if swallowed {
		return l.Accept()
	}
	return c, nil
}

// TestTransportTLSHandshakeTimeout: a server too busy to finish the TLS
// handshake (CI saw it on a GET) never got the request, so even a POST is
// sent again once the server is ready.
func TestTransportTLSHandshakeTimeout(t *testing.T) {
	f := &fakeAPIServer{readyz: []int{200}, answers: []int{201}}
	srv := httptest.NewUnstartedServer(f)
	held := make(chan net.Conn, 1)
	srv.Listener = &silentFirst{Listener: srv.Listener, held: held}
	srv.StartTLS()
	defer srv.Close()
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.TLSHandshakeTimeout = 100 * time.Millisecond
	tr := transport(srv.URL)
	tr.Base = base
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/namespaces", strings.NewReader(`{"metadata":{"name":"x"}}`))
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 201, resp.StatusCode)
	require.Equal(t, []string{`{"metadata":{"name":"x"}}`}, f.bodies, "the POST reached the server once, on the retry")
}

// TestNotSent classifies errors real transports return: only those that
// prove the request never left the client count.
func TestNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, refused := http.Get("http://" + closed + "/")
	require.Error(t, refused)

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	_, handshake := (&http.Client{Transport: &http.Transport{TLSHandshakeTimeout: 50 * time.Millisecond}}).Get("https://" + silent.Addr().String() + "/")
	require.Error(t, handshake)

	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer drop.Close()
	_, dropped := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Post(drop.URL, "text/plain", strings.NewReader("x"))
	require.Error(t, dropped)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"TLS handshake timeout", handshake, true},
		{"connection dropped after the request was written", dropped, false},
		{"EOF", io.EOF, false},
	} {
		require.Equal(t, tc.want, notSent(tc.err), "%s: %v", tc.name, tc.err)
	}
}

// TestCreate: a create that got no answer is checked with get before it
// is sent again; a create the server answered is never repeated.
func TestCreate(t *testing.T) {
	dropped := &net.OpError{Op: "read", Net: "tcp", Err: io.EOF}
	gr := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		name        string
		creates     []error // the answer of each create call
		get         error
		wantErr     error
		wantCreates int
		wantGets    int
	}{
		{name: "created", creates: []error{nil}, wantCreates: 1},
		{name: "the server's refusal is the answer", creates: []error{apierrors.NewAlreadyExists(gr, "p")}, wantErr: apierrors.NewAlreadyExists(gr, "p"), wantCreates: 1},
		{name: "dropped but made: get finds it", creates: []error{dropped}, get: nil, wantCreates: 1, wantGets: 1},
		{name: "dropped and not made: created again", creates: []error{dropped, nil}, get: apierrors.NewNotFound(gr, "p"), wantCreates: 2, wantGets: 1},
		{name: "dropped and get fails too: the create's error", creates: []error{dropped}, get: errors.New("refused"), wantErr: dropped, wantCreates: 1, wantGets: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creates, gets := 0, 0
			_, err := Create(context.Background(),
				func(context.Context) (string, error) { creates++; return "p", tc.creates[creates-1] },
				func(context.Context) (string, error) { gets++; return "p", tc.get })
			if tc.wantErr != nil {
				require.Equal(t, tc.wantErr, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantCreates, creates)
			require.Equal(t, tc.wantGets, gets)
		})
	}
}
