package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/idlab/idlab/internal/atomicfile"
)

// stateFile is the name of the persisted state in Options.DataDir.
const stateFile = "entra-state.json"

// state is what survives a restart: tenants with their signing keys (so
// issued tokens keep verifying) and apps.
type state struct {
	Tenants []tenantState `json:"tenants"`
}

type tenantState struct {
	Tenant
	Key  pemKey `json:"signingKey"`
	Apps []App  `json:"apps,omitempty"`
}

// load reads the state file when there is one.
func (h *Handler) load() error {
	if h.dataDir == "" {
		return nil
	}
	if err := atomicfile.RemoveTemp(h.dataDir); err != nil {
		return fmt.Errorf("entra: %w", err)
	}
	path := filepath.Join(h.dataDir, stateFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("entra: load state: %w", err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("entra: load state %s: %w", path, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ts := range st.Tenants {
		k, err := ts.Key.unmarshal()
		if err != nil {
			return fmt.Errorf("entra: load state %s: tenant %q: %w", path, ts.ID, err)
		}
		t := &tenant{Tenant: ts.Tenant, key: k, apps: map[string]App{}}
		for _, a := range ts.Apps {
			if a, err = a.normalize(); err != nil {
				return fmt.Errorf("entra: load state %s: %w", path, err)
			}
			t.apps[a.ClientID] = a
		}
		h.tenants[ts.ID] = t
		h.names[lower(ts.ID)] = ts.ID
		for _, d := range ts.Domains {
			h.names[lower(d)] = ts.ID
		}
	}
	return nil
}

// saveLocked writes the state file crash-safely; h.mu must be held.
func (h *Handler) saveLocked() error {
	if h.dataDir == "" {
		return nil
	}
	st := state{Tenants: []tenantState{}}
	for _, t := range h.tenants {
		k, err := t.key.marshal()
		if err != nil {
			return fmt.Errorf("entra: save state: %w", err)
		}
		ts := tenantState{Tenant: t.Tenant, Key: k}
		for _, a := range t.apps {
			ts.Apps = append(ts.Apps, a)
		}
		sort.Slice(ts.Apps, func(i, j int) bool { return ts.Apps[i].ClientID < ts.Apps[j].ClientID })
		st.Tenants = append(st.Tenants, ts)
	}
	sort.Slice(st.Tenants, func(i, j int) bool { return st.Tenants[i].ID < st.Tenants[j].ID })
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("entra: save state: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(h.dataDir, stateFile), raw, 0o600, h.fsync); err != nil {
		return fmt.Errorf("entra: save state: %w", err)
	}
	return nil
}
