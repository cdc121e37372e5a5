package awsimds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const tokenPath = "/latest/api/token"

// serveToken is PUT /latest/api/token.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		writeStatus(w, http.StatusMethodNotAllowed)
		return
	}
	if len(r.Header.Values("X-Forwarded-For")) > 0 {
		h.log.Info("imds deny", "decision", "Deny", "path", tokenPath, "reason", "token request carries X-Forwarded-For (proxied)", "remote", r.RemoteAddr)
		writeStatus(w, http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(TTLHeader))
	if err != nil || ttl < 1 || ttl > MaxTokenTTL {
		writeStatus(w, http.StatusBadRequest)
		return
	}
	if hops, limit := hopsOf(r), h.MetadataOptions().HopLimit; hops > limit {
		h.log.Info("imds deny", "decision", "Deny", "path", tokenPath, "reason",
			"token response would exceed the hop limit", "hops", hops, "hop_limit", limit, "remote", r.RemoteAddr)
		h.reject(r, ActionPutToken, "HopLimitExceeded", fmt.Sprintf("the token response would cross %d hops, over HttpPutResponseHopLimit %d; no response", hops, limit))
		dropResponse(w)
		return
	}
	w.Header().Set(TTLHeader, strconv.Itoa(ttl))
	writeText(w, h.mintToken(h.now().Add(time.Duration(ttl)*time.Second)))
}

// hopsOf reads X-Idlab-Hops; absent or unparsable means the caller is on
// the instance itself (one hop).
func hopsOf(r *http.Request) int {
	n, err := strconv.Atoi(r.Header.Get(HopsHeader))
	if err != nil || n < 1 {
		return defaultHops
	}
	return n
}

// dropResponse closes the connection without a response: the nearest a
// loopback server gets to a reply packet dropped when its TTL runs out.
func dropResponse(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream
}

// mintToken is base64url(expiry seconds || HMAC-SHA256(key, expiry)):
// stateless, unforgeable without the handler's key, and opaque to callers.
func (h *Handler) mintToken(exp time.Time) string {
	b := make([]byte, 8, 8+sha256.Size)
	binary.BigEndian.PutUint64(b, uint64(exp.Unix()))
	m := hmac.New(sha256.New, h.key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

func (h *Handler) validToken(tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, h.key)
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil), b[8:]) {
		return false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return h.now().Before(exp)
}
