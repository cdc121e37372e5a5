package awsiam

// This file is the contract other emulators (awssts, awss3, awssns, eksauth)
// code against. Implementations live in the other files of this package.

import (
	"time"
)

// PrincipalType says what kind of identity made a request.
type PrincipalType string

// Principal types, named as aws:PrincipalType reports them.
const (
	PrincipalAccount     PrincipalType = "Account"         // account root user
	PrincipalUser        PrincipalType = "User"            // IAM user with long-term keys
	PrincipalAssumedRole PrincipalType = "AssumedRole"     // role session from STS
	PrincipalWebIdentity PrincipalType = "WebIdentityUser" // federated caller of AssumeRoleWithWebIdentity (not yet a session)
	PrincipalService     PrincipalType = "Service"         // AWS service principal, e.g. pods.eks.amazonaws.com
	PrincipalAnonymous   PrincipalType = "Anonymous"
)

// Principal is the identity a request is evaluated for.
type Principal struct {
	Type    PrincipalType
	Account string // 12-digit account ID of the identity
	// ARN is the caller ARN as GetCallerIdentity reports it, e.g.
	// arn:aws:sts::111122223333:assumed-role/app/session or
	// arn:aws:iam::111122223333:user/alice. For PrincipalWebIdentity it is the
	// OIDC provider ARN (arn:aws:iam::ACCT:oidc-provider/HOST/PATH); for
	// PrincipalService the service name (pods.eks.amazonaws.com).
	ARN string
	// UserID is aws:userid: AIDA... for users, AROA...:session for role sessions.
	UserID string
	// RoleARN is the IAM role ARN (arn:aws:iam::ACCT:role/PATH/NAME) behind an
	// assumed-role session; policy Principal elements name this ARN.
	RoleARN     string
	SessionName string
	// SessionPolicy is the inline session policy passed to AssumeRole*, if any.
	SessionPolicy *Policy
	// SessionPolicyARNs are managed policies passed as session policies.
	SessionPolicyARNs []string
	// Tags are principal/session tags (aws:PrincipalTag/KEY).
	Tags map[string]string
	// SourceIdentity is sts:SourceIdentity carried by the session.
	SourceIdentity string
	// Chained reports that the session was made by AssumeRole from another
	// role session (role chaining, capped at one hour).
	Chained bool
	// FederatedProvider is the provider (issuer host/path or accounts.google.com)
	// for web-identity sessions; empty otherwise.
	FederatedProvider string
}

// Credentials are AWS access keys; SessionToken is empty for long-term keys.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time // zero for long-term keys
}

// Session is a set of temporary credentials and the principal they act as.
type Session struct {
	Credentials Credentials
	Principal   Principal
	IssuedAt    time.Time
}

// SessionSpec asks IssueSession for temporary credentials.
type SessionSpec struct {
	Principal Principal
	Duration  time.Duration
}

// Effect is the outcome of an evaluation, as decisionlog.Entry.Effect spells it.
type Effect = string

// Evaluation outcomes.
const (
	Allow        Effect = "Allow"
	ExplicitDeny Effect = "ExplicitDeny"
	ImplicitDeny Effect = "ImplicitDeny"
	// Rejected: refused before any policy was evaluated, because the
	// caller's token or signature did not verify or the resource does not
	// exist. Recorded so the decision log accounts for every refusal, not
	// only the policy ones.
	Rejected Effect = "Rejected"
)

// Request is one authorization question: may Principal do Action on Resource?
type Request struct {
	Principal Principal
	Action    string // service:Operation, e.g. "s3:GetObject", "sts:AssumeRoleWithWebIdentity"
	Resource  string // ARN of the resource
	// ResourceAccount owns the resource; empty means the principal's account.
	ResourceAccount string
	// ResourcePolicy is the resource-based policy (bucket policy, role trust
	// policy, topic policy), or nil.
	ResourcePolicy *Policy
	// ResourcePolicyName labels the resource policy in the decision log.
	ResourcePolicyName string
	// Context holds request condition keys (lower/upper case as AWS spells
	// them; lookups are case-insensitive) beyond the global keys Authorize
	// derives from the principal and the clock.
	Context map[string][]string
	// RequestID ties the decision to the wire request.
	RequestID string
}

// MatchedStatement names a statement that decided (or contributed to) a result.
type MatchedStatement struct {
	Policy string `json:"policy"` // policy name or ARN, e.g. "role/app-a inline read-bucket" or "trust policy of arn:..."
	Sid    string `json:"sid,omitempty"`
	Index  int    `json:"index"` // 0-based statement index within the policy
	Effect string `json:"effect"`
}

// Decision is one recorded authorization result.
type Decision struct {
	// ID is the Seq of its entry in the decision log, in decimal.
	ID        string             `json:"id"`
	Time      time.Time          `json:"time"`
	RequestID string             `json:"requestId,omitempty"`
	Effect    Effect             `json:"effect"`
	Principal string             `json:"principal"`
	Action    string             `json:"action"`
	Resource  string             `json:"resource"`
	Matched   []MatchedStatement `json:"matched,omitempty"`
	// Reason is one sentence in words, e.g. "no statement in the trust policy
	// of arn:aws:iam::111122223333:role/app-a allows it: condition
	// StringEquals oidc.eks...:sub wants system:serviceaccount:a:app, got system:serviceaccount:b:app".
	Reason string `json:"reason"`
	// Keys are the condition keys the request brought (a web identity
	// token's PROVIDER:sub and :aud ...), without the global keys IAM
	// derives itself: what `idlab explain` shows the request carried.
	Keys map[string][]string `json:"keys,omitempty"`
	// Near is the statement that would have allowed an implicitly denied
	// request but for a condition, the one Reason names.
	Near *NearMiss `json:"near,omitempty"`
}

// NearMiss is a statement that matched a request's action, resource and
// principal but not one of its conditions.
type NearMiss struct {
	Statement MatchedStatement `json:"statement"`
	// Condition says which condition failed and why, in words.
	Condition string `json:"condition"`
}

// Allowed reports whether the decision allows the request.
func (d Decision) Allowed() bool { return d.Effect == Allow }
