package awssns

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/sns/"

// topicJSON is a topic as the admin API lists it.
type topicJSON struct {
	ARN           string             `json:"arn"`
	Account       string             `json:"account"`
	Region        string             `json:"region"`
	Name          string             `json:"name"`
	Attributes    map[string]string  `json:"attributes,omitempty"`
	Policy        json.RawMessage    `json:"policy"`
	Subscriptions []subscriptionJSON `json:"subscriptions"`
}

type subscriptionJSON struct {
	ARN        string            `json:"arn"`
	Protocol   string            `json:"protocol"`
	Endpoint   string            `json:"endpoint"`
	Owner      string            `json:"owner"`
	Confirmed  bool              `json:"confirmed"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// QueueMessages returns what the emulated queue ACCOUNT/QUEUE received
// from sqs subscriptions, oldest first.
func (h *Handler) QueueMessages(account, queue string) []QueueMessage {
	var out []QueueMessage
	h.store.view(func(st *state) { out = slices.Clone(st.Queues[queueKey(account, queue)]) })
	return out
}

// AdminHandler serves the test-facing API under /_idlab/sns/, for the
// lab's control plane only (ServeHTTP never answers it):
//
//	GET    topics                    topics with their subscriptions
//	GET    queues/{account}/{queue}  messages the queue received
//	DELETE queues/{account}/{queue}  purges the queue
func (h *Handler) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, AdminPrefix)
		parts := strings.Split(p, "/")
		switch {
		case p == "topics" && r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, h.topicsJSON())
		case len(parts) == 3 && parts[0] == "queues" && accountRe.MatchString(parts[1]) && parts[2] != "":
			switch r.Method {
			case http.MethodGet:
				msgs := h.QueueMessages(parts[1], parts[2])
				if msgs == nil {
					msgs = []QueueMessage{}
				}
				writeJSON(w, http.StatusOK, msgs)
			case http.MethodDelete:
				err := h.store.update(func(st *state) error {
					delete(st.Queues, queueKey(parts[1], parts[2]))
					return nil
				})
				if err != nil {
					writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "InternalError", "message": err.Error()})
					return
				}
				w.WriteHeader(http.StatusNoContent)
			default:
				writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed", "message": "GET or DELETE"})
			}
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound",
				"message": "GET " + AdminPrefix + "topics, GET or DELETE " + AdminPrefix + "queues/{account}/{queue}"})
		}
	})
}

func (h *Handler) topicsJSON() []topicJSON {
	out := []topicJSON{}
	h.store.view(func(st *state) {
		for _, t := range st.sortedTopics() {
			tj := topicJSON{ARN: t.ARN, Account: t.Account, Region: t.Region, Name: t.Name, Attributes: maps.Clone(t.Attributes),
				Policy: compactJSON(t.Policy.Raw), Subscriptions: []subscriptionJSON{}}
			for _, s := range st.sortedSubscriptions(t.ARN) {
				tj.Subscriptions = append(tj.Subscriptions, subscriptionJSON{ARN: s.ARN, Protocol: s.Protocol, Endpoint: s.Endpoint,
					Owner: s.Owner, Confirmed: s.Confirmed, Attributes: maps.Clone(s.Attributes)})
			}
			out = append(out, tj)
		}
	})
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
