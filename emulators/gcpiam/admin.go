package gcpiam

import (
	"encoding/json"
	"net/http"
	"strings"
)

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/google/"

// AdminHandler serves the test API under AdminPrefix, for the lab's
// control plane only (ServeHTTP never answers it):
//
//	DELETE decisions -> 204 (Google's entries of the decision log, which
//	                  the lab's GET /_idlab/decisions reads)
func (h *Handler) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := strings.TrimPrefix(r.URL.Path, AdminPrefix); p == "decisions" && r.Method == http.MethodDelete {
			h.ResetDecisions()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "NotFound", "message": "DELETE " + AdminPrefix + "decisions"})
	})
}
