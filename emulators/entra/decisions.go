package entra

import (
	"sync"
	"time"
)

// maxDecisions bounds the decision log; the oldest entries go first.
const maxDecisions = 10000

// Decision is the outcome of one token request.
type Decision struct {
	Time          time.Time `json:"time"`
	RequestID     string    `json:"requestId"` // Entra's trace ID
	CorrelationID string    `json:"correlationId"`
	Tenant        string    `json:"tenant"`
	ClientID      string    `json:"clientId,omitempty"`
	App           string    `json:"app,omitempty"`
	Issuer        string    `json:"issuer,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	Audience      []string  `json:"audience,omitempty"`
	Resource      string    `json:"resource,omitempty"`
	// Credential names the federated credential that matched.
	Credential string   `json:"credential,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	Allowed    bool     `json:"allowed"`
	// Code is the AADSTS code of a denial ("AADSTS700213"), Error its OAuth
	// error and Reason the message.
	Code   string `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason"`
}

type decisionLog struct {
	mu  sync.Mutex
	all []Decision
}

func (l *decisionLog) add(d Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) >= maxDecisions {
		l.all = append(l.all[:0:0], l.all[len(l.all)-maxDecisions+1:]...)
	}
	l.all = append(l.all, d)
}

// Decisions returns every recorded decision, oldest first.
func (h *Handler) Decisions() []Decision {
	h.decisions.mu.Lock()
	defer h.decisions.mu.Unlock()
	return append([]Decision(nil), h.decisions.all...)
}

// ResetDecisions empties the decision log.
func (h *Handler) ResetDecisions() {
	h.decisions.mu.Lock()
	h.decisions.all = nil
	h.decisions.mu.Unlock()
}
