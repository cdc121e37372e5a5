package azureblob

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Decision is the outcome of one request's authentication and
// authorization.
type Decision struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"requestId"`
	Account   string    `json:"account"`
	Container string    `json:"container,omitempty"`
	Blob      string    `json:"blob,omitempty"`
	Operation string    `json:"operation"`
	Action    string    `json:"action,omitempty"`
	// Scope is the ARM ID the action was evaluated at (the container).
	Scope string `json:"scope,omitempty"`
	// Principal is the token's oid, AppID its appid/azp, Tenant its tid.
	Principal string `json:"principal,omitempty"`
	AppID     string `json:"appId,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
	Allowed   bool   `json:"allowed"`
	// Role and AssignmentScope name the role assignment that allowed it.
	Role            string `json:"role,omitempty"`
	AssignmentScope string `json:"assignmentScope,omitempty"`
	// Code is the Azure Storage error code of a denial, Status its HTTP status.
	Code   string `json:"code,omitempty"`
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

// Decisions returns every recorded decision, oldest first.
func (h *Handler) Decisions() []Decision { return h.decisions.All() }

// ResetDecisions empties the decision log.
func (h *Handler) ResetDecisions() { h.decisions.Reset() }

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/azureblob/"

// AdminHandler serves the test API under AdminPrefix, for the lab's
// control plane only (ServeHTTP never answers it):
//
//	GET    decisions[?principal=OID&appId=ID&container=C] -> [Decision...]
//	DELETE decisions -> 204
//	GET    accounts -> {account: {container: [blob names]}}
func (h *Handler) AdminHandler() http.Handler { return http.HandlerFunc(h.serveAdmin) }

func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch p := strings.TrimPrefix(r.URL.Path, AdminPrefix); {
	case p == "decisions" && r.Method == http.MethodGet:
		q := r.URL.Query()
		out := []Decision{}
		for _, d := range h.Decisions() {
			if (q.Get("principal") == "" || d.Principal == q.Get("principal")) && (q.Get("appId") == "" || d.AppID == q.Get("appId")) &&
				(q.Get("container") == "" || d.Container == q.Get("container")) {
				out = append(out, d)
			}
		}
		adminJSON(w, http.StatusOK, out)
	case p == "decisions" && r.Method == http.MethodDelete:
		h.ResetDecisions()
		w.WriteHeader(http.StatusNoContent)
	case p == "accounts" && r.Method == http.MethodGet:
		h.mu.RLock()
		out := map[string]map[string][]string{}
		for name, a := range h.accounts {
			out[name] = map[string][]string{}
			for cn, c := range a.Containers {
				out[name][cn] = c.sortedBlobNames()
			}
		}
		h.mu.RUnlock()
		adminJSON(w, http.StatusOK, out)
	default:
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound", "message": "GET/DELETE " + AdminPrefix + "decisions, GET " + AdminPrefix + "accounts"})
	}
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
