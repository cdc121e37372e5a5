package entra

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// AdminHandler serves the test API under /_idlab/entra/, for the lab's
// control plane only (it registers apps, so workloads never reach it):
//
//	DELETE decisions -> 204 (Entra's entries of the decision log, which the
//	                  lab's GET /_idlab/decisions reads)
//	GET    apps      -> [App...]
//	POST   apps      App -> 201 App (normalized)
func (h *Handler) AdminHandler() http.Handler { return http.HandlerFunc(h.serveAdmin) }

func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request) {
	ids := requestIDs{}
	switch p := strings.TrimPrefix(r.URL.Path, AdminPrefix); {
	case p == "decisions" && r.Method == http.MethodDelete:
		h.ResetDecisions()
		w.WriteHeader(http.StatusNoContent)
	case p == "apps" && r.Method == http.MethodGet:
		a := h.Apps()
		if a == nil {
			a = []App{}
		}
		writeJSON(w, http.StatusOK, ids, a)
	case p == "apps" && r.Method == http.MethodPost:
		var app App
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&app); err != nil {
			writeJSON(w, http.StatusBadRequest, ids, map[string]string{"error": "InvalidRequest", "message": err.Error()})
			return
		}
		if err := h.AddApp(app); err != nil {
			writeJSON(w, http.StatusBadRequest, ids, map[string]string{"error": "InvalidApp", "message": err.Error()})
			return
		}
		norm, _ := app.normalize()
		writeJSON(w, http.StatusCreated, ids, norm)
	default:
		writeJSON(w, http.StatusNotFound, ids, map[string]string{"error": "NotFound", "message": "DELETE " + AdminPrefix + "decisions, GET/POST " + AdminPrefix + "apps"})
	}
}
