package awsiam

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/idlab/idlab/internal/decisionlog"
	"github.com/idlab/idlab/internal/jsonlog"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/lazyre"
)

// Sentinel errors callers branch on.
var (
	ErrNoSuchEntity        = errors.New("NoSuchEntity")
	ErrEntityAlreadyExists = errors.New("EntityAlreadyExists")
	ErrUnknownAccessKey    = errors.New("the security token included in the request is invalid")
	ErrInvalidInput        = errors.New("InvalidInput")
	// ErrDeleteConflict: the entity still has what must go first (a
	// role's policies, a user's access keys, a policy's attachments).
	ErrDeleteConflict = errors.New("DeleteConflict")
	// ErrLimitExceeded: an IAM quota (policy versions, access keys per
	// user, attached policies, inline policy size, tags) would be exceeded.
	ErrLimitExceeded = errors.New("LimitExceeded")
)

// Options configure the IAM store.
type Options struct {
	Now    func() time.Time // Defaults to time.Now.
	Logger *slog.Logger     // Defaults to discarding.
	// DataDir, if set, keeps access keys and unexpired sessions across
	// restarts, in an append-only journal (journal.go), and the entities
	// the IAM API changed, one file each (entities.go).
	DataDir string
	// Fsync makes every journal write durable against power loss, not only
	// against a killed process. Defaults to off (idlab serve --fsync).
	Fsync bool
	Rand  io.Reader // Defaults to crypto/rand.
	// Decisions is the log decisions go to, shared with the lab's other
	// emulators. Defaults to a log of its own.
	Decisions *decisionlog.Log
}

// Role is an IAM role. The store never changes a Role it handed out:
// a change replaces it (copy on write), so a copy's maps stay valid.
type Role struct {
	Account            string
	Name               string
	Path               string
	ARN                string
	RoleID             string
	Description        string
	TrustPolicy        *Policy
	InlinePolicies     map[string]*Policy
	ManagedPolicyARNs  []string
	MaxSessionDuration time.Duration
	Tags               map[string]string
	CreateDate         time.Time
}

// User is an IAM user.
type User struct {
	Account           string
	Name              string
	Path              string
	ARN               string
	UserID            string
	InlinePolicies    map[string]*Policy
	ManagedPolicyARNs []string
	Tags              map[string]string
	CreateDate        time.Time
}

// OIDCProvider is an IAM OpenID Connect provider.
type OIDCProvider struct {
	Account     string
	URL         string // host/path, without https:// as IAM stores it
	ARN         string
	ClientIDs   []string
	Thumbprints []string
	Tags        map[string]string
	CreateDate  time.Time
}

// ManagedPolicy is a customer managed policy and its versions.
type ManagedPolicy struct {
	ARN  string
	Name string
	// Document is the default version's document, the one evaluation uses.
	Document         *Policy
	Account          string
	Path             string
	PolicyID         string
	Description      string
	DefaultVersionID string
	// Versions are the policy's versions, oldest first (at most
	// MaxPolicyVersions).
	Versions   []PolicyVersion
	CreateDate time.Time
	UpdateDate time.Time
	Tags       map[string]string
	// nextVersion numbers the next version: IAM never reuses a number.
	nextVersion int
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID         string // v1, v2, ...
	Document   *Policy
	CreateDate time.Time
}

// accessKey is a key pair and who it belongs to.
type accessKey struct {
	Credentials Credentials `json:"credentials"`
	Principal   Principal   `json:"principal"`
	IssuedAt    time.Time   `json:"issuedAt"`
	// DerivedToken marks a session whose token is sessionToken(its key
	// ID) rather than Credentials.SessionToken, which is then empty.
	DerivedToken bool `json:"derivedToken,omitempty"`
	// Inactive marks a user's key UpdateAccessKey disabled: it
	// authenticates nothing until made active again.
	Inactive bool `json:"inactive,omitempty"`
	// Deleted is a journal record's tombstone: DeleteAccessKey removed
	// the key. Tombstones never live in memory.
	Deleted bool `json:"deleted,omitempty"`
}

// IAM is the store of accounts, roles, users, providers, keys and decisions.
// It is safe for concurrent use.
type IAM struct {
	now     func() time.Time
	log     *slog.Logger
	rand    io.Reader
	dataDir string
	fsync   bool

	mu        sync.RWMutex
	accounts  map[string]string // id -> alias
	roles     map[string]*Role
	users     map[string]*User
	providers map[string]*OIDCProvider // by ARN
	managed   map[string]*ManagedPolicy
	keys      map[string]*accessKey
	// userKeys indexes the long-term keys of each user, by user ARN.
	userKeys map[string]map[string]bool

	// wmu serializes changes to roles, users, policies and providers
	// (fixtures and the IAM API alike), so that a change reads, persists
	// and swaps in its entity without another slipping in between. It is
	// taken before jr.mu and mu.
	wmu sync.Mutex
	// owned are the entity keys (roleKey, userKey, policyKey, providerKey)
	// the IAM API created, changed or deleted: their state comes from the
	// API, and fixtures naming them are skipped, so a restart keeps what
	// the API did. Guarded by mu.
	owned map[string]bool
	// names indexes roles, users and managed policies by entity key
	// (account and lower-cased name) to their ARN, so that the API finds
	// one by name at a cost independent of how many exist. Guarded by mu.
	names map[string]string
	// adminDefault is the account of the admin credentials' [default]
	// profile: the first EnsureAdmins named. Guarded by mu.
	adminDefault string
	// laterAge is, by role ARN, how old the role's sessions are when
	// issued (SetSessionAge): a lab control, not persisted. Guarded by
	// mu.
	laterAge map[string]time.Duration

	// jr persists keys when dataDir is set. jmu orders its appends and
	// compactions with the changes they record (the journal's order is
	// the order of changes to keys, and a compaction reads keys with
	// nothing appended in between); it is taken before mu.
	jr  *jsonlog.Journal[keyRecord]
	jmu sync.Mutex
	// tokenKey derives session tokens (sessionToken); tokens keeps the
	// last ones derived.
	tokenKey []byte
	tokens   tokenCache
	// lastPurge and sincePurge pace purgeLocked; guarded by mu.
	lastPurge  time.Time
	sincePurge int
	peakKeys   int

	decisions *decisionlog.Log
}

