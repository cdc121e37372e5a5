// Package podforward dials a port of a pod through the Kubernetes API
// server's portforward subresource, as `kubectl port-forward` does, but
// one net.Conn per dial and no local listener: the host reaches the
// emulator's admin API inside an existing cluster this way, and nothing
// else can, since the admin API listens on the pod's loopback only and a
// port-forward needs the kubeconfig's rights (pods/portforward).
package podforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport/spdy"
)

// ProtocolV1 is the portforward subprotocol the kubelet speaks over SPDY
// (client-go's portforward.PortForwardProtocolV1Name).
const ProtocolV1 = "portforward.k8s.io"

// Target is a port of the pods a label selector picks in a namespace: the
// first ready one is dialled.
type Target struct {
	Namespace string
	Selector  string
	Port      int
}

// Dialer dials Targets with one cluster's credentials.
type Dialer struct {
	cfg *rest.Config
	cs  kubernetes.Interface
	// dial opens the SPDY connection to a pod's portforward subresource;
	// tests replace it.
	dial func(ctx context.Context, namespace, pod string) (httpstream.Connection, error)
}

// New returns a Dialer for the cluster cfg reaches.
func New(cfg *rest.Config) (*Dialer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	d := &Dialer{cfg: cfg, cs: cs}
	d.dial = d.spdyDial
	return d, nil
}

// spdyDial upgrades a POST to pods/NAME/portforward to SPDY.
func (d *Dialer) spdyDial(ctx context.Context, namespace, pod string) (httpstream.Connection, error) {
	rt, upgrader, err := spdy.RoundTripperFor(d.cfg)
	if err != nil {
		return nil, err
	}
	u := d.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	type result struct {
		c   httpstream.Connection
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, _, err := dialer.Dial(ProtocolV1)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// ErrNoPod means no ready pod matches a Target.
var ErrNoPod = errors.New("no ready pod")

// Pod names the first ready, running pod of t, by name order.
func (d *Dialer) Pod(ctx context.Context, t Target) (string, error) {
	pods, err := d.cs.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
	if err != nil {
		return "", fmt.Errorf("pods %s in %s: %w", t.Selector, t.Namespace, err)
	}
	best := ""
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && ready(p) && (best == "" || p.Name < best) {
			best = p.Name
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: %s in namespace %s", ErrNoPod, t.Selector, t.Namespace)
	}
	return best, nil
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// DialContext opens a connection to t's port in its pod: one SPDY
// connection to the API server per call, closed with the returned conn.
func (d *Dialer) DialContext(ctx context.Context, t Target) (net.Conn, error) {
	pod, err := d.Pod(ctx, t)
	if err != nil {
		return nil, err
	}
	sc, err := d.dial(ctx, t.Namespace, pod)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", t.Namespace, pod, err)
	}
	c, err := openStreams(sc, t.Port)
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", t.Namespace, pod, t.Port, err)
	}
	c.remote = addr(fmt.Sprintf("%s/%s:%d", t.Namespace, pod, t.Port))
	return c, nil
}

// openStreams makes the error and data streams of one forwarded
// connection, as the portforward protocol (v1) pairs them by requestID.
func openStreams(sc httpstream.Connection, port int) (*conn, error) {
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(port))
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errStream, err := sc.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("error stream: %w", err)
	}
	errStream.Close() // nothing is written to it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := sc.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("data stream: %w", err)
	}
	c := &conn{sc: sc, data: data, remoteErr: make(chan error, 1)}
	go func() {
		msg, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			c.remoteErr <- err
		case len(msg) > 0:
			c.remoteErr <- fmt.Errorf("the kubelet: %s", msg)
		}
		close(c.remoteErr)
	}()
	return c, nil
}

// conn is one forwarded connection. Deadlines are not supported (the
// SPDY stream has none); callers bound their requests with contexts and
// client timeouts instead, which close the conn.
type conn struct {
	sc        httpstream.Connection
	data      httpstream.Stream
	remoteErr chan error
	remote    addr
	once      sync.Once
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.data.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		// The kubelet says why a stream ended early (connection refused
		// in the pod) on the error stream.
		select {
		case rerr, ok := <-c.remoteErr:
			if ok && rerr != nil {
				return 0, rerr
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) { return c.data.Write(p) }

func (c *conn) Close() error {
	c.once.Do(func() {
		_ = c.data.Reset()
		c.sc.Close()
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr              { return addr("port-forward") }
func (c *conn) RemoteAddr() net.Addr             { return c.remote }
func (c *conn) SetDeadline(time.Time) error      { return nil }
func (c *conn) SetReadDeadline(time.Time) error  { return nil }
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// addr is a net.Addr naming a forwarded port.
type addr string

func (a addr) Network() string { return "port-forward" }
func (a addr) String() string  { return string(a) }
