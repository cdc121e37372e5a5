package gcpiam

import (
	"fmt"
	"github.com/idlab/idlab/internal/decisionlog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Decision is one authorization check as an emulator reports it: who
// asked for what on which resource, and why it was allowed or denied. The
// log keeps it as a decisionlog.Entry (Entry); scenarios read those to prove
// a denial came from IAM and not from a broken network.
type Decision struct {
	Time       time.Time `json:"time"`
	Member     string    `json:"member"`
	Resource   string    `json:"resource"`
	Permission string    `json:"permission,omitempty"` // set by CheckPermission
	Role       string    `json:"role,omitempty"`       // set by HasRole, or the granting role
	Allowed    bool      `json:"allowed"`
	Reason     string    `json:"reason"`
}

// Service is the Service of Google IAM's decisions (Cloud Storage's too).
const Service = "gcpiam"

// Entry is d as the decision log keeps it: Cloud google, Principal the
// member, Action the permission (the role for a role check), the role in
// Detail["role"].
func (d Decision) Entry() decisionlog.Entry {
	e := decisionlog.Entry{Time: d.Time, Cloud: decisionlog.Google, Service: Service, Principal: d.Member, Action: d.Permission,
		Resource: d.Resource, Effect: decisionlog.Deny, Reason: d.Reason}
	if d.Allowed {
		e.Effect = decisionlog.Allow
	}
	if e.Action == "" {
		e.Action = d.Role
	}
	if d.Role != "" {
		e.Detail = map[string]string{"role": d.Role}
	}
	return e
}

// rolePermissions are the predefined roles the lab knows, with the
// permissions (a subset of Google's) its emulators check.
var rolePermissions = map[string][]string{
	"roles/iam.serviceAccountTokenCreator": {
		"iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
		"iam.serviceAccounts.implicitDelegation", "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt",
	},
	"roles/iam.workloadIdentityUser": {
		"iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken", "iam.serviceAccounts.list",
	},
	"roles/iam.serviceAccountOpenIdTokenCreator": {"iam.serviceAccounts.getOpenIdToken"},
	"roles/iam.serviceAccountUser":               {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"},
	"roles/iam.serviceAccountViewer":             {"iam.serviceAccounts.get", "iam.serviceAccounts.list"},
	"roles/storage.objectViewer":                 {"storage.objects.get", "storage.objects.list"},
	"roles/storage.objectCreator":                {"storage.objects.create"},
	"roles/storage.objectUser": {
		"storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list", "storage.objects.update",
	},
	"roles/storage.objectAdmin": {
		"storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.getIamPolicy",
		"storage.objects.list", "storage.objects.setIamPolicy", "storage.objects.update",
	},
	"roles/storage.legacyBucketReader": {"storage.buckets.get", "storage.objects.list"},
	"roles/storage.admin": {
		"storage.buckets.create", "storage.buckets.delete", "storage.buckets.get", "storage.buckets.getIamPolicy",
		"storage.buckets.list", "storage.buckets.setIamPolicy", "storage.buckets.update",
		"storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.getIamPolicy",
		"storage.objects.list", "storage.objects.setIamPolicy", "storage.objects.update",
	},
}

// Basic roles grant by permission prefix.
var basicRoles = map[string]func(perm string) bool{
	"roles/owner":  func(string) bool { return true },
	"roles/editor": func(p string) bool { return !strings.HasSuffix(p, "IamPolicy") },
	"roles/viewer": func(p string) bool {
		return strings.HasSuffix(p, ".get") || strings.HasSuffix(p, ".list")
	},
}

// RoleGrants reports whether role includes permission.
func RoleGrants(role, permission string) bool {
	if f, ok := basicRoles[role]; ok {
		return f(permission)
	}
	return slices.Contains(rolePermissions[role], permission)
}

func knownRole(role string) bool {
	_, basic := basicRoles[role]
	_, predefined := rolePermissions[role]
	return basic || predefined
}

var (
	saResourceRe     = regexp.MustCompile(`^projects/([^/]+)/serviceAccounts/([^/]+)$`)
	bucketResourceRe = regexp.MustCompile(`^projects/_/buckets/([^/]+)$`)
	projectRe        = regexp.MustCompile(`^projects/([^/]+)$`)
	memberRe         = regexp.MustCompile(`^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet):.+)$`)
)

// normalizeResource resolves projects/-/serviceAccounts/X (X an email or a
// unique ID) to projects/PROJECT/serviceAccounts/EMAIL; other forms are
// checked and returned as given.
func (h *Handler) normalizeResourceLocked(resource string) (string, error) {
	if m := saResourceRe.FindStringSubmatch(resource); m != nil {
		if sa := h.accountLocked(m[2]); sa != nil {
			return "projects/" + sa.Project + "/serviceAccounts/" + sa.Email, nil
		}
		if m[1] == "-" {
			return "", fmt.Errorf("resource %q: %w", resource, ErrNotFound)
		}
		return "projects/" + m[1] + "/serviceAccounts/" + strings.ToLower(m[2]), nil
	}
	if bucketResourceRe.MatchString(resource) || projectRe.MatchString(resource) {
		return resource, nil
	}
	return "", fmt.Errorf("resource %q: %w: want projects/P, projects/P/serviceAccounts/EMAIL or projects/_/buckets/NAME", resource, ErrInvalid)
}

// parentLocked is the project a resource inherits bindings from.
func parentLocked(resource string) string {
	if m := saResourceRe.FindStringSubmatch(resource); m != nil {
		return "projects/" + m[1]
	}
	return ""
}

// AddBinding grants role on resource to members: "serviceAccount:EMAIL",
// "serviceAccount:P.svc.id.goog[NS/KSA]", "principal://...",
// "principalSet://...", "user:EMAIL", "group:EMAIL", "allUsers",
// "allAuthenticatedUsers".
func (h *Handler) AddBinding(resource, role string, members ...string) error {
	if !knownRole(role) {
		return fmt.Errorf("role %q: %w: the lab knows %s", role, ErrInvalid, strings.Join(KnownRoles(), ", "))
	}
	if len(members) == 0 {
		return fmt.Errorf("binding %s on %s: %w: no members", role, resource, ErrInvalid)
	}
	for _, m := range members {
		if !memberRe.MatchString(m) {
			return fmt.Errorf("member %q: %w: want allUsers, allAuthenticatedUsers or TYPE:ID", m, ErrInvalid)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	res, err := h.normalizeResourceLocked(resource)
	if err != nil {
		return err
	}
	roles := h.st.Bindings[res]
	if roles == nil {
		roles = map[string][]string{}
		h.st.Bindings[res] = roles
	}
	for _, m := range members {
		m = normalizeMember(m)
		if !slices.Contains(roles[role], m) {
			roles[role] = append(roles[role], m)
		}
	}
	sort.Strings(roles[role])
	h.log.Info("binding added", "resource", res, "role", role, "members", members)
	return h.saveLocked()
}

// RemoveBinding revokes role on resource from members.
func (h *Handler) RemoveBinding(resource, role string, members ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	res, err := h.normalizeResourceLocked(resource)
	if err != nil {
		return err
	}
	roles := h.st.Bindings[res]
	for _, m := range members {
		m = normalizeMember(m)
		roles[role] = slices.DeleteFunc(roles[role], func(x string) bool { return x == m })
	}
	if roles != nil && len(roles[role]) == 0 {
		delete(roles, role)
	}
	return h.saveLocked()
}

// Bindings returns role -> members on resource (a copy).
func (h *Handler) Bindings(resource string) map[string][]string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	res, err := h.normalizeResourceLocked(resource)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for r, ms := range h.st.Bindings[res] {
		out[r] = slices.Clone(ms)
	}
	return out
}

// KnownRoles lists the roles AddBinding accepts.
func KnownRoles() []string {
	out := []string{}
	for r := range rolePermissions {
		out = append(out, r)
	}
	for r := range basicRoles {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// normalizeMember lowercases the email of user/serviceAccount/group members,
// as IAM does.
func normalizeMember(m string) string {
	for _, p := range []string{"user:", "group:"} {
		if strings.HasPrefix(m, p) {
			return p + strings.ToLower(m[len(p):])
		}
	}
	if strings.HasPrefix(m, "serviceAccount:") && !strings.Contains(m, "[") {
		return "serviceAccount:" + strings.ToLower(m[len("serviceAccount:"):])
	}
	return m
}

// memberMatches reports whether a binding member covers one of the
// caller's identities.
func memberMatches(binding string, caller []string) bool {
	if binding == "allUsers" {
		return true
	}
	if binding == "allAuthenticatedUsers" {
		return len(caller) > 0
	}
	for _, c := range caller {
		if normalizeMember(c) == binding {
			return true
		}
	}
	return false
}

// HasRole reports whether member holds role on resource directly or, for a
// service account, on its project. It records a Decision either way.
func (h *Handler) HasRole(resource, member, role string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := Decision{Time: h.now(), Member: member, Resource: resource, Role: role}
	res, err := h.normalizeResourceLocked(resource)
	if err != nil {
		d.Reason = err.Error()
		h.recordLocked(d)
		return false
	}
	d.Resource = res
	for _, r := range []string{res, parentLocked(res)} {
		if r == "" {
			continue
		}
		for _, b := range h.st.Bindings[r][role] {
			if memberMatches(b, []string{member}) {
				d.Allowed = true
				d.Reason = fmt.Sprintf("%s granted on %s to %s", role, r, b)
				h.recordLocked(d)
				return true
			}
		}
	}
	d.Reason = fmt.Sprintf("no binding of %s on %s (or its project) names %s", role, res, member)
	h.recordLocked(d)
	return false
}

// CheckPermission reports whether any of members (one caller's identities,
// primary first) holds a role that includes permission on resource or, for
// a service account, its project. It records a Decision either way.
func (h *Handler) CheckPermission(resource string, members []string, permission string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checkLocked(resource, members, permission)
}

func (h *Handler) checkLocked(resource string, members []string, permission string) bool {
	d := Decision{Time: h.now(), Resource: resource, Permission: permission}
	if len(members) > 0 {
		d.Member = members[0]
	} else {
		d.Member = "anonymous"
	}
	res, err := h.normalizeResourceLocked(resource)
	if err != nil {
		d.Reason = err.Error()
		h.recordLocked(d)
		return false
	}
	d.Resource = res
	for _, r := range []string{res, parentLocked(res)} {
		if r == "" {
			continue
		}
		roles := make([]string, 0, len(h.st.Bindings[r]))
		for role := range h.st.Bindings[r] {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		for _, role := range roles {
			if !RoleGrants(role, permission) {
				continue
			}
			for _, b := range h.st.Bindings[r][role] {
				if memberMatches(b, members) {
					d.Allowed, d.Role = true, role
					d.Reason = fmt.Sprintf("%s on %s grants %s to %s", role, r, permission, b)
					h.recordLocked(d)
					return true
				}
			}
		}
	}
	d.Reason = fmt.Sprintf("no role including %s on %s (or its project) is granted to %s", permission, res, strings.Join(members, ", "))
	h.recordLocked(d)
	return false
}

func (h *Handler) recordLocked(d Decision) {
	h.decisions.Add(d.Entry())
	verdict := "deny"
	if d.Allowed {
		verdict = "allow"
	}
	h.log.Info("decision", "decision", verdict, "principal", d.Member, "action", d.Permission+d.Role,
		"resource", d.Resource, "reason", d.Reason)
}

// Decisions returns Google's entries of the decision log, oldest first.
func (h *Handler) Decisions() []decisionlog.Entry {
	return h.decisions.Entries(decisionlog.Filter{Service: Service})
}

// ResetDecisions drops Google's entries of the decision log.
func (h *Handler) ResetDecisions() { h.decisions.Reset(decisionlog.Filter{Service: Service}) }

// RecordDecision appends a decision made outside IAM's own checks (an
// emulator refusing an invalid token, say), so every denial is in one log.
// A zero Time is stamped with the handler's clock.
func (h *Handler) RecordDecision(d Decision) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.Time.IsZero() {
		d.Time = h.now()
	}
	h.recordLocked(d)
}
