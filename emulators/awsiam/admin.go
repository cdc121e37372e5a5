package awsiam

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/iam/"

// AdminHandler serves the test-facing API under /_idlab/iam/:
//
//	DELETE decisions   (the AWS entries of the decision log; the lab's
//	                    GET /_idlab/decisions reads them)
//	POST   users/{account}/{name}/access-keys
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
