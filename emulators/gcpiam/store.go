package gcpiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/jsonlog"
)

// StateFile is the file under Options.DataDir holding the handler's state
// but its access tokens, which are many and change with every call: they
// persist in a journal beside it (TokensPrefix), so that issuing one costs
// one append however many exist.
const StateFile = "gcpiam.json"

// TokensPrefix starts the names of the access token journal's files under
// Options.DataDir (internal/jsonlog): tokens-<N>.log, tokens-<N>.snap.
const TokensPrefix = "tokens-"

// state is everything that survives a restart.
type state struct {
	Projects map[string]*Project            `json:"projects"`
	Accounts map[string]*ServiceAccount     `json:"accounts"`
	Bindings map[string]map[string][]string `json:"bindings"` // resource -> role -> members
	Pools    []*Pool                        `json:"pools"`
	// Tokens are the live access tokens. The journal holds them; a state
	// file of an earlier version that still does is moved into it.
	Tokens map[string]*accessToken `json:"tokens,omitempty"`
	// SigningKey is the accounts.google.com key (PKCS#8 PEM); SAKeys the
	// service accounts' own keys used by signJwt and signBlob.
	SigningKey string            `json:"signingKey"`
	SAKeys     map[string]string `json:"saKeys"`
}

func newState() *state {
	return &state{
		Projects: map[string]*Project{},
		Accounts: map[string]*ServiceAccount{},
		Bindings: map[string]map[string][]string{},
		Tokens:   map[string]*accessToken{},
		SAKeys:   map[string]string{},
	}
}

// load reads DataDir's state (when any) and makes sure a signing key exists.
func (h *Handler) load() error {
	h.st = newState()
	if h.dir != "" {
		if err := atomicfile.RemoveTemp(h.dir); err != nil {
			return err
		}
		raw, err := os.ReadFile(filepath.Join(h.dir, StateFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read state: %w", err)
		default:
			st := newState()
			if err := json.Unmarshal(raw, st); err != nil {
				return fmt.Errorf("parse state %s: %w", filepath.Join(h.dir, StateFile), err)
			}
			if st.Projects == nil {
				st.Projects = map[string]*Project{}
			}
			if st.Accounts == nil {
				st.Accounts = map[string]*ServiceAccount{}
			}
			if st.Bindings == nil {
				st.Bindings = map[string]map[string][]string{}
			}
			if st.Tokens == nil {
				st.Tokens = map[string]*accessToken{}
			}
			if st.SAKeys == nil {
				st.SAKeys = map[string]string{}
			}
			h.st = st
		}
	}
	legacy := len(h.st.Tokens) > 0
	if err := h.openTokens(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if legacy {
		// An earlier version's state file held the tokens: snapshot them
		// into the journal, then write the state without them.
		h.jr.Compact(h.liveTokensLocked())
		h.jr.Wait()
	}
	if h.st.SigningKey != "" {
		k, err := parseSigningKey(h.st.SigningKey)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		h.signer = k
		if legacy {
			return h.saveLocked()
		}
		return nil
	}
	k, pemKey, err := generateSigningKey()
	if err != nil {
		return err
	}
	h.signer, h.st.SigningKey = k, pemKey
	return h.saveLocked()
}

// tokenRecord is one line of the token journal: a token issued, or, with
// Issued nil, revoked.
type tokenRecord struct {
	Token  string       `json:"token"`
	Issued *accessToken `json:"issued,omitempty"`
}

// openTokens loads the token journal under DataDir into h.st.Tokens.
func (h *Handler) openTokens() error {
	if h.dir == "" {
		return nil
	}
	jr, err := jsonlog.Open(jsonlog.Options{Dir: h.dir, Prefix: TokensPrefix, Fsync: h.sync, Logger: h.log},
		func(r tokenRecord) {
			if r.Issued == nil {
				delete(h.st.Tokens, r.Token)
				return
			}
			h.st.Tokens[r.Token] = r.Issued
		})
	if err != nil {
		return err
	}
	h.jr = jr
	h.purgeTokensLocked(true)
	return nil
}

// saveTokenLocked journals that token was issued (at) or revoked (at nil)
// before the caller answers; on failure an issued token is forgotten.
// h.mu must be held for writing.
func (h *Handler) saveTokenLocked(token string, at *accessToken) error {
	h.purgeTokensLocked(false)
	if h.jr == nil {
		return nil
	}
	due, err := h.jr.Append(len(h.st.Tokens), tokenRecord{Token: token, Issued: at})
	if err != nil {
		if at != nil {
			delete(h.st.Tokens, token)
		}
		return fmt.Errorf("gcpiam: save token: %w", err)
	}
	if due {
		h.jr.Compact(h.liveTokensLocked())
	}
	return nil
}

// liveTokensLocked are the unexpired tokens as journal records. h.mu must
// be held.
func (h *Handler) liveTokensLocked() []tokenRecord {
	now := h.now()
	out := make([]tokenRecord, 0, len(h.st.Tokens))
	for t, at := range h.st.Tokens {
		if now.Before(at.Expiry) {
			out = append(out, tokenRecord{Token: t, Issued: at})
		}
	}
	return out
}

// purgeTokensLocked forgets expired tokens when it is time to: after as
// many new tokens as are held (so the walk costs O(1) a token), a minute
// after the last purge, or always with force. h.mu must be held for
// writing.
func (h *Handler) purgeTokensLocked(force bool) {
	h.sincePurge++
	now := h.now()
	if !force && h.sincePurge < max(jsonlog.CompactMin, len(h.st.Tokens)) && now.Sub(h.lastPurge) < time.Minute {
		return
	}
	h.sincePurge, h.lastPurge = 0, now
	for t, at := range h.st.Tokens {
		if !now.Before(at.Expiry) {
			delete(h.st.Tokens, t)
		}
	}
}

// Close waits for a background compaction of the token journal and closes
// it; a handler without DataDir has nothing to close.
func (h *Handler) Close() {
	if h.jr == nil {
		return
	}
	if err := h.jr.Close(); err != nil {
		h.log.Error("close token journal", "err", err)
	}
}

// saveLocked writes the state but its tokens atomically
// (internal/atomicfile), 0600 since it holds keys. Only changes to
// accounts, keys, bindings and pools call it, never a token.
func (h *Handler) saveLocked() error {
	if h.dir == "" {
		return nil
	}
	st := *h.st
	st.Tokens = nil
	raw, err := json.MarshalIndent(&st, "", "  ")
	if err != nil {
		return fmt.Errorf("gcpiam: encode state: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(h.dir, StateFile), raw, 0o600, h.sync); err != nil {
		return fmt.Errorf("gcpiam: save state: %w", err)
	}
	return nil
}
