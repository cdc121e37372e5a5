package awsiam

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/atomicfile"
)

// The roles, users, managed policies and OIDC providers the IAM API
// creates, changes or deletes persist under DataDir/entities, one file an
// entity (its whole state, or a tombstone once deleted), written to a
// temporary file and renamed: a change costs one small file however many
// entities exist, and a killed process leaves each file old or new, never
// half written. New reads them all before any fixture loads; fixtures
// then skip the entities named there (owned), so after a restart the
// API's last word on an entity stands over the fixture that first made it.
const entitiesDir = "entities"

// Entity keys: what one file holds. Names compare case-insensitively, as
// IAM compares them; a policy's name is unique in its account whatever
// its path.
func roleKey(account, name string) string   { return "role/" + account + "/" + strings.ToLower(name) }
func userKey(account, name string) string   { return "user/" + account + "/" + strings.ToLower(name) }
func policyKey(account, name string) string { return "policy/" + account + "/" + strings.ToLower(name) }
func providerKey(arn string) string         { return "oidc-provider/" + arn }

// entityFile is the file of key: its kind and a hash of the key, since
// names and paths need not make a valid file name.
func entityFile(key string) string {
	kind, _, _ := strings.Cut(key, "/")
	sum := sha256.Sum256([]byte(key))
	return kind + "-" + hex.EncodeToString(sum[:16]) + ".json"
}

// entityRecord is one entity file: the key and the entity's state, or
// Deleted.
type entityRecord struct {
	Key      string          `json:"key"`
	Deleted  bool            `json:"deleted,omitempty"`
	Role     *roleRecord     `json:"role,omitempty"`
	User     *userRecord     `json:"user,omitempty"`
	Policy   *policyRecord   `json:"policy,omitempty"`
	Provider *providerRecord `json:"oidcProvider,omitempty"`
}

// Policy documents are kept as written (Policy.Raw), so GetRolePolicy
// and GetPolicyVersion answer with the document the caller sent.
type roleRecord struct {
	Account           string            `json:"account"`
	Name              string            `json:"name"`
	Path              string            `json:"path"`
	RoleID            string            `json:"roleId"`
	Description       string            `json:"description,omitempty"`
	TrustPolicy       string            `json:"trustPolicy"`
	InlinePolicies    map[string]string `json:"inlinePolicies,omitempty"`
	ManagedPolicyARNs []string          `json:"managedPolicyArns,omitempty"`
	MaxSessionSeconds int64             `json:"maxSessionSeconds"`
	Tags              map[string]string `json:"tags,omitempty"`
	CreateDate        time.Time         `json:"createDate"`
}

type userRecord struct {
	Account           string            `json:"account"`
	Name              string            `json:"name"`
	Path              string            `json:"path"`
	InlinePolicies    map[string]string `json:"inlinePolicies,omitempty"`
	ManagedPolicyARNs []string          `json:"managedPolicyArns,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	CreateDate        time.Time         `json:"createDate"`
}

type policyRecord struct {
	Account          string            `json:"account"`
	Name             string            `json:"name"`
	Path             string            `json:"path"`
	PolicyID         string            `json:"policyId"`
	Description      string            `json:"description,omitempty"`
	DefaultVersionID string            `json:"defaultVersionId"`
	Versions         []versionRecord   `json:"versions"`
	NextVersion      int               `json:"nextVersion"`
	Tags             map[string]string `json:"tags,omitempty"`
	CreateDate       time.Time         `json:"createDate"`
	UpdateDate       time.Time         `json:"updateDate"`
}

type versionRecord struct {
	ID         string    `json:"id"`
	Document   string    `json:"document"`
	CreateDate time.Time `json:"createDate"`
}

type providerRecord struct {
	Account     string            `json:"account"`
	URL         string            `json:"url"`
	ClientIDs   []string          `json:"clientIds"`
	Thumbprints []string          `json:"thumbprints,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	CreateDate  time.Time         `json:"createDate"`
}

