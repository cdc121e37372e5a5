package gcpiam

import (
	"context"
	"net/http"
	"strings"
)

func contextBackground() context.Context { return context.Background() }

// serveIAM answers the one IAM API call the lab's clients make:
// GET /v1/projects/P/serviceAccounts/EMAIL_OR_ID (iam.serviceAccounts.get).
func (h *Handler) serveIAM(w http.ResponseWriter, r *http.Request, reqID string) {
	const method = "google.iam.admin.v1.IAM.GetServiceAccount"
	name := strings.TrimPrefix(r.URL.Path, "/v1/")
	m := saResourceRe.FindStringSubmatch(name)
	if m == nil || r.Method != http.MethodGet {
		writeAPIError(w, apiNotFound("The requested URL "+r.URL.Path+" was not found on this server."))
		return
	}
	caller, aerr := h.authenticate(r, HostIAM, method)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	sa, err := h.ServiceAccount(m[2])
	if err != nil {
		writeAPIError(w, apiNotFound("Unknown service account"))
		return
	}
	res := "projects/" + sa.Project + "/serviceAccounts/" + sa.Email
	if !h.CheckPermission(res, caller.Members, "iam.serviceAccounts.get") {
		h.log.Info("denied", "request_id", reqID, "principal", caller.Member(), "resource", res)
		writeAPIError(w, apiPermissionDenied("iam.serviceAccounts.get", res))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"name":           res,
		"projectId":      sa.Project,
		"uniqueId":       sa.UniqueID,
		"email":          sa.Email,
		"displayName":    sa.DisplayName,
		"etag":           "MDEwMjE5MjA=",
		"oauth2ClientId": sa.UniqueID,
	})
}
