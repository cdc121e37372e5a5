// Package kubeclient makes the host-side Kubernetes clients of the lab and
// the scenarios: kubeconfig in, client out, with one addition. A kind
// kube-apiserver that restarts (the kubelet's liveness probe on a loaded
// 2-core machine) first refuses connections and then, until its RBAC
// informers have synced, answers 403 to kubeadm's kubernetes-admin, who is
// authorized by a ClusterRoleBinding since Kubernetes 1.29 rather than by
// the system:masters group (kubernetes/kubernetes#121635). Such an answer
// says nothing about the request, so the transport asks the server's
// /readyz and, only when the server says it is not ready, waits for it and
// sends the request again, once. A request that got no answer at all is
// sent again the same way when sending it twice cannot do more than
// sending it once: it never reached the server (refused, or the TLS
// handshake timed out), or its method is idempotent (RFC 9110 section
// 9.2.2: GET, HEAD, OPTIONS, PUT, DELETE). A POST or PATCH whose
// connection dropped is not, since it may have been done. A retried
// DELETE whose first try was done answers 404 (or, for a namespace still
// terminating, 409), which callers take as done. A 403 from a ready
// server is returned as it is: a real denial is never retried away.
// Measured on the lab: killing eks's kube-apiserver gave a plain
// client-go Get that exact 403 and 14 dropped connections in 90 s of
// polling; CI's loaded runs also saw a TLS handshake timeout on a GET and
// an EOF on a namespace DELETE.
package kubeclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// MaxWait bounds how long a request waits for a restarting server to
// become ready: a kube-apiserver that restarts is ready in well under a
// minute on the lab's machines; one that is not by then is broken, and the
// caller gets the original answer.
const MaxWait = 2 * time.Minute

// ForKubeconfig returns a clientset for the kubeconfig file with the
// restart-tolerant transport.
func ForKubeconfig(path string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return New(rc)
}

// New returns a clientset for rc with the restart-tolerant transport; rc
// is copied, not changed.
func New(rc *rest.Config) (*kubernetes.Clientset, error) {
	c := rest.CopyConfig(rc)
	prev := c.WrapTransport
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return &Transport{Base: rt, Host: c.Host}
	}
	return kubernetes.NewForConfig(c)
}

// Transport is the restart-tolerant round tripper; its zero timing fields
// take MaxWait and a one-second poll.
type Transport struct {
	Base http.RoundTripper
	// Host is the API server's base URL (rest.Config.Host); /readyz is
	// asked there.
	Host string
	// MaxWait and Poll override the defaults (tests).
	MaxWait, Poll time.Duration
	// Log receives the waits; nil: slog.Default().
	Log *slog.Logger
}

// RoundTrip sends req; on no answer (see mayBeRestart) or a 403 from a
// server that is not ready it waits for /readyz to answer 200 and sends
// req once more.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(req)
	if !t.mayBeRestart(req, resp, err) {
		return resp, err
	}
	if err == nil && t.ready(req.Context()) {
		return resp, nil // a ready server's 403 is a real denial
	}
	retry, rerr := rewind(req)
	if rerr != nil {
		return resp, err
	}
	what := "no answer: " + fmt.Sprint(err)
	if err == nil {
		what = "403 while not ready"
	}
	start := time.Now()
	if !t.waitReady(req.Context()) {
		t.log().Warn("kube-apiserver did not become ready; keeping its answer", "host", t.Host, "request", req.Method+" "+req.URL.Path, "answer", what, "waited", time.Since(start).Round(time.Second))
		return resp, err
	}
	t.log().Warn("kube-apiserver was restarting; waited for /readyz and sent the request again", "host", t.Host, "request", req.Method+" "+req.URL.Path, "answer", what, "waited", time.Since(start).Round(time.Second))
	if resp != nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return t.Base.RoundTrip(retry)
}

// mayBeRestart reports whether an answer can come from a restarting
// server and the request may be sent again: a 403, or no answer at all
// for a request that never reached the server or is idempotent. A
// request whose own context ended is never retried.
func (t *Transport) mayBeRestart(req *http.Request, resp *http.Response, err error) bool {
	if err == nil {
		return resp.StatusCode == http.StatusForbidden
	}
	if req.Context().Err() != nil {
		return false
	}
	return notSent(err) || idempotent(req.Method)
}

// notSent reports whether err says the request never reached the server:
// the connection was refused or could not be dialled, or the TLS
// handshake timed out (net/http's error for it is unexported; its text
// is "net/http: TLS handshake timeout").
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "TLS handshake timeout")
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// ready asks /readyz once: only a 200 is ready (a server whose RBAC has
// not synced may refuse even /readyz).
func (t *Transport) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Host+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func (t *Transport) waitReady(ctx context.Context) bool {
	maxWait, poll := t.MaxWait, t.Poll
	if maxWait == 0 {
		maxWait = MaxWait
	}
	if poll == 0 {
		poll = time.Second
	}
	deadline := time.Now().Add(maxWait)
	for {
		if t.ready(ctx) {
			return true
		}
		if time.Now().Add(poll).After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(poll):
		}
	}
}

func (t *Transport) log() *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.Default()
}

// rewind returns a copy of req that can be sent again: its body comes from
// GetBody (client-go's bodies are byte readers, which have it).
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("kubeclient: request body cannot be sent again")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r.Body = body
	return r, nil
}

// Create runs create and, when it got no answer at all (the connection
// dropped: the object may or may not have been made, and the transport
// does not send a POST twice), asks get, which the transport waits out,
// and returns the object if it is there or creates it once more. Use it
// only for names the caller owns (a test's own pod in its own namespace):
// an object get finds is taken as this create's.
func Create[T any](ctx context.Context, create, get func(context.Context) (T, error)) (T, error) {
	obj, err := create(ctx)
	var answered apierrors.APIStatus
	if err == nil || errors.As(err, &answered) || ctx.Err() != nil {
		return obj, err
	}
	got, gerr := get(ctx)
	if gerr == nil {
		return got, nil
	}
	if !apierrors.IsNotFound(gerr) {
		return obj, err
	}
	return create(ctx)
}