// OrEmpty returns iam, or, when it is nil, a new empty store on the
// clock now: the IAM of an emulator server started with zero Options,
// which refuses every request until roles and keys are added.
func OrEmpty(iam *IAM, now func() time.Time, log *slog.Logger) (*IAM, error) {
	if iam != nil {
		return iam, nil
	}
	return New(Options{Now: now, Logger: log})
}

// New returns an empty store, loading persisted keys from DataDir.
func New(opts Options) (*IAM, error) {
	i := &IAM{now: opts.Now, log: opts.Logger, rand: opts.Rand, dataDir: opts.DataDir, decisions: opts.Decisions,
		accounts: map[string]string{}, roles: map[string]*Role{}, users: map[string]*User{},
		providers: map[string]*OIDCProvider{}, managed: map[string]*ManagedPolicy{}, keys: map[string]*accessKey{},
		userKeys: map[string]map[string]bool{}, owned: map[string]bool{}, names: map[string]string{}, laterAge: map[string]time.Duration{}}
	if i.now == nil {
		i.now = time.Now
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if i.rand == nil {
		i.rand = rand.Reader
	}
	if i.decisions == nil {
		i.decisions = &decisionlog.Log{}
	}
	if err := i.loadTokenKey(opts.Fsync); err != nil {
		return nil, err
	}
	if err := i.openJournal(opts.Fsync); err != nil {
		return nil, err
	}
	if err := i.loadEntities(opts.Fsync); err != nil {
		return nil, errors.Join(err, i.Close())
	}
	return i, nil
}

// Close waits for a background compaction of the key journal and closes
// it; keys issued after Close are kept in memory only. A store without
// DataDir has nothing to close.
func (i *IAM) Close() error {
	if i.jr == nil {
		return nil
	}
	return i.jr.Close()
}

// Now is the store's clock.
func (i *IAM) Now() time.Time { return i.now() }

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

// AddAccount registers an account ID with an optional alias.
func (i *IAM) AddAccount(id, alias string) error {
	if !accountRe.MatchString(id) {
		return fmt.Errorf("%w: account ID %q must be 12 digits", ErrInvalidInput, id)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.accounts[id] = alias
	return nil
}

var roleNameRe = lazyre.New(`^[\w+=,.@-]{1,64}$`)

// normPath defaults and checks an IAM path (/ or /a/b/).
func normPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) > 512 {
		return "", fmt.Errorf("%w: path %q must begin and end with /", ErrInvalidInput, p)
	}
	return p, nil
}

// checkRole validates r as IAM validates a new role and fills in its
// defaults: path /, a one-hour maximum session, its ARN and RoleID.
func checkRole(r *Role) error {
	if !accountRe.MatchString(r.Account) {
		return fmt.Errorf("%w: role %q: account %q must be 12 digits", ErrInvalidInput, r.Name, r.Account)
	}
	if !roleNameRe.MatchString(r.Name) {
		return fmt.Errorf("%w: role name %q must be 1-64 characters of [\\w+=,.@-]", ErrInvalidInput, r.Name)
	}
	var err error
	if r.Path, err = normPath(r.Path); err != nil {
		return err
	}
	if r.TrustPolicy == nil {
		return fmt.Errorf("%w: role %q needs a trust policy", ErrInvalidInput, r.Name)
	}
	if err := r.TrustPolicy.ValidateFor(TrustPolicy); err != nil {
		return fmt.Errorf("role %q trust policy: %w", r.Name, err)
	}
	for name, p := range r.InlinePolicies {
		if err := p.ValidateFor(IdentityPolicy); err != nil {
			return fmt.Errorf("role %q inline policy %q: %w", r.Name, name, err)
		}
	}
	if err := inlineTotal(r.InlinePolicies, MaxRoleInlineTotal); err != nil {
		return fmt.Errorf("role %q inline policies: %w", r.Name, err)
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = time.Hour
	}
	if r.MaxSessionDuration < time.Hour || r.MaxSessionDuration > 12*time.Hour {
		return fmt.Errorf("%w: role %q: maxSessionDuration must be between 1h and 12h", ErrInvalidInput, r.Name)
	}
	r.ARN = "arn:aws:iam::" + r.Account + ":role" + r.Path + r.Name
	if r.RoleID == "" {
		r.RoleID = stableID("AROA", r.ARN)
	}
	return nil
}

