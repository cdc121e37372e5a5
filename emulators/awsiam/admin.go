package awsiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"

	"github.com/idlab/idlab/internal/atomicfile"
)

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/iam/"

// AdminHandler serves the test-facing API under /_idlab/iam/:
//
//	DELETE decisions   (the AWS entries of the decision log; the lab's
//	                    GET /_idlab/decisions reads them)
//	POST   users/{account}/{name}/access-keys
//	POST   admins/{account}    (the account's IAM admin and its key; rewrites
//	                            DataDir/admin-credentials)
//	POST   fixtures            (YAML body)
//	GET    roles
//	GET    users
//
// It changes fixtures and mints keys, so it belongs on the lab's control
// plane only, never behind an endpoint workloads reach.
func (i *IAM) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, AdminPrefix)
		switch {
		case p == "decisions" && r.Method == http.MethodDelete:
			i.ResetDecisions()
			w.WriteHeader(http.StatusNoContent)
		case p == "roles" && r.Method == http.MethodGet:
			type roleJSON struct {
				ARN    string `json:"arn"`
				RoleID string `json:"roleId"`
			}
			var out []roleJSON
			for _, role := range i.Roles() {
				out = append(out, roleJSON{role.ARN, role.RoleID})
			}
			writeAdmin(w, http.StatusOK, out)
		case p == "users" && r.Method == http.MethodGet:
			type userJSON struct {
				ARN    string `json:"arn"`
				UserID string `json:"userId"`
			}
			out := []userJSON{}
			for _, u := range i.Users() {
				out = append(out, userJSON{u.ARN, u.UserID})
			}
			writeAdmin(w, http.StatusOK, out)
		case p == "fixtures" && r.Method == http.MethodPost:
			raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
			if err != nil {
				adminErr(w, http.StatusBadRequest, "InvalidInput", err.Error())
				return
			}
			if err := i.LoadFixtureYAML("request body", raw); err != nil {
				adminErr(w, http.StatusBadRequest, "MalformedFixture", err.Error())
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(p, "admins/") && r.Method == http.MethodPost:
			account := strings.TrimPrefix(p, "admins/")
			if err := i.EnsureAdmins(account); errors.Is(err, ErrInvalidInput) {
				adminErr(w, http.StatusBadRequest, "InvalidInput", err.Error())
				return
			} else if err != nil {
				adminErr(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
				return
			}
			creds, err := i.EnsureAdmin(account)
			if err != nil {
				adminErr(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
				return
			}
			writeAdmin(w, http.StatusOK, map[string]string{"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey,
				"Profile": AdminProfilePrefix + account, "UserArn": "arn:aws:iam::" + account + ":user" + AdminPath + AdminUser})
		case strings.HasPrefix(p, "users/") && strings.HasSuffix(p, "/access-keys") && r.Method == http.MethodPost:
			parts := strings.Split(p, "/")
			if len(parts) != 4 {
				adminErr(w, http.StatusNotFound, "NotFound", "want users/{account}/{name}/access-keys")
				return
			}
			creds, err := i.CreateAccessKey(parts[1], parts[2])
			if errors.Is(err, ErrNoSuchEntity) {
				adminErr(w, http.StatusNotFound, "NoSuchEntity", err.Error())
				return
			} else if err != nil {
				adminErr(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
				return
			}
			writeAdmin(w, http.StatusCreated, map[string]string{"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey})
		default:
			adminErr(w, http.StatusNotFound, "NotFound", "no IAM admin endpoint "+r.Method+" "+r.URL.Path)
		}
	})
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func adminErr(w http.ResponseWriter, status int, code, msg string) {
	writeAdmin(w, status, map[string]string{"error": code, "code": code, "message": msg})
}

// The lab's IAM administrators: one IAM user per account, AdminUser at
// AdminPath, whose inline policy AdminPolicyName allows everything (as
// AWS's AdministratorAccess managed policy does). Their keys are written
// to DataDir/AdminCredentialsFile, an AWS shared-credentials file: the
// host's way in to the IAM API. No pod ever gets it: it lives in the
// emulator's data dir on the host, which only the emulator's container
// mounts, and no fixture grants a pod's role iam:*.
const (
	AdminUser            = "idlab-admin"
	AdminPath            = "/idlab/"
	AdminPolicyName      = "AdministratorAccess"
	AdminCredentialsFile = "admin-credentials"
	// AdminProfilePrefix names each account's profile: idlab-<account>.
	AdminProfilePrefix = "idlab-"
)

var adminPolicy = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)

// EnsureAdmin makes sure account has the lab's admin user with its
// policy and an active access key, and returns that key. The user and its
// key persist with DataDir, so a restart hands out the same key.
func (i *IAM) EnsureAdmin(account string) (Credentials, error) {
	if !accountRe.MatchString(account) {
		return Credentials{}, fmt.Errorf("%w: account ID %q must be 12 digits", ErrInvalidInput, account)
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	u := i.findUserLocked(account, AdminUser)
	i.mu.RUnlock()
	if u == nil {
		nu := User{Account: account, Name: AdminUser, Path: AdminPath, InlinePolicies: map[string]*Policy{AdminPolicyName: adminPolicy}}
		if err := checkUser(&nu); err != nil {
			return Credentials{}, err
		}
		var err error
		if u, err = i.createUserLocked(nu); err != nil {
			return Credentials{}, err
		}
	} else if p := u.InlinePolicies[AdminPolicyName]; p == nil || string(p.Raw) != string(adminPolicy.Raw) {
		c := cloneUser(u)
		if c.InlinePolicies == nil {
			c.InlinePolicies = map[string]*Policy{}
		}
		c.InlinePolicies[AdminPolicyName] = adminPolicy
		if err := i.commit(userRec(&c), func() { i.putUserLocked(&c) }); err != nil {
			return Credentials{}, err
		}
	}
	i.mu.RLock()
	var found *accessKey
	for id := range i.userKeys[u.ARN] {
		if k := i.keys[id]; k != nil && !k.Inactive && (found == nil || k.Credentials.AccessKeyID < found.Credentials.AccessKeyID) {
			found = k
		}
	}
	i.mu.RUnlock()
	if found != nil {
		return found.Credentials, nil
	}
	k, err := i.newUserKey(u)
	if err != nil {
		return Credentials{}, err
	}
	return k.Credentials, nil
}

// EnsureAdmins runs EnsureAdmin for each account and writes the keys of
// every account's admin to DataDir/AdminCredentialsFile (0600), one
// profile each (AdminProfilePrefix + account) and [default] for the first
// account ever given. Without DataDir nothing is written.
func (i *IAM) EnsureAdmins(accounts ...string) error {
	for _, a := range accounts {
		if _, err := i.EnsureAdmin(a); err != nil {
			return fmt.Errorf("iam admin of %s: %w", a, err)
		}
	}
	i.mu.Lock()
	if i.adminDefault == "" && len(accounts) > 0 {
		i.adminDefault = accounts[0]
	}
	i.mu.Unlock()
	return i.writeAdminCredentials()
}

// writeAdminCredentials writes the credentials file from the admin users
// the store holds.
func (i *IAM) writeAdminCredentials() error {
	if i.dataDir == "" {
		return nil
	}
	i.mu.RLock()
	def := i.adminDefault
	var admins []*User
	for _, u := range i.users {
		if u.Name == AdminUser && u.Path == AdminPath {
			admins = append(admins, u)
		}
	}
	i.mu.RUnlock()
	sort.Slice(admins, func(a, b int) bool { return admins[a].Account < admins[b].Account })
	var b strings.Builder
	b.WriteString("# The IAM administrator of each account of the lab (user " + AdminPath + AdminUser + ", allowed everything),\n" +
		"# written by idlab serve. Host only: no pod ever gets this file.\n")
	section := func(profile string, c Credentials) {
		fmt.Fprintf(&b, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, c.AccessKeyID, c.SecretAccessKey)
	}
	var defCreds *Credentials
	for _, u := range admins {
		c, err := i.EnsureAdmin(u.Account)
		if err != nil {
			return err
		}
		if u.Account == def {
			defCreds = &c
		}
		section(AdminProfilePrefix+u.Account, c)
	}
	if defCreds != nil {
		section("default", *defCreds)
	}
	if err := atomicfile.WriteSync(filepath.Join(i.dataDir, AdminCredentialsFile), []byte(b.String()), 0o600, i.fsync); err != nil {
		return fmt.Errorf("iam admin credentials: %w", err)
	}
	return nil
}
