package entra

import (
	"time"
)

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

// Decisions returns every recorded decision, oldest first.
func (h *Handler) Decisions() []Decision { return h.decisions.All() }

// ResetDecisions empties the decision log.
func (h *Handler) ResetDecisions() { h.decisions.Reset() }
