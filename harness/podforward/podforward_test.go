package podforward

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	spdyserver "k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/rest"
)

// fakeAPI is an API server that lists pods and forwards a pod's ports to
// 127.0.0.1 on the same port, speaking the portforward protocol (v1) as
// the kubelet does: an error stream and a data stream per request ID, the
// reason a dial failed written on the error stream.
func fakeAPI(t *testing.T, pods []corev1.Pod) (*rest.Config, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var forwarded []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods})
	})
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/pods/{pod}/portforward", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		forwarded = append(forwarded, r.PathValue("ns")+"/"+r.PathValue("pod"))
		mu.Unlock()
		if _, err := httpstream.Handshake(r, w, []string{ProtocolV1}); err != nil {
			return
		}
		errStreams := map[string]httpstream.Stream{}
		var smu sync.Mutex
		streams := make(chan httpstream.Stream, 4)
		conn := spdyserver.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
			streams <- s
			return nil
		})
		if conn == nil {
			return
		}
		defer conn.Close()
		for {
			select {
			case s := <-streams:
				id := s.Headers().Get(corev1.PortForwardRequestIDHeader)
				if s.Headers().Get(corev1.StreamType) == corev1.StreamTypeError {
					smu.Lock()
					errStreams[id] = s
					smu.Unlock()
					continue
				}
				smu.Lock()
				es := errStreams[id]
				smu.Unlock()
				go func() {
					backend, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", s.Headers().Get(corev1.PortHeader)))
					if err != nil {
						fmt.Fprintf(es, "failed to connect to localhost:%s: %v", s.Headers().Get(corev1.PortHeader), err)
						es.Close()
						s.Close()
						return
					}
					defer backend.Close()
					go func() { _, _ = io.Copy(backend, s) }()
					_, _ = io.Copy(s, backend)
					es.Close()
					s.Close()
				}()
			case <-conn.CloseChan():
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, &forwarded
}

// echoServer answers each line with "echo: LINE".
func echoServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "echo: %s\n", sc.Text())
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func pod(name string, phase corev1.PodPhase, isReady bool) corev1.Pod {
	st := corev1.ConditionFalse
	if isReady {
		st = corev1.ConditionTrue
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "idlab-cloud"},
		Status: corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func TestDialContext(t *testing.T) {
	port := echoServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name     string
		pods     []corev1.Pod
		port     int
		wantPod  string
		errMatch string // from DialContext
		readErr  string // from the first read
	}{
		{name: "the ready pod of two", pods: []corev1.Pod{pod("emu-b", corev1.PodRunning, false), pod("emu-c", corev1.PodRunning, true)}, port: port, wantPod: "idlab-cloud/emu-c"},
		{name: "the first ready by name", pods: []corev1.Pod{pod("emu-z", corev1.PodRunning, true), pod("emu-a", corev1.PodRunning, true)}, port: port, wantPod: "idlab-cloud/emu-a"},
		{name: "none ready", pods: []corev1.Pod{pod("emu-a", corev1.PodPending, false), pod("emu-b", corev1.PodSucceeded, true)}, port: port, errMatch: "no ready pod"},
		{name: "no pods", port: port, errMatch: "no ready pod"},
		{name: "nothing listens in the pod", pods: []corev1.Pod{pod("emu-a", corev1.PodRunning, true)}, port: closedPort, wantPod: "idlab-cloud/emu-a", readErr: "the kubelet: failed to connect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, forwarded := fakeAPI(t, tc.pods)
			d, err := New(cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := d.DialContext(ctx, Target{Namespace: "idlab-cloud", Selector: "app=emu", Port: tc.port})
			if tc.errMatch != "" {
				require.ErrorIs(t, err, ErrNoPod)
				require.ErrorContains(t, err, tc.errMatch)
				require.Empty(t, *forwarded)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, tc.wantPod+":"+strconv.Itoa(tc.port), c.RemoteAddr().String())
			_, err = fmt.Fprintf(c, "hello\n")
			require.NoError(t, err)
			line, err := bufio.NewReader(c).ReadString('\n')
			if tc.readErr != "" {
				require.ErrorContains(t, err, tc.readErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "echo: hello\n", line)
			require.Equal(t, []string{tc.wantPod}, *forwarded)
		})
	}
}

// TestHTTPOverDial: an http.Client whose transport dials through the
// forward talks HTTP to the pod's port, connection after connection.
func TestHTTPOverDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin:"+r.URL.Path) }))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	cfg, _ := fakeAPI(t, []corev1.Pod{pod("emu-a", corev1.PodRunning, true)})
	d, err := New(cfg)
	require.NoError(t, err)
	target := Target{Namespace: "idlab-cloud", Selector: "app=emu", Port: port}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, target) }}}
	for i := range 3 {
		resp, err := hc.Get("http://admin/_idlab/healthz")
		require.NoError(t, err, "request %d", i)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, "admin:/_idlab/healthz", string(b))
	}
}
