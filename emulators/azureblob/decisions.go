package azureblob

import (
	"encoding/json"
	"github.com/idlab/idlab/internal/decisionlog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Service is the Service of the blob service's decisions.
const Service = "azureblob"

// decision is the outcome of one request's authentication and
// authorization; the log keeps it as a decisionlog.Entry (entry).
type decision struct {
	Time      time.Time
	RequestID string
	Account   string
	Container string
	Blob      string
	Operation string
	Action    string
	// Scope is the ARM ID the action was evaluated at (the container).
	Scope string
	// Principal is the token's oid, AppID its appid/azp, Tenant its tid.
	Principal string
	AppID     string
	Tenant    string
	Allowed   bool
	// Role and AssignmentScope name the role assignment that allowed it.
	Role            string
	AssignmentScope string
	// Code is the Azure Storage error code of a denial, Status its HTTP status.
	Code   string
	Status int
	Reason string
}

// entry is d as the decision log keeps it: Cloud azure, Service
// azureblob, Action the data action (the operation when it has none),
// Resource the container's ARM ID (with /blobs/NAME for a blob), the rest
// in Detail (account, container, blob, operation, appId, tenant, role,
// assignmentScope, status).
func (d decision) entry() decisionlog.Entry {
	e := decisionlog.Entry{Time: d.Time, Cloud: decisionlog.Azure, Service: Service, Principal: d.Principal, Action: d.Action,
		Resource: d.Scope, Effect: decisionlog.Deny, Reason: d.Reason, RequestID: d.RequestID, Code: d.Code, Detail: map[string]string{}}
	if d.Allowed {
		e.Effect = decisionlog.Allow
	}
	if e.Action == "" {
		e.Action = d.Operation
	}
	if d.Blob != "" {
		e.Resource += "/blobs/" + d.Blob
	}
	for k, v := range map[string]string{"account": d.Account, "container": d.Container, "blob": d.Blob, "operation": d.Operation,
		"appId": d.AppID, "tenant": d.Tenant, "role": d.Role, "assignmentScope": d.AssignmentScope, "status": strconv.Itoa(d.Status)} {
		if v != "" {
			e.Detail[k] = v
		}
	}
	return e
}

// Decisions returns the blob service's entries of the decision log,
// oldest first.
func (h *Handler) Decisions() []decisionlog.Entry {
	return h.decisions.Entries(decisionlog.Filter{Service: Service})
}

// ResetDecisions drops the blob service's entries of the decision log.
func (h *Handler) ResetDecisions() { h.decisions.Reset(decisionlog.Filter{Service: Service}) }

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/azureblob/"

// AdminHandler serves the test API under AdminPrefix, for the lab's
// control plane only (ServeHTTP never answers it):
//
//	DELETE decisions -> 204 (the blob service's entries of the decision log,
//	                  which the lab's GET /_idlab/decisions reads)
//	GET    accounts -> {account: {container: [blob names]}}
func (h *Handler) AdminHandler() http.Handler { return http.HandlerFunc(h.serveAdmin) }

func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch p := strings.TrimPrefix(r.URL.Path, AdminPrefix); {
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
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound", "message": "DELETE " + AdminPrefix + "decisions, GET " + AdminPrefix + "accounts"})
	}
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
