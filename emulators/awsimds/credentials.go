package awsimds

import (
	"fmt"
	"net/http"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
)

// Instance profile sessions: AWS issues them for about six hours and offers
// new ones ahead of expiry; the model refreshes when 15 minutes remain.
const (
	sessionDuration = 6 * time.Hour
	refreshBefore   = 15 * time.Minute
)

type iamInfo struct {
	Code               string `json:"Code"`
	Message            string `json:"Message,omitempty"`
	LastUpdated        string `json:"LastUpdated"`
	InstanceProfileArn string `json:"InstanceProfileArn,omitempty"`
	InstanceProfileID  string `json:"InstanceProfileId,omitempty"`
}

type securityCredentials struct {
	Code            string `json:"Code"`
	Message         string `json:"Message,omitempty"`
	LastUpdated     string `json:"LastUpdated"`
	Type            string `json:"Type,omitempty"`
	AccessKeyID     string `json:"AccessKeyId,omitempty"`
	SecretAccessKey string `json:"SecretAccessKey,omitempty"`
	Token           string `json:"Token,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

func (h *Handler) serveIAMInfo(w http.ResponseWriter, r *http.Request) {
	_, err := h.credentials(r)
	now := h.now().UTC().Format(timeFormat)
	if err != nil {
		h.writeJSON(w, iamInfo{Code: codeUnassumable, Message: err.Error(), LastUpdated: now})
		return
	}
	h.writeJSON(w, iamInfo{Code: codeSuccess, LastUpdated: now,
		InstanceProfileArn: "arn:aws:iam::" + h.opt.Account + ":instance-profile/" + h.role, InstanceProfileID: h.instanceProfileID()})
}

func (h *Handler) serveCredentials(w http.ResponseWriter, r *http.Request) {
	s, err := h.credentials(r)
	if err != nil {
		h.writeJSON(w, securityCredentials{Code: codeUnassumable, Message: err.Error(), LastUpdated: h.now().UTC().Format(timeFormat)})
		return
	}
	h.mu.Lock()
	issued := h.issued
	h.mu.Unlock()
	c := s.Credentials
	h.writeJSON(w, securityCredentials{Code: codeSuccess, LastUpdated: issued.UTC().Format(timeFormat), Type: credentialType,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		Expiration: c.Expiration.UTC().Format(timeFormat)})
}

// credentials returns the cached instance profile session, or asks IAM
// whether ec2.amazonaws.com may assume the role and issues a new one.
func (h *Handler) credentials(r *http.Request) (*awsiam.Session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if h.session != nil && now.Add(refreshBefore).Before(h.session.Credentials.Expiration) {
		return h.session, nil
	}
	unassumable := fmt.Errorf("EC2 cannot assume the role %s.  Please see documentation at https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html#roles-usingrole-ec2instance-permissions.", h.role)
	role, err := h.opt.IAM.Role(h.opt.RoleARN)
	if err != nil {
		h.log.Info("imds deny", "decision", "Deny", "principal", ec2Service, "action", "sts:AssumeRole", "resource", h.opt.RoleARN, "reason", "role does not exist")
		return nil, unassumable
	}
	d := h.opt.IAM.Authorize(r.Context(), awsiam.Request{
		Principal: awsiam.Principal{Type: awsiam.PrincipalService, ARN: ec2Service}, Action: "sts:AssumeRole",
		Resource: role.ARN, ResourceAccount: role.Account, ResourcePolicy: role.TrustPolicy,
		ResourcePolicyName: "trust policy of " + role.ARN, RequestID: "imds-" + h.opt.InstanceID,
	})
	if !d.Allowed() {
		return nil, unassumable
	}
	session := h.opt.InstanceID
	s, err := h.opt.IAM.IssueSession(awsiam.SessionSpec{Duration: sessionDuration, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: role.Account, RoleARN: role.ARN, SessionName: session,
		ARN:    "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session,
		UserID: role.RoleID + ":" + session,
	}})
	if err != nil {
		return nil, fmt.Errorf("issue instance profile session for %s: %w", role.ARN, err)
	}
	h.session, h.issued = s, now
	h.log.Info("imds credentials issued", "role", role.ARN, "instance", h.opt.InstanceID,
		"access_key_id", s.Credentials.AccessKeyID, "expiration", s.Credentials.Expiration.UTC().Format(timeFormat))
	return s, nil
}
