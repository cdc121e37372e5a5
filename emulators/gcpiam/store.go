package gcpiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/idlab/idlab/internal/atomicfile"
)

// StateFile is the file under Options.DataDir holding the handler's state.
const StateFile = "gcpiam.json"

// state is everything that survives a restart.
type state struct {
	Projects map[string]*Project            `json:"projects"`
	Accounts map[string]*ServiceAccount     `json:"accounts"`
	Bindings map[string]map[string][]string `json:"bindings"` // resource -> role -> members
	Pools    []*Pool                        `json:"pools"`
	Tokens   map[string]*accessToken        `json:"tokens"`
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
	if h.st.SigningKey != "" {
		k, err := parseSigningKey(h.st.SigningKey)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		h.signer = k
		return nil
	}
	k, pemKey, err := generateSigningKey()
	if err != nil {
		return err
	}
	h.signer, h.st.SigningKey = k, pemKey
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.saveLocked()
}

// saveLocked writes the state atomically (internal/atomicfile), 0600 since
// it holds keys and live tokens. Expired tokens are dropped first.
func (h *Handler) saveLocked() error {
	if h.dir == "" {
		return nil
	}
	now := h.now()
	for t, at := range h.st.Tokens {
		if !now.Before(at.Expiry) {
			delete(h.st.Tokens, t)
		}
	}
	raw, err := json.MarshalIndent(h.st, "", "  ")
	if err != nil {
		return fmt.Errorf("gcpiam: encode state: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(h.dir, StateFile), raw, 0o600, h.sync); err != nil {
		return fmt.Errorf("gcpiam: save state: %w", err)
	}
	return nil
}
