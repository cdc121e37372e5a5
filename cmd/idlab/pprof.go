package main

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

// maxProfile bounds the seconds a CPU profile request may ask for.
const maxProfile = 5 * time.Minute

// startPprof serves the process's CPU and heap profiles on addr, which
// must be a loopback IP:PORT: `go tool pprof URL/debug/pprof/profile`
// reads them while a benchmark loads serve. Profiles are written with
// runtime/pprof rather than net/http/pprof, whose import registers its
// handlers on http.DefaultServeMux for any server to expose. It returns
// the address listened on (addr may name port 0) and the server's stop.
func startPprof(addr string) (string, func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("pprof listen address %q: want LOOPBACK-IP:PORT: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", nil, fmt.Errorf("pprof listen address %q: %q is not a loopback IP; profiles are served on loopback only (127.0.0.1:PORT, [::1]:PORT)", addr, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("pprof listener: %w", err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// pprofMux routes the two profiles serve offers.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/profile", cpuProfile)
	mux.HandleFunc("GET /debug/pprof/heap", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "" {
			runtime.GC()
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// cpuProfile profiles the CPU for ?seconds=N (default 30) and writes the
// profile; 409 when another profile is running.
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	d := 30 * time.Second
	if s := r.URL.Query().Get("seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxProfile {
			http.Error(w, fmt.Sprintf("seconds=%q: want 1 to %d", s, int(maxProfile/time.Second)), http.StatusBadRequest)
			return
		}
		d = time.Duration(n) * time.Second
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
}
