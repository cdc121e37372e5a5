package gcpiam

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/idlab/idlab/internal/lazyre"
)

// Sentinels callers branch on.
var (
	// ErrNotFound: no such service account, project or pool.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a name, role or member Google would refuse.
	ErrInvalid = errors.New("invalid argument")
	// ErrInvalidToken: an access token that is unknown or expired.
	ErrInvalidToken = errors.New("invalid access token")
)

// ServiceAccount is a Google service account.
type ServiceAccount struct {
	Project     string `json:"project"`
	AccountID   string `json:"accountId"`
	Email       string `json:"email"`
	UniqueID    string `json:"uniqueId"` // 21 digits, stable per email
	DisplayName string `json:"displayName,omitempty"`
}

// Project is a Google Cloud project: its ID and number.
type Project struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

// Google's rules: account IDs 6-30 chars, lowercase letters, digits and
// hyphens, starting with a letter; project IDs 6-30 chars likewise (the lab
// also accepts shorter IDs such as "idlab" for readability).
var (
	accountIDRe = lazyre.New(`^[a-z]([-a-z0-9]{4,28}[a-z0-9])$`)
	projectIDRe = lazyre.New(`^[a-z][-a-z0-9]{1,28}[a-z0-9]$`)
	numberRe    = regexp.MustCompile(`^[1-9][0-9]{5,18}$`)
)

// UniqueIDFor is the 21-digit unique ID of a service account: derived from
// the email so it is stable across restarts and labs, starting with 1 as
// Google's do.
func UniqueIDFor(email string) string {
	sum := sha256.Sum256([]byte("gcpiam-unique-id:" + strings.ToLower(email)))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	return "1" + fmt.Sprintf("%020s", n.String())
}

// projectNumberFor derives a 12-digit project number for projects added
// without one.
func projectNumberFor(id string) string {
	sum := sha256.Sum256([]byte("gcpiam-project-number:" + id))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(11), nil))
	return "9" + fmt.Sprintf("%011s", n.String())
}

// AddProject registers a project; number "" derives a stable 12-digit one.
// Adding a known project again with the same (or empty) number is a no-op.
func (h *Handler) AddProject(id, number string) (*Project, error) {
	if !projectIDRe.MatchString(id) {
		return nil, fmt.Errorf("project id %q: %w: want 4-30 lowercase letters, digits or hyphens, starting with a letter", id, ErrInvalid)
	}
	if number != "" && !numberRe.MatchString(number) {
		return nil, fmt.Errorf("project %q number %q: %w: want digits (quote it in YAML)", id, number, ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := h.addProjectLocked(id, number)
	if err != nil {
		return nil, err
	}
	cp := *p
	return &cp, h.saveLocked()
}

func (h *Handler) addProjectLocked(id, number string) (*Project, error) {
	if p, ok := h.st.Projects[id]; ok {
		if number != "" && number != p.Number {
			return nil, fmt.Errorf("project %q already has number %s, not %s: %w", id, p.Number, number, ErrInvalid)
		}
		return p, nil
	}
	if number == "" {
		number = projectNumberFor(id)
	}
	for _, p := range h.st.Projects {
		if p.Number == number {
			return nil, fmt.Errorf("project number %s already belongs to %q: %w", number, p.ID, ErrInvalid)
		}
	}
	p := &Project{ID: id, Number: number}
	h.st.Projects[id] = p
	h.log.Info("project added", "project", id, "number", number)
	return p, nil
}

// ProjectByNumber finds a project by its number.
func (h *Handler) ProjectByNumber(number string) (*Project, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, p := range h.st.Projects {
		if p.Number == number {
			cp := *p
			return &cp, nil
		}
	}
	return nil, fmt.Errorf("project number %s: %w", number, ErrNotFound)
}

// AddServiceAccount creates ACCOUNTID@PROJECT.iam.gserviceaccount.com (the
// project is created when unknown), or returns the existing account.
func (h *Handler) AddServiceAccount(project, accountID, displayName string) (*ServiceAccount, error) {
	if !accountIDRe.MatchString(accountID) {
		return nil, fmt.Errorf("service account id %q: %w: want 6-30 lowercase letters, digits or hyphens, starting with a letter", accountID, ErrInvalid)
	}
	if !projectIDRe.MatchString(project) {
		return nil, fmt.Errorf("project id %q: %w", project, ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.addProjectLocked(project, ""); err != nil {
		return nil, err
	}
	email := accountID + "@" + project + ".iam.gserviceaccount.com"
	if sa, ok := h.st.Accounts[email]; ok {
		cp := *sa
		return &cp, nil
	}
	sa := &ServiceAccount{Project: project, AccountID: accountID, Email: email, UniqueID: UniqueIDFor(email), DisplayName: displayName}
	h.st.Accounts[email] = sa
	h.log.Info("service account added", "email", email, "unique_id", sa.UniqueID)
	cp := *sa
	return &cp, h.saveLocked()
}

// ServiceAccount finds an account by email or unique ID.
func (h *Handler) ServiceAccount(emailOrID string) (*ServiceAccount, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	sa := h.accountLocked(emailOrID)
	if sa == nil {
		return nil, fmt.Errorf("service account %q: %w", emailOrID, ErrNotFound)
	}
	cp := *sa
	return &cp, nil
}

func (h *Handler) accountLocked(emailOrID string) *ServiceAccount {
	if sa, ok := h.st.Accounts[strings.ToLower(emailOrID)]; ok {
		return sa
	}
	for _, sa := range h.st.Accounts {
		if sa.UniqueID == emailOrID {
			return sa
		}
	}
	return nil
}

// ServiceAccounts lists every account.
func (h *Handler) ServiceAccounts() []ServiceAccount {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]ServiceAccount, 0, len(h.st.Accounts))
	for _, sa := range h.st.Accounts {
		out = append(out, *sa)
	}
	return out
}
