package gkemetadata

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// refreshMargin: cached tokens are handed out until this long before they
// expire, then minted again.
const refreshMargin = 5 * time.Minute

// tokenCache holds minted tokens per key (caller, kind, scopes/audience).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	token  string
	expiry time.Time
}

func (c *tokenCache) get(key string, now time.Time) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[key]
	if !ok || !now.Before(t.expiry.Add(-refreshMargin)) {
		return cachedToken{}, false
	}
	return t, true
}

func (c *tokenCache) put(key, token string, expiry time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedToken{}
	}
	for k, t := range c.m { // drop the expired, so the map stays small
		if !now.Before(t.expiry) {
			delete(c.m, k)
		}
	}
	c.m[key] = cachedToken{token: token, expiry: expiry}
}

// jwtExpiry reads exp from a JWT without verifying it (the metadata server
// only caches what IAM signed); zero when unreadable.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}