// AddRole adds a role from fixtures; ARN and RoleID are derived when
// empty. A role the IAM API created, changed or deleted is skipped: the
// API's state of it wins (see owned).
func (i *IAM) AddRole(r Role) error {
	if err := checkRole(&r); err != nil {
		return err
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if i.skipOwned(roleKey(r.Account, r.Name), "role", r.ARN) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if a, missing := i.missingManaged(r.ManagedPolicyARNs); missing {
		return fmt.Errorf("%w: role %q attaches %s, which does not exist", ErrNoSuchEntity, r.Name, a)
	}
	if i.findRoleLocked(r.Account, r.Name) != nil {
		return fmt.Errorf("%w: Role with name %s already exists.", ErrEntityAlreadyExists, r.Name)
	}
	if r.CreateDate.IsZero() {
		r.CreateDate = i.now().UTC().Truncate(time.Second)
	}
	i.knowAccount(r.Account)
	rc := r
	i.putRoleLocked(&rc)
	return nil
}

// skipOwned reports (and logs) that a fixture names an entity the IAM
// API owns. i.wmu must be held.
func (i *IAM) skipOwned(key, kind, name string) bool {
	i.mu.RLock()
	owned := i.owned[key]
	i.mu.RUnlock()
	if owned {
		i.log.Info("fixture skipped: the IAM API created, changed or deleted this entity, and its state wins", "kind", kind, "name", name)
	}
	return owned
}

// findRoleLocked finds a role by account and name, case-insensitively as
// IAM compares names, through the names index. i.mu must be held.
func (i *IAM) findRoleLocked(account, name string) *Role {
	return i.roles[i.names[roleKey(account, name)]]
}

// findUserLocked is findRoleLocked for users. i.mu must be held.
func (i *IAM) findUserLocked(account, name string) *User {
	return i.users[i.names[userKey(account, name)]]
}

// putRoleLocked, putUserLocked and putPolicyLocked store an entity and
// index its name; the drop functions undo both. i.mu must be held.
func (i *IAM) putRoleLocked(r *Role) {
	i.roles[r.ARN] = r
	i.names[roleKey(r.Account, r.Name)] = r.ARN
}

func (i *IAM) dropRoleLocked(r *Role) {
	delete(i.roles, r.ARN)
	delete(i.names, roleKey(r.Account, r.Name))
}

func (i *IAM) putUserLocked(u *User) {
	i.users[u.ARN] = u
	i.names[userKey(u.Account, u.Name)] = u.ARN
}

func (i *IAM) dropUserLocked(u *User) {
	delete(i.users, u.ARN)
	delete(i.names, userKey(u.Account, u.Name))
}

func (i *IAM) putPolicyLocked(p *ManagedPolicy) {
	i.managed[p.ARN] = p
	i.names[policyKey(p.Account, p.Name)] = p.ARN
}

func (i *IAM) dropPolicyLocked(p *ManagedPolicy) {
	delete(i.managed, p.ARN)
	delete(i.names, policyKey(p.Account, p.Name))
}

// missingManaged returns the first attached policy ARN the store does not
// hold. i.mu must be held.
func (i *IAM) missingManaged(arns []string) (string, bool) {
	for _, a := range arns {
		if _, ok := i.managed[a]; !ok {
			return a, true
		}
	}
	return "", false
}

// knowAccount registers an account first seen through one of its entities.
// i.mu must be held.
func (i *IAM) knowAccount(id string) {
	if _, ok := i.accounts[id]; !ok {
		i.accounts[id] = ""
	}
}

// checkUser validates u and fills in its path, ARN and UserID.
func checkUser(u *User) error {
	if !accountRe.MatchString(u.Account) || !roleNameRe.MatchString(u.Name) {
		return fmt.Errorf("%w: user %q in account %q", ErrInvalidInput, u.Name, u.Account)
	}
	var err error
	if u.Path, err = normPath(u.Path); err != nil {
		return err
	}
	for name, p := range u.InlinePolicies {
		if err := p.ValidateFor(IdentityPolicy); err != nil {
			return fmt.Errorf("user %q inline policy %q: %w", u.Name, name, err)
		}
	}
	if err := inlineTotal(u.InlinePolicies, MaxUserInlineTotal); err != nil {
		return fmt.Errorf("user %q inline policies: %w", u.Name, err)
	}
	u.ARN = "arn:aws:iam::" + u.Account + ":user" + u.Path + u.Name
	u.UserID = stableID("AIDA", u.ARN)
	return nil
}

// AddUser adds an IAM user from fixtures; one the IAM API owns is skipped.
func (i *IAM) AddUser(u User) error {
	if err := checkUser(&u); err != nil {
		return err
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if i.skipOwned(userKey(u.Account, u.Name), "user", u.ARN) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if a, missing := i.missingManaged(u.ManagedPolicyARNs); missing {
		return fmt.Errorf("%w: user %q attaches %s, which does not exist", ErrNoSuchEntity, u.Name, a)
	}
	if i.findUserLocked(u.Account, u.Name) != nil {
		return fmt.Errorf("%w: User with name %s already exists.", ErrEntityAlreadyExists, u.Name)
	}
	if u.CreateDate.IsZero() {
		u.CreateDate = i.now().UTC().Truncate(time.Second)
	}
	i.knowAccount(u.Account)
	uc := u
	i.putUserLocked(&uc)
	return nil
}

// AWSManaged is the account field of AWS managed policies' ARNs
// (arn:aws:iam::aws:policy/NAME). The lab holds those its fixtures load
// (awsManagedPolicies), attachable from every account and changed by none.
const AWSManaged = "aws"

// newManagedPolicy validates a managed policy's first version and builds
// it at now; account is 12 digits, or AWSManaged.
func newManagedPolicy(account, name, path, desc string, doc *Policy, now time.Time) (*ManagedPolicy, error) {
	if !(accountRe.MatchString(account) || account == AWSManaged) || !policyNameRe.MatchString(name) {
		return nil, fmt.Errorf("%w: policy %q in account %q", ErrInvalidInput, name, account)
	}
	p, err := normPath(path)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: managed policy %q needs a document", ErrInvalidInput, name)
	}
	if err := checkManagedDocument(doc); err != nil {
		return nil, fmt.Errorf("managed policy %q: %w", name, err)
	}
	arn := "arn:aws:iam::" + account + ":policy" + p + name
	now = now.UTC().Truncate(time.Second)
	return &ManagedPolicy{ARN: arn, Name: name, Document: doc, Account: account, Path: p, PolicyID: stableID("ANPA", arn),
		Description: desc, DefaultVersionID: "v1", Versions: []PolicyVersion{{ID: "v1", Document: doc, CreateDate: now}},
		CreateDate: now, UpdateDate: now, nextVersion: 2}, nil
}

// checkManagedDocument applies the rules of a managed policy's document.
func checkManagedDocument(doc *Policy) error {
	if err := doc.ValidateFor(IdentityPolicy); err != nil {
		return err
	}
	if n := len(compact(doc.Raw)); n > MaxManagedPolicySize {
		return perr("Cannot exceed quota for PolicySize: %d", MaxManagedPolicySize)
	}
	return nil
}

// policyNameRe is IAM's rule for policy names (policyNameType).
var policyNameRe = lazyre.New(`^[\w+=,.@-]{1,128}$`)

// AddManagedPolicy adds a customer managed policy in account from
// fixtures. One the IAM API owns is skipped: the API's version is
// returned, or an error when the API deleted it.
func (i *IAM) AddManagedPolicy(account, name, path string, doc *Policy) (*ManagedPolicy, error) {
	mp, err := newManagedPolicy(account, name, path, "", doc, i.now())
	if err != nil {
		return nil, err
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if i.skipOwned(policyKey(account, name), "policy", mp.ARN) {
		i.mu.RLock()
		defer i.mu.RUnlock()
		return i.findPolicyLocked(account, name), nil // nil when the API deleted it
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.findPolicyLocked(account, name) != nil {
		return nil, fmt.Errorf("%w: A policy called %s already exists. Duplicate names are not allowed.", ErrEntityAlreadyExists, name)
	}
	if account != AWSManaged {
		i.knowAccount(account)
	}
	i.putPolicyLocked(mp)
	return mp, nil
}

// findPolicyLocked finds a managed policy by account and name; names are
// unique in an account whatever the path. i.mu must be held.
func (i *IAM) findPolicyLocked(account, name string) *ManagedPolicy {
	return i.managed[i.names[policyKey(account, name)]]
}

// checkProvider validates p and fills in its URL (without https://) and ARN.
func checkProvider(p *OIDCProvider) error {
	if !accountRe.MatchString(p.Account) {
		return fmt.Errorf("%w: OIDC provider account %q", ErrInvalidInput, p.Account)
	}
	u := strings.TrimPrefix(p.URL, "https://")
	if u == "" || strings.Contains(u, "://") || strings.ContainsAny(u, "?#") {
		return fmt.Errorf("%w: OIDC provider URL %q must be https://host[/path]", ErrInvalidInput, p.URL)
	}
	p.URL = u
	p.ARN = "arn:aws:iam::" + p.Account + ":oidc-provider/" + u
	return nil
}

// AddOIDCProvider registers an OIDC provider from fixtures; URL may carry
// https://. One the IAM API owns is skipped.
func (i *IAM) AddOIDCProvider(p OIDCProvider) error {
	if err := checkProvider(&p); err != nil {
		return err
	}
	if len(p.ClientIDs) == 0 {
		return fmt.Errorf("%w: OIDC provider https://%s needs at least one client ID", ErrInvalidInput, p.URL)
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if i.skipOwned(providerKey(p.ARN), "oidc-provider", p.ARN) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.providers[p.ARN]; ok {
		return fmt.Errorf("%w: Provider with url https://%s already exists.", ErrEntityAlreadyExists, p.URL)
	}
	if p.CreateDate.IsZero() {
		p.CreateDate = i.now().UTC().Truncate(time.Second)
	}
	i.knowAccount(p.Account)
	pc := p
	i.providers[p.ARN] = &pc
	return nil
}

// Role returns the role with this ARN.
func (i *IAM) Role(arn string) (*Role, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	r, ok := i.roles[arn]
	if !ok {
		return nil, fmt.Errorf("%w: the role %s cannot be found", ErrNoSuchEntity, arn)
	}
	c := *r
	return &c, nil
}

// Roles lists every role, sorted by ARN.
func (i *IAM) Roles() []Role {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]Role, 0, len(i.roles))
	for _, r := range i.roles {
		out = append(out, *r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ARN < out[b].ARN })
	return out
}

// Users lists every user, sorted by ARN.
func (i *IAM) Users() []User {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]User, 0, len(i.users))
	for _, u := range i.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ARN < out[b].ARN })
	return out
}

