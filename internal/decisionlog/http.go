package decisionlog

import (
	"encoding/json"
	"net/http"
)

// Handler serves the log to the lab's admin API: GET with ParseQuery's
// parameters answers the selected entries as a JSON array, oldest first; a
// bad query is 400 with {"error":"InvalidParameter","message":...}.
func Handler(l *Log) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed", "message": "GET the decisions"})
			return
		}
		f, err := ParseQuery(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "InvalidParameter", "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, l.Entries(f))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