func rawDocs(m map[string]*Policy) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, p := range m {
		out[k] = string(p.Raw)
	}
	return out
}

func parseDocs(m map[string]string) (map[string]*Policy, error) {
	out := make(map[string]*Policy, len(m))
	for k, raw := range m {
		p, err := ParsePolicy([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}

func roleRec(r *Role) entityRecord {
	return entityRecord{Key: roleKey(r.Account, r.Name), Role: &roleRecord{Account: r.Account, Name: r.Name, Path: r.Path, RoleID: r.RoleID,
		Description: r.Description, TrustPolicy: string(r.TrustPolicy.Raw), InlinePolicies: rawDocs(r.InlinePolicies),
		ManagedPolicyARNs: r.ManagedPolicyARNs, MaxSessionSeconds: int64(r.MaxSessionDuration / time.Second), Tags: r.Tags, CreateDate: r.CreateDate}}
}

func userRec(u *User) entityRecord {
	return entityRecord{Key: userKey(u.Account, u.Name), User: &userRecord{Account: u.Account, Name: u.Name, Path: u.Path,
		InlinePolicies: rawDocs(u.InlinePolicies), ManagedPolicyARNs: u.ManagedPolicyARNs, Tags: u.Tags, CreateDate: u.CreateDate}}
}

func policyRec(p *ManagedPolicy) entityRecord {
	rec := &policyRecord{Account: p.Account, Name: p.Name, Path: p.Path, PolicyID: p.PolicyID, Description: p.Description,
		DefaultVersionID: p.DefaultVersionID, NextVersion: p.nextVersion, Tags: p.Tags, CreateDate: p.CreateDate, UpdateDate: p.UpdateDate}
	for _, v := range p.Versions {
		rec.Versions = append(rec.Versions, versionRecord{ID: v.ID, Document: string(v.Document.Raw), CreateDate: v.CreateDate})
	}
	return entityRecord{Key: policyKey(p.Account, p.Name), Policy: rec}
}

func providerRec(p *OIDCProvider) entityRecord {
	return entityRecord{Key: providerKey(p.ARN), Provider: &providerRecord{Account: p.Account, URL: p.URL, ClientIDs: p.ClientIDs,
		Thumbprints: p.Thumbprints, Tags: p.Tags, CreateDate: p.CreateDate}}
}

// entity rebuilds the entity a record holds, validated as a new one is.
func (rec *entityRecord) apply(i *IAM) error {
	switch {
	case rec.Deleted:
		return nil
	case rec.Role != nil:
		r := rec.Role
		trust, err := ParsePolicy([]byte(r.TrustPolicy))
		if err != nil {
			return fmt.Errorf("trust policy: %w", err)
		}
		inline, err := parseDocs(r.InlinePolicies)
		if err != nil {
			return err
		}
		role := Role{Account: r.Account, Name: r.Name, Path: r.Path, RoleID: r.RoleID, Description: r.Description, TrustPolicy: trust,
			InlinePolicies: inline, ManagedPolicyARNs: r.ManagedPolicyARNs, MaxSessionDuration: time.Duration(r.MaxSessionSeconds) * time.Second,
			Tags: r.Tags, CreateDate: r.CreateDate}
		if err := checkRole(&role); err != nil {
			return err
		}
		if roleKey(role.Account, role.Name) != rec.Key {
			return errors.New("role does not match its key")
		}
		i.knowAccount(role.Account)
		i.putRoleLocked(&role)
	case rec.User != nil:
		r := rec.User
		inline, err := parseDocs(r.InlinePolicies)
		if err != nil {
			return err
		}
		u := User{Account: r.Account, Name: r.Name, Path: r.Path, InlinePolicies: inline, ManagedPolicyARNs: r.ManagedPolicyARNs,
			Tags: r.Tags, CreateDate: r.CreateDate}
		if err := checkUser(&u); err != nil {
			return err
		}
		if userKey(u.Account, u.Name) != rec.Key {
			return errors.New("user does not match its key")
		}
		i.knowAccount(u.Account)
		i.putUserLocked(&u)
	case rec.Policy != nil:
		r := rec.Policy
		if len(r.Versions) == 0 {
			return errors.New("policy without versions")
		}
		var versions []PolicyVersion
		var def *Policy
		for _, v := range r.Versions {
			doc, err := ParsePolicy([]byte(v.Document))
			if err != nil {
				return fmt.Errorf("version %s: %w", v.ID, err)
			}
			versions = append(versions, PolicyVersion{ID: v.ID, Document: doc, CreateDate: v.CreateDate})
			if v.ID == r.DefaultVersionID {
				def = doc
			}
		}
		if def == nil {
			return fmt.Errorf("default version %s missing", r.DefaultVersionID)
		}
		mp, err := newManagedPolicy(r.Account, r.Name, r.Path, r.Description, def, r.CreateDate)
		if err != nil {
			return err
		}
		if policyKey(mp.Account, mp.Name) != rec.Key {
			return errors.New("policy does not match its key")
		}
		mp.PolicyID, mp.DefaultVersionID, mp.Versions, mp.nextVersion = r.PolicyID, r.DefaultVersionID, versions, r.NextVersion
		mp.Tags, mp.CreateDate, mp.UpdateDate = r.Tags, r.CreateDate, r.UpdateDate
		if mp.Account != AWSManaged {
			i.knowAccount(mp.Account)
		}
		i.putPolicyLocked(mp)
	case rec.Provider != nil:
		r := rec.Provider
		p := OIDCProvider{Account: r.Account, URL: r.URL, ClientIDs: r.ClientIDs, Thumbprints: r.Thumbprints, Tags: r.Tags, CreateDate: r.CreateDate}
		if err := checkProvider(&p); err != nil {
			return err
		}
		if providerKey(p.ARN) != rec.Key {
			return errors.New("OIDC provider does not match its key")
		}
		i.knowAccount(p.Account)
		i.providers[p.ARN] = &p
	default:
		return errors.New("record holds no entity")
	}
	return nil
}

// loadEntities reads every entity file under DataDir/entities into the
// store, marking each key owned.
func (i *IAM) loadEntities(fsync bool) error {
	i.fsync = fsync
	if i.dataDir == "" {
		return nil
	}
	dir := filepath.Join(i.dataDir, entitiesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("iam entities: %w", err)
	}
	if err := atomicfile.RemoveTemp(dir); err != nil {
		return fmt.Errorf("iam entities: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("iam entities: %w", err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("iam entities: %w", err)
		}
		rec, err := decodeEntity(raw)
		if err == nil && entityFile(rec.Key) != e.Name() {
			err = fmt.Errorf("key %q belongs in %s", rec.Key, entityFile(rec.Key))
		}
		if err == nil {
			err = rec.apply(i)
		}
		if err != nil {
			return fmt.Errorf("iam entity %s: %w", path, err)
		}
		i.owned[rec.Key] = true
	}
	return nil
}

// decodeEntity parses one entity file strictly.
func decodeEntity(raw []byte) (*entityRecord, error) {
	var rec entityRecord
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse: more than one value")
	}
	if rec.Key == "" {
		return nil, errors.New("parse: no key")
	}
	return &rec, nil
}

// commit persists rec (when the store has a DataDir), then makes the
// change in memory and marks the entity owned. i.wmu must be held, so
// that the file and memory change in the same order as every other
// change; a change that could not be persisted is not made.
func (i *IAM) commit(rec entityRecord, change func()) error {
	if i.dataDir != "" {
		raw, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("persist %s: %w", rec.Key, err)
		}
		path := filepath.Join(i.dataDir, entitiesDir, entityFile(rec.Key))
		if err := atomicfile.WriteSync(path, raw, 0o600, i.fsync); err != nil {
			return fmt.Errorf("persist %s: %w", rec.Key, err)
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.owned[rec.Key] = true
	change()
	return nil
}