// ManagedPolicy returns a managed policy by ARN.
func (i *IAM) ManagedPolicy(arn string) (*ManagedPolicy, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	p, ok := i.managed[arn]
	if !ok {
		return nil, noSuchPolicy(arn)
	}
	return p, nil
}

// OIDCProvider finds the provider registered in account for a token's iss:
// the issuer URL must equal the provider URL exactly (after https://).
func (i *IAM) OIDCProvider(account, issuerURL string) (*OIDCProvider, error) {
	u := strings.TrimPrefix(issuerURL, "https://") // accounts.google.com tokens carry iss without a scheme
	if u == "" || strings.Contains(u, "://") {
		return nil, fmt.Errorf("%w: issuer %q is not an https URL", ErrNoSuchEntity, issuerURL)
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	p, found := i.providers["arn:aws:iam::"+account+":oidc-provider/"+u]
	if !found {
		return nil, fmt.Errorf("%w: no OpenIDConnect provider found in account %s for %s", ErrNoSuchEntity, account, issuerURL)
	}
	c := *p
	return &c, nil
}

// stableID derives an IAM unique ID (prefix + 17 chars) from name, so IDs
// survive restarts as real IDs survive in AWS.
func stableID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + base32Upper(sum[:])[:17]
}

const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func base32Upper(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(b32[int(c)%32])
	}
	return sb.String()
}

