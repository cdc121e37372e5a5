package eksauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/sigv4"
)

// Session lengths. AWS does not document them for EKS Auth; the model
// follows EC2 instance profiles: service-issued sessions last six hours
// whatever the role's MaxSessionDuration, and the chained session into a
// target role is capped at one hour like every role chain.
const (
	sessionDuration = 6 * time.Hour
	chainDuration   = time.Hour
)

// Session tag keys EKS Pod Identity sets (EKS User Guide, "List of session
// tags added by EKS Pod Identity"). All are transitive.
const (
	TagClusterARN     = "eks-cluster-arn"
	TagClusterName    = "eks-cluster-name"
	TagNamespace      = "kubernetes-namespace"
	TagServiceAccount = "kubernetes-service-account"
	TagPodName        = "kubernetes-pod-name"
	TagPodUID         = "kubernetes-pod-uid"
)

var tagOrder = []string{TagClusterARN, TagClusterName, TagNamespace, TagServiceAccount, TagPodName, TagPodUID}

// assumeRoleForPodIdentity runs the six steps of the package doc.
func (h *Handler) assumeRoleForPodIdentity(r *http.Request, body []byte, in Request, reqID string) (*Response, error) {
	ctx := r.Context()
	res, err := awsauth.Authenticate(r, h.iam, "eks-auth", h.now(), sigv4.Options{Body: body})
	if err != nil {
		return nil, authError(err)
	}
	caller := res.Principal

	c, known := h.cluster(in.ClusterName)
	if !known {
		// The ARN the caller asks about: its own account, this region.
		c = Cluster{Name: in.ClusterName, Account: caller.Account, Region: h.region}
	}
	d := h.iam.Authorize(ctx, awsiam.Request{Principal: caller, Action: Action, Resource: c.ARN(), ResourceAccount: c.Account, RequestID: reqID})
	if !d.Allowed() {
		return nil, apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s", caller.ARN, Action, c.ARN())
	}
	if !known {
		return h.deny(ctx, apiErr(CodeResourceNotFound, "No cluster found for name: %s.", in.ClusterName), caller, c.ARN(), reqID)
	}

	sa, err := h.verifyToken(ctx, c, in.Token)
	if err != nil {
		return h.deny(ctx, err, caller, c.ARN(), reqID)
	}
	a, ok := h.association(c.Name, sa.Namespace, sa.ServiceAccount)
	if !ok {
		return h.deny(ctx, apiErr(CodeResourceNotFound, "No Pod Identity Association found for service account %s in namespace %s of cluster %s.",
			sa.ServiceAccount, sa.Namespace, c.Name), caller, c.ARN(), reqID)
	}

	var tags map[string]string
	if !a.DisableSessionTags {
		tags = map[string]string{
			TagClusterARN: c.ARN(), TagClusterName: c.Name, TagNamespace: sa.Namespace,
			TagServiceAccount: sa.ServiceAccount, TagPodName: sa.PodName, TagPodUID: sa.PodUID,
		}
	}
	session, err := h.sessionName(c.Name, sa.PodName)
	if err != nil {
		return nil, err
	}
	s, err := h.assumeAsService(ctx, a.RoleARN, session, tags, reqID)
	if err != nil {
		return h.deny(ctx, err, awsiam.Principal{ARN: ServicePrincipal}, a.RoleARN, reqID)
	}
	if a.TargetRoleARN != "" {
		if s, err = h.chain(ctx, s, a, session, tags, reqID); err != nil {
			return h.deny(ctx, err, s.Principal, a.TargetRoleARN, reqID)
		}
	}
	h.log.Info("eks-auth allow", "decision", "Allow", "principal", caller.ARN, "action", Action, "resource", c.ARN(),
		"reason", fmt.Sprintf("association %s maps %s/%s to %s", a.ID, sa.Namespace, sa.ServiceAccount, s.Principal.ARN), "request_id", reqID)
	return &Response{
		Subject:                Subject{Namespace: sa.Namespace, ServiceAccount: sa.ServiceAccount},
		Audience:               Audience,
		PodIdentityAssociation: PodIdentityAssociation{AssociationARN: a.ARN, AssociationID: a.ID},
		AssumedRoleUser:        AssumedRoleUser{ARN: s.Principal.ARN, AssumeRoleID: s.Principal.UserID},
		Credentials: Credentials{AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey,
			SessionToken: s.Credentials.SessionToken, Expiration: s.Credentials.Expiration.Unix()},
	}, nil
}

// deny logs a refusal and returns err. Refusals no policy decided (no
// association, a bad token, a missing role) also go into IAM's decision
// log as rejections, so scenarios find every refusal there; the
// AccessDenied ones a policy decided are in it already.
func (h *Handler) deny(ctx context.Context, err error, who awsiam.Principal, resource, reqID string) (*Response, error) {
	var ae *APIError
	code, msg := "InternalError", err.Error()
	if errors.As(err, &ae) {
		code, msg = ae.Code, ae.Message
	}
	h.log.Log(ctx, slog.LevelInfo, "eks-auth deny", "decision", "Deny", "code", code, "principal", who.ARN, "action", Action,
		"resource", resource, "reason", err.Error(), "request_id", reqID)
	if code != CodeAccessDenied || strings.Contains(msg, "the role does not exist") {
		h.iam.RecordRejection(ctx, who.ARN, Action, resource, code, msg, reqID)
	}
	return nil, err
}

