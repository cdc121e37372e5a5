package gcpiam

import (
	"net/http"
	"strconv"
	"strings"
)

// serveTokenInfo answers GET (or POST) /tokeninfo?access_token=T as
// oauth2.googleapis.com does: azp, aud, sub (the unique ID), scope, exp and
// expires_in as strings, email and email_verified for service accounts.
func (h *Handler) serveTokenInfo(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("access_token")
	if tok == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			tok = strings.TrimPrefix(a, "Bearer ")
		}
	}
	info, err := h.VerifyAccessToken(tok)
	if tok == "" || err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "Invalid Value"})
		return
	}
	secs := int64(info.Expiry.Sub(h.now()).Seconds())
	out := map[string]string{
		"scope":       strings.Join(info.Scopes, " "),
		"exp":         strconv.FormatInt(info.Expiry.Unix(), 10),
		"expires_in":  strconv.FormatInt(secs, 10),
		"access_type": "online",
	}
	if info.Federated {
		out["sub"] = info.Subject
	} else {
		out["azp"], out["aud"], out["sub"] = info.UniqueID, info.UniqueID, info.UniqueID
		out["email"], out["email_verified"] = info.Email, "true"
	}
	writeJSON(w, http.StatusOK, out)
}