func (i *IAM) randomString(n int, alphabet string) (string, error) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(i.rand, buf); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	for k := range buf {
		buf[k] = alphabet[int(buf[k])%len(alphabet)]
	}
	return string(buf), nil
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func (i *IAM) newKeyPair(prefix string) (Credentials, error) {
	id, err := i.randomString(16, b32)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := i.randomString(40, secretAlphabet)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: prefix + id, SecretAccessKey: secret}, nil
}

// CreateAccessKey makes long-term AKIA keys for an existing user.
func (i *IAM) CreateAccessKey(account, userName string) (Credentials, error) {
	i.mu.RLock()
	var user *User
	for _, u := range i.users {
		if u.Account == account && u.Name == userName {
			user = u
		}
	}
	i.mu.RUnlock()
	if user == nil {
		return Credentials{}, fmt.Errorf("%w: the user with name %s cannot be found", ErrNoSuchEntity, userName)
	}
	creds, err := i.newKeyPair("AKIA")
	if err != nil {
		return Credentials{}, err
	}
	p := Principal{Type: PrincipalUser, Account: account, ARN: user.ARN, UserID: user.UserID, Tags: user.Tags}
	if err := i.storeKey(&accessKey{Credentials: creds, Principal: p, IssuedAt: i.now()}); err != nil {
		return Credentials{}, err
	}
	return creds, nil
}

// IssueSession makes temporary ASIA credentials acting as spec.Principal.
func (i *IAM) IssueSession(spec SessionSpec) (*Session, error) {
	if spec.Duration <= 0 {
		return nil, fmt.Errorf("%w: session duration must be positive", ErrInvalidInput)
	}
	creds, err := i.newKeyPair("ASIA")
	if err != nil {
		return nil, err
	}
	now := i.now()
	i.mu.RLock()
	now = now.Add(-i.laterAge[spec.Principal.RoleARN])
	i.mu.RUnlock()
	creds.Expiration = now.Add(spec.Duration).UTC().Truncate(time.Second)
	// The token is derived, not kept: stored, it was half a session's memory.
	k := &accessKey{Credentials: creds, Principal: compactPrincipal(spec.Principal), IssuedAt: now, DerivedToken: true}
	if err := i.storeKey(k); err != nil {
		return nil, err
	}
	creds.SessionToken = i.sessionToken(creds.AccessKeyID)
	return &Session{Credentials: creds, Principal: spec.Principal, IssuedAt: now}, nil
}

// storeKey adds k, journaling it first when the store persists: the
// caller answers only once the record is written.
func (i *IAM) storeKey(k *accessKey) error {
	if i.jr == nil {
		i.mu.Lock()
		i.keys[k.Credentials.AccessKeyID] = k
		i.indexKey(k)
		i.purgeLocked(false)
		i.mu.Unlock()
		return nil
	}
	i.jmu.Lock()
	defer i.jmu.Unlock()
	i.mu.Lock()
	i.keys[k.Credentials.AccessKeyID] = k
	i.indexKey(k)
	i.purgeLocked(false)
	live := len(i.keys)
	i.mu.Unlock()
	due, err := i.jr.Append(live, keyRecord{k})
	if err != nil {
		i.mu.Lock()
		delete(i.keys, k.Credentials.AccessKeyID)
		i.unindexKey(k)
		i.mu.Unlock()
		return fmt.Errorf("persist access key: %w", err)
	}
	if due {
		i.compactLocked()
	}
	return nil
}

