package awsimds

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// AdminHandler serves the instance's metadata options, for the lab's
// control plane only (ServeHTTP never answers it), at whatever path it is
// mounted: GET reads them, POST ?hop-limit=N&http-tokens=required|optional
// changes them as EC2's ModifyInstanceMetadataOptions does; both answer
// the options as JSON.
func (h *Handler) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			o, err := parseMetadataOptions(h.MetadataOptions(), r)
			if err == nil {
				err = h.SetMetadataOptions(o)
			}
			if err != nil {
				adminJSON(w, http.StatusBadRequest, map[string]string{"error": "InvalidParameterValue", "message": err.Error()})
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			adminJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed"})
			return
		}
		adminJSON(w, http.StatusOK, h.MetadataOptions())
	})
}

// parseMetadataOptions applies hop-limit= and http-tokens= to cur.
func parseMetadataOptions(cur MetadataOptions, r *http.Request) (MetadataOptions, error) {
	q := r.URL.Query()
	if s := q.Get("hop-limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return cur, fmt.Errorf("hop-limit %q: want an integer", s)
		}
		cur.HopLimit = n
	}
	switch s := q.Get("http-tokens"); s {
	case "":
	case "required":
		cur.RequireV2 = true
	case "optional":
		cur.RequireV2 = false
	default:
		return cur, fmt.Errorf("http-tokens %q: want required or optional", s)
	}
	return cur, nil
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
