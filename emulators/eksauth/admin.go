package eksauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/eks-auth/"

// maxAdminBody bounds an admin request body.
const maxAdminBody = 64 << 10

// AdminHandler serves the test API under /_idlab/eks-auth/, for the lab's
// control plane only (ServeHTTP never answers it). It stands in for the
// EKS API's pod identity association calls, which the lab does not serve:
//
//	GET    clusters               -> [Cluster...]
//	GET    associations           -> [Association...], in the order added
//	POST   associations           Association -> 201 Association (ID, ARN
//	                              and external ID filled in); 400 invalid,
//	                              404 no such cluster, 409 the service
//	                              account has one already
//	DELETE associations/{id}      -> 204; 404 unknown
//
// Adding an association here changes what EKS Auth answers at once; what
// the cluster's pod identity webhook injects follows its own
// identities file, which the lab writes apart (harness).
func (h *Handler) AdminHandler() http.Handler { return http.HandlerFunc(h.serveAdmin) }

func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	id, isOne := strings.CutPrefix(p, "associations/")
	switch {
	case p == "clusters" && r.Method == http.MethodGet:
		adminJSON(w, http.StatusOK, h.Clusters())
	case p == "associations" && r.Method == http.MethodGet:
		out := h.Associations()
		if out == nil {
			out = []Association{}
		}
		adminJSON(w, http.StatusOK, out)
	case p == "associations" && r.Method == http.MethodPost:
		var a Association
		dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			adminError(w, http.StatusBadRequest, "InvalidRequest", err)
			return
		}
		added, err := h.AddAssociation(a)
		if err != nil {
			adminError(w, adminStatus(err), "InvalidAssociation", err)
			return
		}
		adminJSON(w, http.StatusCreated, added)
	case isOne && id != "" && !strings.Contains(id, "/") && r.Method == http.MethodDelete:
		if _, err := h.RemoveAssociation(id); err != nil {
			adminError(w, adminStatus(err), "InvalidAssociation", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound",
			"message": "GET " + AdminPrefix + "clusters, GET/POST " + AdminPrefix + "associations, DELETE " + AdminPrefix + "associations/{id}"})
	}
}

// adminStatus maps the store's sentinel errors to HTTP statuses.
func adminStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func adminError(w http.ResponseWriter, status int, code string, err error) {
	adminJSON(w, status, map[string]string{"error": code, "message": err.Error()})
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