// compactPrincipal is p sharing one copy of the strings every session of
// a role repeats (account, ARNs, session name, provider) and without an
// empty tag map: a live session then costs its keys and little more.
func compactPrincipal(p Principal) Principal {
	for _, s := range []*string{&p.Account, &p.ARN, &p.UserID, &p.RoleARN, &p.SessionName, &p.SourceIdentity, &p.FederatedProvider} {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
	if len(p.Tags) == 0 {
		p.Tags = nil
	}
	return p
}

// expiredKeep is how long an expired session stays known: a request
// signed with it answers ExpiredToken, as AWS does, rather than
// InvalidClientTokenId. Past it the session is purged from memory and,
// at the next compaction, from disk.
const expiredKeep = time.Hour

// purgeable reports whether k expired more than expiredKeep before now.
func purgeable(k *accessKey, now time.Time) bool {
	exp := k.Credentials.Expiration
	return !exp.IsZero() && !exp.Add(expiredKeep).After(now)
}

// purgeLocked drops the purgeable sessions when it is time to: after as
// many new keys as the store held (so the walk costs O(1) a key), or a
// minute after the last purge, or always with force. The map is rebuilt
// when it shrank to under half its peak: Go maps never give memory back.
// i.mu must be held.
func (i *IAM) purgeLocked(force bool) {
	i.sincePurge++
	i.peakKeys = max(i.peakKeys, len(i.keys))
	now := i.now()
	if !force && i.sincePurge < max(jsonlog.CompactMin, len(i.keys)) && now.Sub(i.lastPurge) < time.Minute {
		return
	}
	i.sincePurge, i.lastPurge = 0, now
	for id, k := range i.keys {
		if purgeable(k, now) {
			delete(i.keys, id)
		}
	}
	if len(i.keys) < i.peakKeys/2 {
		fresh := make(map[string]*accessKey, len(i.keys))
		for id, k := range i.keys {
			fresh[id] = k
		}
		if i.peakKeys-len(fresh) >= bigPurge {
			// The runtime gives freed pages back to the OS slowly; a lab
			// that has just dropped many sessions gets its memory back now.
			go debug.FreeOSMemory()
		}
		i.keys, i.peakKeys = fresh, len(fresh)
	}
}

// bigPurge is how many sessions a purge drops before the store hands the
// memory they held back to the OS at once.
const bigPurge = 10000

// compactLocked starts a compaction of the journal over the live keys.
// i.jmu must be held.
func (i *IAM) compactLocked() {
	now := i.now()
	i.mu.RLock()
	keys := make([]*accessKey, 0, len(i.keys))
	for _, k := range i.keys {
		if !purgeable(k, now) {
			keys = append(keys, k)
		}
	}
	i.mu.RUnlock()
	i.jr.Compact(records(keys))
}

// openJournal loads the persisted keys and opens the journal; an earlier
// version's keys file is compacted into the journal at once.
func (i *IAM) openJournal(fsync bool) error {
	if i.dataDir == "" {
		return nil
	}
	j, legacy, err := openJournal(i.dataDir, fsync, i.log, func(k *accessKey) {
		if k.Deleted {
			delete(i.keys, k.Credentials.AccessKeyID)
			return
		}
		k.Principal = compactPrincipal(k.Principal)
		i.keys[k.Credentials.AccessKeyID] = k
	})
	if err != nil {
		return err
	}
	for _, k := range i.keys {
		i.indexKey(k)
	}
	i.jr = j
	i.purgeLocked(true)
	i.jmu.Lock()
	if legacy || j.Due(len(i.keys)) {
		i.compactLocked()
	}
	i.jmu.Unlock()
	if legacy {
		j.Wait()
	}
	return nil
}

// AgeSessions moves time forward by d for the temporary credentials already
// issued to sessions of roleARN, and for nothing else: their issue time and
// expiry come d sooner, as if the lab clock had advanced for them alone.
// The lab uses it to expire one role's STS credentials without moving the
// clock every emulator shares (which would expire other tests' tokens and
// skew every SigV4 signature). It returns how many sessions were aged.
func (i *IAM) AgeSessions(roleARN string, d time.Duration) int {
	if d <= 0 || roleARN == "" {
		return 0
	}
	if i.jr != nil {
		i.jmu.Lock()
		defer i.jmu.Unlock()
	}
	// Keys are never changed in place: a compaction may be writing them.
	var aged []*accessKey
	i.mu.Lock()
	for id, k := range i.keys {
		if k.Principal.RoleARN == roleARN && !k.Credentials.Expiration.IsZero() {
			c := *k
			c.Credentials.Expiration = c.Credentials.Expiration.Add(-d)
			c.IssuedAt = c.IssuedAt.Add(-d)
			i.keys[id] = &c
			aged = append(aged, &c)
		}
	}
	live := len(i.keys)
	i.mu.Unlock()
	if i.jr == nil || len(aged) == 0 {
		return len(aged)
	}
	due, err := i.jr.Append(live, records(aged)...)
	if err != nil {
		i.log.Error("persist aged sessions", "err", err)
	}
	if due {
		i.compactLocked()
	}
	return len(aged)
}

// SetSessionAge makes the sessions issued to roleARN from now on start d
// old: their issue time and expiry come d sooner than the lab clock and
// their DurationSeconds say, as AgeSessions does to those already issued.
// A row can then see a client hold a session past its end in minutes
// rather than STS's minimum of 15, while nothing else moves. Real STS has
// no such thing: it is a lab control, kept in memory only (a restart ends
// it; the sessions issued keep their expiry). d <= 0 ends it.
func (i *IAM) SetSessionAge(roleARN string, d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if d <= 0 {
		delete(i.laterAge, roleARN)
		return
	}
	i.laterAge[roleARN] = d
}

// LookupAccessKey returns the credentials and principal behind an access key
// ID. Expiry is the caller's to check against its clock.
func (i *IAM) LookupAccessKey(accessKeyID string) (Credentials, Principal, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	k, ok := i.keys[accessKeyID]
	if !ok || k.Inactive {
		return Credentials{}, Principal{}, ErrUnknownAccessKey
	}
	c := k.Credentials
	if k.DerivedToken {
		c.SessionToken = i.tokens.get(c.AccessKeyID, i.sessionToken)
	}
	return c, k.Principal, nil
}

// InactiveAccessKey returns the user a key UpdateAccessKey made Inactive
// belongs to; ok is false for an active key and for one the store does not
// know. LookupAccessKey treats an inactive key as unknown, as AWS answers
// it; an emulator asks this to say in the decision log why.
func (i *IAM) InactiveAccessKey(accessKeyID string) (p Principal, ok bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	k, found := i.keys[accessKeyID]
	if !found || !k.Inactive {
		return Principal{}, false
	}
	return k.Principal, true
}

// tokenCache remembers the session tokens derived last, so that a session
// signing request after request derives its token once: direct-mapped,
// tokenSlots entries, safe for concurrent use.
type tokenCache struct {
	mu    sync.Mutex
	slots [tokenSlots]struct{ id, token string }
}

const tokenSlots = 1024

// get returns the token of access key id, derived by derive on a miss.
func (c *tokenCache) get(id string, derive func(string) string) string {
	h := uint32(2166136261) // FNV-1a
	for k := 0; k < len(id); k++ {
		h = (h ^ uint32(id[k])) * 16777619
	}
	slot := &c.slots[h%tokenSlots]
	c.mu.Lock()
	if slot.id == id {
		t := slot.token
		c.mu.Unlock()
		return t
	}
	c.mu.Unlock()
	t := derive(id)
	c.mu.Lock()
	slot.id, slot.token = id, t
	c.mu.Unlock()
	return t
}

// tokenPrefix starts every session token, as real ones start: opaque
// base64 beginning "IQoJb3JpZ2lu".
const tokenPrefix = "IQoJb3JpZ2luX2VjE"

// tokenKeyFile holds, under DataDir, the key session tokens derive from.
const tokenKeyFile = "session-token.key"

// sessionToken is the token of the session with access key ID id: 264
// bytes of HMAC-SHA256 under the store's token key (counter mode) in
// base64, as long and as unguessable as a random one, computed again at
// each lookup rather than kept in memory.
func (i *IAM) sessionToken(id string) string {
	raw := make([]byte, 0, 264+sha256.Size)
	m := hmac.New(sha256.New, i.tokenKey)
	for n := byte(0); len(raw) < 264; n++ {
		m.Reset()
		m.Write([]byte{n})
		m.Write([]byte(id))
		raw = m.Sum(raw)
	}
	return tokenPrefix + base64.StdEncoding.EncodeToString(raw[:264])
}

// loadTokenKey reads the token key from DataDir, or makes one (and writes
// it there before any session that depends on it).
func (i *IAM) loadTokenKey(fsync bool) error {
	path := filepath.Join(i.dataDir, tokenKeyFile)
	if i.dataDir != "" {
		raw, err := os.ReadFile(path)
		if err == nil && len(raw) == 32 {
			i.tokenKey = raw
			return nil
		}
		if err == nil {
			return fmt.Errorf("session token key %s: %d bytes, want 32", path, len(raw))
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("session token key: %w", err)
		}
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(i.rand, key); err != nil {
		return fmt.Errorf("random: %w", err)
	}
	if i.dataDir != "" {
		if err := atomicfile.WriteSync(path, key, 0o600, fsync); err != nil {
			return fmt.Errorf("session token key: %w", err)
		}
	}
	i.tokenKey = key
	return nil
}

// identityPolicies gathers the principal's identity and session policies
// and the tags of its role or user (session tags not included).
func (i *IAM) identityPolicies(p Principal) (identity, session []NamedPolicy, root bool, ownerTags map[string]string) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	add := func(owner string, inline map[string]*Policy, managed []string) {
		names := make([]string, 0, len(inline))
		for n := range inline {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			identity = append(identity, NamedPolicy{Name: owner + " inline policy " + n, Policy: inline[n]})
		}
		for _, a := range managed {
			if mp, ok := i.managed[a]; ok {
				identity = append(identity, NamedPolicy{Name: a, Policy: mp.Document})
			}
		}
	}
	switch p.Type {
	case PrincipalAccount:
		root = true
	case PrincipalUser:
		if u, ok := i.users[p.ARN]; ok {
			add(u.ARN, u.InlinePolicies, u.ManagedPolicyARNs)
			ownerTags = maps.Clone(u.Tags)
		}
	case PrincipalAssumedRole:
		if r, ok := i.roles[p.RoleARN]; ok {
			add(r.ARN, r.InlinePolicies, r.ManagedPolicyARNs)
			ownerTags = maps.Clone(r.Tags)
		}
	}
	if p.SessionPolicy != nil {
		session = append(session, NamedPolicy{Name: "session policy of " + p.ARN, Policy: p.SessionPolicy})
	}
	for _, a := range p.SessionPolicyARNs {
		if mp, ok := i.managed[a]; ok {
			session = append(session, NamedPolicy{Name: "session policy " + a, Policy: mp.Document})
		}
	}
	return identity, session, root, ownerTags
}

// Authorize evaluates req with the principal's policies and the global
// condition keys, records the decision and logs it. The condition keys are
// gathered only when a statement's condition or policy variable needs them.
func (i *IAM) Authorize(ctx context.Context, req Request) Decision {
	p := req.Principal
	identity, session, root, ownerTags := i.identityPolicies(p)
	now := i.now()
	given := req.Context
	// The request's own condition keys, as the decision log keeps them.
	var keys map[string][]string
	if len(given) > 0 {
		keys = make(map[string][]string, len(given))
		for k, v := range given {
			keys[k] = slices.Clone(v)
		}
	}
	conditionKeys := func() map[string][]string {
		cctx := make(map[string][]string, len(given)+8)
		for k, v := range given {
			cctx[k] = v
		}
		set := func(k, v string) {
			if _, ok := cctx[k]; !ok && v != "" {
				cctx[k] = []string{v}
			}
		}
		principalARN := p.ARN
		if p.Type == PrincipalAssumedRole && p.RoleARN != "" {
			principalARN = p.RoleARN
		}
		if p.Type != PrincipalWebIdentity && p.Type != PrincipalService && p.Type != PrincipalAnonymous {
			set("aws:PrincipalArn", principalARN)
			set("aws:PrincipalAccount", p.Account)
			set("aws:PrincipalType", string(p.Type))
			set("aws:userid", p.UserID)
			if p.Type == PrincipalUser {
				set("aws:username", p.ARN[strings.LastIndex(p.ARN, "/")+1:])
			}
			tags := map[string]string{}
			for k, v := range ownerTags {
				tags[k] = v
			}
			for k, v := range p.Tags { // session tags override role/user tags
				tags[k] = v
			}
			for k, v := range tags {
				set("aws:PrincipalTag/"+k, v)
			}
		}
		if p.Type == PrincipalService {
			set("aws:PrincipalServiceName", p.ARN)
		}
		if p.FederatedProvider != "" {
			set("aws:FederatedProvider", p.FederatedProvider)
		}
		if p.SourceIdentity != "" {
			set("aws:SourceIdentity", p.SourceIdentity)
		}
		set("aws:CurrentTime", now.UTC().Format(time.RFC3339))
		set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
		return cctx
	}

	resAcct := req.ResourceAccount
	if resAcct == "" {
		resAcct = p.Account
	}
	req.ResourceAccount = resAcct
	// A session policy that names a managed policy we do not hold still
	// narrows the session: to nothing, rather than to everything.
	hasSession := p.SessionPolicy != nil || len(p.SessionPolicyARNs) > 0
	in := EvalInput{Request: req, Identity: identity, IdentityIsRoot: root, Session: session, HasSession: hasSession, context: conditionKeys}
	switch p.Type {
	case PrincipalWebIdentity, PrincipalService, PrincipalAnonymous, "":
		in.ResourceOnly = true
	default:
		in.CrossAccount = resAcct != p.Account
	}
	in.ResourceRequired = isRoleAssumption(req.Action, req.Resource)
	d := Evaluate(in)
	d.Time = now
	if len(keys) > 0 {
		d.Keys = keys
	}
	i.record(&d)
	// Checked first: the arguments alone cost allocations on every request
	// when decisions are not logged (the default).
	if level := slog.LevelInfo; decisionlog.LogsDecisions(ctx, i.log, level) {
		i.log.Log(ctx, level, "iam decision", "decision", string(d.Effect), "principal", d.Principal, "action", d.Action,
			"resource", d.Resource, "reason", d.Reason, "request_id", d.RequestID)
	}
	return d
}

// record writes d to the decision log and sets its ID to the entry's Seq.
// The explanation is rendered when the log is read.
func (i *IAM) record(d *Decision) {
	kept := *d
	e := kept.entry()
	e.DetailFunc = kept.detail
	e = i.decisions.Add(e)
	d.ID = strconv.FormatInt(e.Seq, 10)
}

// DecisionFilter selects decisions; zero fields match everything.
type DecisionFilter = decisionlog.Filter

// Decisions returns the AWS decisions f selects, oldest first.
func (i *IAM) Decisions(f DecisionFilter) []decisionlog.Entry {
	f.Cloud = decisionlog.AWS
	return i.decisions.Entries(f)
}

// DecisionLog is the log IAM writes to.
func (i *IAM) DecisionLog() *decisionlog.Log { return i.decisions }

// RecordRejection logs a request refused before policy evaluation (an
// invalid web identity token, say) with the error code the caller got, so
// scenarios find every refusal in one log. principal is whatever the request
// claimed to be (issuer and subject of a token).
func (i *IAM) RecordRejection(ctx context.Context, principal, action, resource, code, reason, requestID string) Decision {
	d := Decision{Effect: Rejected, Principal: principal, Action: action, Resource: resource,
		Reason: code + ": " + reason, RequestID: requestID, Time: i.now()}
	i.record(&d)
	i.log.Log(ctx, slog.LevelInfo, "iam decision", "decision", string(d.Effect), "principal", d.Principal, "action", d.Action,
		"resource", d.Resource, "reason", d.Reason, "request_id", d.RequestID)
	return d
}

// ResetDecisions clears the decision log.
func (i *IAM) ResetDecisions() { i.decisions.Reset(decisionlog.Filter{Cloud: decisionlog.AWS}) }

// Keys of an AWS decision's Entry.Detail beside "explanation", each a JSON
// value: the request's condition keys (Decision.Keys, an object of
// arrays), the matched statements (an array of MatchedStatement) and the
// near miss (a NearMiss).
const (
	DetailKeys    = "keys"
	DetailMatched = "matched"
	DetailNear    = "near"
)

// Entry is d as the decision log keeps it: Cloud aws, the explanation in
// Detail["explanation"] (and DetailKeys, DetailMatched, DetailNear when
// d has them), the error code of a rejection in Code.
func (d Decision) Entry() decisionlog.Entry {
	e := d.entry()
	e.Detail = d.detail()
	return e
}

// detail is Entry's Detail: the explanation and, as JSON (Detail holds
// strings), the parts `idlab explain` chains.
func (d Decision) detail() map[string]string {
	out := map[string]string{"explanation": d.Explain()}
	add := func(key string, v any) {
		if raw, err := json.Marshal(v); err == nil {
			out[key] = string(raw)
		}
	}
	if len(d.Keys) > 0 {
		add(DetailKeys, d.Keys)
	}
	if len(d.Matched) > 0 {
		add(DetailMatched, d.Matched)
	}
	if d.Near != nil {
		add(DetailNear, d.Near)
	}
	return out
}

// entry is Entry without the explanation.
func (d Decision) entry() decisionlog.Entry {
	e := decisionlog.Entry{Time: d.Time, Cloud: decisionlog.AWS, Service: "iam", Principal: d.Principal, Action: d.Action, Resource: d.Resource,
		Effect: string(d.Effect), Reason: d.Reason, RequestID: d.RequestID}
	if d.Effect == Rejected {
		e.Code, _, _ = strings.Cut(d.Reason, ": ")
	}
	return e
}

// Explain renders the decision in several lines of plain words.
func (d Decision) Explain() string {
	var b strings.Builder
	verdict := map[Effect]string{Allow: "ALLOWED", ExplicitDeny: "DENIED (explicit deny)", ImplicitDeny: "DENIED (implicit deny)", Rejected: "REJECTED"}[d.Effect]
	fmt.Fprintf(&b, "%s: %s may not %s on %s\n", verdict, d.Principal, d.Action, d.Resource)
	if d.Effect == Allow {
		b.Reset()
		fmt.Fprintf(&b, "%s: %s may %s on %s\n", verdict, d.Principal, d.Action, d.Resource)
	}
	fmt.Fprintf(&b, "  reason: %s\n", d.Reason)
	for _, m := range d.Matched {
		fmt.Fprintf(&b, "  matched: %s statement %s (%s)\n", m.Policy, stmtLabel(m), m.Effect)
	}
	if d.RequestID != "" {
		fmt.Fprintf(&b, "  request: %s\n", d.RequestID)
	}
	return b.String()
}

// isRoleAssumption reports a request on a role that its trust policy must
// allow, whatever the caller's identity policies say.
func isRoleAssumption(action, resource string) bool {
	a := strings.ToLower(action)
	switch a {
	case "sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml", "sts:tagsession", "sts:setsourceidentity":
		return strings.HasPrefix(resource, "arn:aws:iam::") && strings.Contains(resource, ":role/")
	}
	return false
}
