package entra

import (
	"strings"
	"time"

	"github.com/idlab/idlab/internal/decisionlog"
)

// ActionToken is the Action of Entra's decisions, a token request;
// Service is their Service.
const (
	ActionToken = "entra:token"
	Service     = "entra"
)

// decision is what a token request learns about its caller; the log keeps
// it as a decisionlog.Entry (entry).
type decision struct {
	Time          time.Time
	RequestID     string // Entra's trace ID
	CorrelationID string
	Tenant        string
	ClientID      string
	App           string
	Issuer        string
	Subject       string
	Audience      []string
	Resource      string
	// Credential names the federated credential that matched.
	Credential string
	Roles      []string
	Allowed    bool
	// Code is the AADSTS code of a denial ("AADSTS700213"), Error its OAuth
	// error and Reason the message.
	Code   string
	Error  string
	Reason string
	// NearMiss names the credential a refused assertion missed by a
	// trailing slash or letter case (matchCredential), for the log only.
	NearMiss string
}

// entry is d as the decision log keeps it: Cloud azure, Action
// entra:token, Principal the assertion's subject, the rest in Detail
// (tenant, clientId, app, issuer, credential, audience, roles,
// correlationId, error, nearMiss).
func (d decision) entry() decisionlog.Entry {
	e := decisionlog.Entry{Time: d.Time, Cloud: decisionlog.Azure, Service: Service, Principal: d.Subject, Action: ActionToken, Resource: d.Resource,
		Effect: decisionlog.Deny, Reason: d.Reason, RequestID: d.RequestID, Code: d.Code, Detail: map[string]string{}}
	if d.Allowed {
		e.Effect = decisionlog.Allow
	}
	for k, v := range map[string]string{"tenant": d.Tenant, "clientId": d.ClientID, "app": d.App, "issuer": d.Issuer,
		"credential": d.Credential, "audience": strings.Join(d.Audience, " "), "roles": strings.Join(d.Roles, " "),
		"correlationId": d.CorrelationID, "error": d.Error, "nearMiss": d.NearMiss} {
		if v != "" {
			e.Detail[k] = v
		}
	}
	return e
}

// Decisions returns Entra's entries of the decision log, oldest first.
func (h *Handler) Decisions() []decisionlog.Entry {
	return h.decisions.Entries(decisionlog.Filter{Service: Service})
}

// ResetDecisions drops Entra's entries of the decision log.
func (h *Handler) ResetDecisions() {
	h.decisions.Reset(decisionlog.Filter{Service: Service})
}
