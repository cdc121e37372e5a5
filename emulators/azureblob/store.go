package azureblob

import (
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/lazyre"
)

// Defaults for an Account's ARM location.
const (
	DefaultSubscription  = "00000000-0000-0000-0000-000000000000"
	DefaultResourceGroup = "idlab"
)

// Account is a storage account of an Entra tenant.
type Account struct {
	Name string `json:"name"`
	// Tenant is the Entra tenant whose tokens the account accepts.
	Tenant string `json:"tenant"`
	// Subscription and ResourceGroup place the account in ARM; they make
	// the scopes of role assignments. Default DefaultSubscription and
	// DefaultResourceGroup.
	Subscription  string `json:"subscription,omitempty"`
	ResourceGroup string `json:"resourceGroup,omitempty"`
}

// ErrInvalid is wrapped for refused configuration.
var ErrInvalid = errors.New("invalid")

// Azure's naming rules.
var (
	accountNameRE   = lazyre.New(`^[a-z0-9]{3,24}$`)
	containerNameRE = lazyre.New(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
)

// validBlobName: 1..1024 characters, and not only dots or slashes.
func validBlobName(n string) bool {
	return n != "" && len(n) <= 1024 && strings.Trim(n, "./") != ""
}

type blob struct {
	Data        []byte    `json:"data"`
	ContentType string    `json:"contentType"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

func (b *blob) etag() string {
	return fmt.Sprintf("\"0x8D%013X\"", b.Modified.UnixNano()/100&0xFFFFFFFFFFFFF)
}
func (b *blob) md5() []byte { s := md5.Sum(b.Data); return s[:] }

type container struct {
	Created time.Time        `json:"created"`
	Blobs   map[string]*blob `json:"blobs"`
}

type account struct {
	Account
	Containers  map[string]*container `json:"containers"`
	assignments []RoleAssignment
}

// sortedBlobNames lists a container's blob names in lexical order.
func (c *container) sortedBlobNames() []string {
	names := make([]string, 0, len(c.Blobs))
	for n := range c.Blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const stateFile = "azureblob-state.json"

// load reads the persisted containers and blobs (accounts come back with
// their configuration when AddAccount names them again).
func (h *Handler) load() error {
	if h.opts.DataDir == "" {
		return nil
	}
	if err := atomicfile.RemoveTemp(h.opts.DataDir); err != nil {
		return fmt.Errorf("azureblob: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(h.opts.DataDir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("azureblob: read state: %w", err)
	}
	var st map[string]*account
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("azureblob: parse state: %w", err)
	}
	for name, a := range st {
		if a.Containers == nil {
			a.Containers = map[string]*container{}
		}
		h.accounts[name] = a
	}
	return nil
}

// saveLocked writes the state; h.mu is held.
func (h *Handler) saveLocked() error {
	if h.opts.DataDir == "" {
		return nil
	}
	raw, err := json.Marshal(h.accounts)
	if err != nil {
		return fmt.Errorf("azureblob: encode state: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(h.opts.DataDir, stateFile), raw, 0o600, h.opts.Fsync); err != nil {
		return fmt.Errorf("azureblob: %w", err)
	}
	return nil
}