// sessionName is eks-CLUSTER-POD-UUID as the API reference describes it.
// RoleSessionName allows 64 characters; the model keeps the whole UUID and
// shortens "eks-CLUSTER-POD" to fit (AWS's exact truncation is not
// documented).
func (h *Handler) sessionName(cluster, pod string) (string, error) {
	u, err := newUUID()
	if err != nil {
		return "", err
	}
	prefix := "eks-" + cluster + "-" + pod
	if max := 64 - 1 - len(u); len(prefix) > max {
		prefix = prefix[:max]
	}
	return prefix + "-" + u, nil
}

// assumeAsService is AssumeRole by pods.eks.amazonaws.com: the role's trust
// policy alone decides, seeing the session tags as aws:RequestTag/*.
func (h *Handler) assumeAsService(ctx context.Context, roleARN, session string, tags map[string]string, reqID string) (*awsiam.Session, error) {
	role, err := h.iam.Role(roleARN)
	if err != nil {
		return nil, apiErr(CodeAccessDenied, "EKS Pod Identity cannot assume role %s: the role does not exist.", roleARN)
	}
	svc := awsiam.Principal{Type: awsiam.PrincipalService, ARN: ServicePrincipal}
	cond := tagContext(tags)
	for _, action := range assumeActions(tags) {
		d := h.iam.Authorize(ctx, awsiam.Request{Principal: svc, Action: action, Resource: role.ARN, ResourceAccount: role.Account,
			ResourcePolicy: role.TrustPolicy, ResourcePolicyName: "trust policy of " + role.ARN, Context: cond, RequestID: reqID})
		if !d.Allowed() {
			return nil, apiErr(CodeAccessDenied, "EKS Pod Identity cannot assume role %s: its trust policy does not allow %s to perform %s.", role.ARN, ServicePrincipal, action)
		}
	}
	return h.issue(role, session, tags, false, sessionDuration)
}

// chain assumes the association's target role with the first session, as
// EKS does for cross-account associations: the target's trust policy must
// allow the first role with sts:ExternalId, and the first role's identity
// policies must allow sts:AssumeRole on the target.
func (h *Handler) chain(ctx context.Context, first *awsiam.Session, a Association, session string, tags map[string]string, reqID string) (*awsiam.Session, error) {
	denied := func(action string) error {
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s", first.Principal.ARN, action, a.TargetRoleARN)
	}
	target, err := h.iam.Role(a.TargetRoleARN)
	if err != nil {
		return first, denied("sts:AssumeRole")
	}
	cond := tagContext(tags)
	cond["sts:ExternalId"] = []string{a.ExternalID}
	trustName := "trust policy of " + target.ARN
	for _, action := range assumeActions(tags) {
		d := h.iam.Authorize(ctx, awsiam.Request{Principal: first.Principal, Action: action, Resource: target.ARN, ResourceAccount: target.Account,
			ResourcePolicy: target.TrustPolicy, ResourcePolicyName: trustName, Context: cond, RequestID: reqID})
		// Same rule as awssts: a trust policy statement must be among those
		// that allowed, even within one account.
		if !d.Allowed() || !slices.ContainsFunc(d.Matched, func(m awsiam.MatchedStatement) bool { return m.Policy == trustName }) {
			return first, denied(action)
		}
	}
	return h.issue(target, session, tags, true, chainDuration)
}

func assumeActions(tags map[string]string) []string {
	if len(tags) == 0 {
		return []string{"sts:AssumeRole"}
	}
	return []string{"sts:AssumeRole", "sts:TagSession"}
}

// tagContext is what a trust policy sees of the session tags.
func tagContext(tags map[string]string) map[string][]string {
	cond := map[string][]string{}
	if len(tags) == 0 {
		return cond
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return slices.Index(tagOrder, keys[i]) < slices.Index(tagOrder, keys[j]) })
	for _, k := range keys {
		cond["aws:RequestTag/"+k] = []string{tags[k]}
	}
	cond["aws:TagKeys"] = keys
	cond["sts:TransitiveTagKeys"] = keys
	return cond
}

func (h *Handler) issue(role *awsiam.Role, session string, tags map[string]string, chained bool, d time.Duration) (*awsiam.Session, error) {
	p := awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: role.Account, RoleARN: role.ARN, SessionName: session,
		ARN:    "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session,
		UserID: role.RoleID + ":" + session, Tags: tags, Chained: chained,
	}
	s, err := h.iam.IssueSession(awsiam.SessionSpec{Principal: p, Duration: d})
	if err != nil {
		return nil, fmt.Errorf("issue session for %s: %w", role.ARN, err)
	}
	return s, nil
}
