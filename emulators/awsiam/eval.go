package awsiam

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// evalContext holds request condition keys, looked up case-insensitively.
// They are gathered at the first lookup: most statements have no condition
// and no policy variable, and most requests then need none.
type evalContext struct {
	build func() map[string][]string
	keys  map[string][]string // lower-cased key -> values, once built
}

func newEvalContext(build func() map[string][]string) *evalContext {
	return &evalContext{build: build}
}

func (c *evalContext) lookup(key string) ([]string, bool) {
	if c.keys == nil {
		m := c.build()
		c.keys = make(map[string][]string, len(m))
		for k, v := range m {
			c.keys[strings.ToLower(k)] = v
		}
	}
	v, ok := c.keys[strings.ToLower(key)]
	return v, ok
}

// NamedPolicy is a policy with the label decisions cite.
type NamedPolicy struct {
	Name   string
	Policy *Policy
}

// EvalInput is everything one evaluation needs, with the policies already
// gathered. Authorize builds it; tests call Evaluate directly.
type EvalInput struct {
	Request Request
	// Identity policies of the principal. IdentityIsRoot allows everything
	// in the principal's own account (the root user).
	Identity       []NamedPolicy
	IdentityIsRoot bool
	// Session policies narrow the identity policies when HasSession is set.
	Session    []NamedPolicy
	HasSession bool
	// CrossAccount: the resource belongs to another account than the
	// principal; both identity and resource policy must allow.
	CrossAccount bool
	// ResourceOnly: the caller has no identity policies of its own (web
	// identity, service, anonymous); the resource policy alone decides.
	ResourceOnly bool
	// ResourceRequired: the resource policy must allow whatever the identity
	// policies say, as a role's trust policy must for every AssumeRole.
	ResourceRequired bool
	// context, when set, makes Request.Context when a condition or policy
	// variable first needs it (Authorize adds the global keys there).
	context func() map[string][]string
}

// principalMatch says how a resource-policy statement named the caller.
type principalMatch int

const (
	noMatch      principalMatch = iota
	matchAccount                // the caller's account (root or ID): delegation to identity policies
	matchRole                   // the IAM role (or user) ARN behind the caller
	matchSession                // the exact session ARN, a wildcard, or a federated/service principal
)

// stmtOutcome is how one statement related to the request.
type stmtOutcome struct {
	applies bool   // action, resource, principal and conditions all match
	near    bool   // action/resource/principal match but a condition failed
	reason  string // the failed condition, for near misses
	pm      principalMatch
}

// Evaluate runs IAM's evaluation logic: an explicit deny in any policy wins,
// then an allow (identity within session policies, or resource policy, or
// both across accounts), else implicit deny.
func Evaluate(in EvalInput) Decision {
	req := in.Request
	build := in.context
	if build == nil {
		build = func() map[string][]string { return req.Context }
	}
	ctx := newEvalContext(build)
	d := Decision{RequestID: req.RequestID, Principal: principalLabel(req.Principal), Action: req.Action, Resource: req.Resource}

	scan := func(ps []NamedPolicy, isResource bool) (allows, denies, near []hit) {
		for _, np := range ps {
			if np.Policy == nil {
				continue
			}
			for i, s := range np.Policy.Statements {
				o := matchStatement(s, req, ctx, np.Policy.Version != "2008-10-17", isResource)
				ms := MatchedStatement{Policy: np.Name, Sid: s.Sid, Index: i, Effect: s.Effect}
				switch {
				case o.applies && s.Effect == "Deny":
					denies = append(denies, hit{ms, o})
				case o.applies:
					allows = append(allows, hit{ms, o})
				case o.near:
					near = append(near, hit{ms, o})
				}
			}
		}
		return
	}
	var resPolicies []NamedPolicy
	if req.ResourcePolicy != nil {
		name := req.ResourcePolicyName
		if name == "" {
			name = "resource policy of " + req.Resource
		}
		resPolicies = []NamedPolicy{{Name: name, Policy: req.ResourcePolicy}}
	}
	idAllow, idDeny, idNear := scan(in.Identity, false)
	sesAllow, sesDeny, sesNear := scan(in.Session, false)
	resAllow, resDeny, resNear := scan(resPolicies, true)

	if denies := append(append(idDeny, sesDeny...), resDeny...); len(denies) > 0 {
		d.Effect = ExplicitDeny
		for _, h := range denies {
			d.Matched = append(d.Matched, h.ms)
		}
		h := denies[0]
		d.Reason = fmt.Sprintf("explicitly denied by statement %s of %s", stmtLabel(h.ms), h.ms.Policy)
		return d
	}

	identityOK := in.IdentityIsRoot || len(idAllow) > 0
	sessionOK := !in.HasSession || len(sesAllow) > 0
	var resSpecific, resRole, resAccount []hit
	for _, h := range resAllow {
		switch h.o.pm {
		case matchSession:
			resSpecific = append(resSpecific, h)
		case matchRole:
			resRole = append(resRole, h)
		case matchAccount:
			resAccount = append(resAccount, h)
		}
	}
	cite := func(hs ...[]hit) {
		for _, l := range hs {
			for _, h := range l {
				d.Matched = append(d.Matched, h.ms)
			}
		}
	}
	allow := func(reason string, hs ...[]hit) Decision {
		d.Effect = Allow
		cite(hs...)
		d.Reason = reason
		return d
	}
	switch {
	case in.ResourceOnly:
		if len(resSpecific)+len(resRole) > 0 {
			return allow("allowed by "+describe(append(resSpecific, resRole...)[0].ms), resSpecific, resRole)
		}
	case in.CrossAccount:
		if identityOK && sessionOK && len(resAllow) > 0 {
			return allow(fmt.Sprintf("allowed across accounts: %s of account %s and %s of account %s",
				identityDesc(in, idAllow), req.Principal.Account, describe(resAllow[0].ms), req.ResourceAccount), idAllow, sesAllow, resAllow)
		}
	default:
		switch {
		case len(resSpecific) > 0:
			return allow("allowed by "+describe(resSpecific[0].ms)+", which names this session", resSpecific)
		case len(resRole) > 0 && sessionOK:
			return allow("allowed by "+describe(resRole[0].ms), resRole, sesAllow)
		case identityOK && sessionOK && (!in.ResourceRequired || len(resAccount) > 0):
			return allow("allowed by "+identityDesc(in, idAllow), idAllow, sesAllow, resAccount)
		}
	}

	d.Effect = ImplicitDeny
	if near := slices.Concat(resNear, idNear, sesNear); len(near) > 0 {
		d.Near = &NearMiss{Statement: near[0].ms, Condition: near[0].o.reason}
	}
	d.Reason = implicitReason(in, identityOK, sessionOK, len(resAllow) > 0,
		func() []stmtOutcome {
			var o []stmtOutcome
			for _, l := range [][]hit{resNear, idNear, sesNear} {
				for _, h := range l {
					o = append(o, h.o)
				}
			}
			return o
		}(), func() []MatchedStatement {
			var o []MatchedStatement
			for _, l := range [][]hit{resNear, idNear, sesNear} {
				for _, h := range l {
					o = append(o, h.ms)
				}
			}
			return o
		}())
	return d
}

// hit is a statement that matched (or nearly matched) the request.
type hit struct {
	ms MatchedStatement
	o  stmtOutcome
}

func identityDesc(in EvalInput, idAllow []hit) string {
	if len(idAllow) > 0 {
		return describe(idAllow[0].ms)
	}
	if in.IdentityIsRoot {
		return "the account root user's implicit full access"
	}
	return "no identity policy"
}

func implicitReason(in EvalInput, identityOK, sessionOK, resourceOK bool, near []stmtOutcome, nearMS []MatchedStatement) string {
	var why string
	switch {
	case len(near) > 0:
		why = fmt.Sprintf("%s would allow it, but %s", describe(nearMS[0]), near[0].reason)
	case in.ResourceOnly && in.Request.ResourcePolicy == nil:
		why = "there is no resource policy to allow it"
	case in.ResourceOnly:
		why = "no statement of " + resourceName(in.Request) + " allows this principal"
	case in.CrossAccount && !resourceOK:
		why = fmt.Sprintf("the resource belongs to account %s and %s does not allow this principal", in.Request.ResourceAccount, resourceName(in.Request))
	case in.CrossAccount && !identityOK:
		why = fmt.Sprintf("the resource policy allows it, but no identity policy in account %s does", in.Request.Principal.Account)
	case in.ResourceRequired && !resourceOK:
		why = "no statement of " + resourceName(in.Request) + " allows this principal, and it must"
	case identityOK && !sessionOK:
		why = "an identity policy allows it, but the session policy does not"
	default:
		why = "no identity-based or resource-based policy allows it"
	}
	return "implicitly denied: " + why
}

func resourceName(r Request) string {
	if r.ResourcePolicyName != "" {
		return r.ResourcePolicyName
	}
	return "the resource policy of " + r.Resource
}

func stmtLabel(ms MatchedStatement) string {
	if ms.Sid != "" {
		return fmt.Sprintf("%q", ms.Sid)
	}
	return fmt.Sprintf("#%d", ms.Index)
}

func describe(ms MatchedStatement) string {
	return fmt.Sprintf("statement %s of %s", stmtLabel(ms), ms.Policy)
}

func principalLabel(p Principal) string {
	if p.ARN != "" {
		return p.ARN
	}
	if p.Type == PrincipalAnonymous || p.Type == "" {
		return "anonymous"
	}
	return string(p.Type)
}

// matchStatement reports whether statement s covers the request.
func matchStatement(s Statement, req Request, ctx *evalContext, vars, isResource bool) stmtOutcome {
	var o stmtOutcome
	if !actionMatches(s, req.Action) {
		return o
	}
	if !resourceMatches(s, req.Resource, ctx, vars, isResource) {
		return o
	}
	if isResource {
		o.pm = principalMatches(s, req.Principal)
		if o.pm == noMatch {
			return o
		}
	}
	for _, c := range s.Conditions {
		if r := evalCondition(c, ctx, vars); !r.ok {
			o.near, o.reason = true, r.reason
			return o
		}
	}
	o.applies = true
	return o
}

func actionMatches(s Statement, action string) bool {
	if s.NotAction != nil {
		for _, a := range s.NotAction {
			if globMatch(a, action, true) {
				return false
			}
		}
		return true
	}
	for _, a := range s.Action {
		if globMatch(a, action, true) {
			return true
		}
	}
	return false
}

func resourceMatches(s Statement, resource string, ctx *evalContext, vars, isResource bool) bool {
	if !s.hasResource {
		return isResource // a resource policy statement without Resource covers its own resource
	}
	match := func(pat string) bool {
		if vars {
			var ok bool
			if pat, ok = substitute(pat, ctx); !ok {
				return false
			}
		}
		return arnMatch(pat, resource)
	}
	if s.NotResource != nil {
		for _, r := range s.NotResource {
			if match(r) {
				return false
			}
		}
		return true
	}
	for _, r := range s.Resource {
		if match(r) {
			return true
		}
	}
	return false
}

// principalMatches applies Principal / NotPrincipal to the caller.
func principalMatches(s Statement, p Principal) principalMatch {
	if s.NotPrincipal != nil {
		if notPrincipalExcludes(s.NotPrincipal, p) {
			return noMatch
		}
		return matchSession
	}
	if s.Principal == nil {
		return noMatch
	}
	return namedIn(s.Principal, p)
}

// notPrincipalExcludes reports whether NotPrincipal lists every identity the
// caller acts as. IAM checks the session, the role (or user) and the account
// separately: a session is exempt only when its session ARN, its role ARN and
// its account are all listed, which is why AWS tells Deny+NotPrincipal
// authors to name all three.
func notPrincipalExcludes(ps *Principals, p Principal) bool {
	if ps.Wildcard {
		return true
	}
	listed := func(typ string, want ...string) bool {
		for _, v := range ps.Values[typ] {
			if v == "*" {
				return true
			}
			for _, w := range want {
				if w != "" && v == w {
					return true
				}
			}
		}
		return false
	}
	account := func() bool { return listed("AWS", p.Account, "arn:aws:iam::"+p.Account+":root") }
	switch p.Type {
	case PrincipalAccount:
		return account()
	case PrincipalUser:
		return listed("AWS", p.ARN) && account()
	case PrincipalAssumedRole:
		return listed("AWS", p.ARN) && listed("AWS", p.RoleARN) && account()
	case PrincipalWebIdentity:
		return listed("Federated", p.ARN, p.FederatedProvider)
	case PrincipalService:
		return listed("Service", p.ARN)
	}
	return false
}

// namedIn finds the strongest way ps names p.
func namedIn(ps *Principals, p Principal) principalMatch {
	if ps.Wildcard {
		return matchSession
	}
	best := noMatch
	up := func(m principalMatch) {
		if m > best {
			best = m
		}
	}
	for _, v := range ps.Values["AWS"] {
		switch {
		case p.Type == PrincipalWebIdentity || p.Type == PrincipalService:
			// {"AWS": ...} names IAM identities; federated callers and
			// services match only Federated / Service (or "Principal": "*").
		case v == "*":
			up(matchSession)
		case p.Type == PrincipalAnonymous:
		case v == p.Account || v == "arn:aws:iam::"+p.Account+":root":
			if p.Type == PrincipalAccount {
				up(matchSession)
			} else {
				up(matchAccount)
			}
		case p.Type == PrincipalAssumedRole && v == p.RoleARN:
			up(matchRole)
		case v == p.ARN && p.Type == PrincipalUser:
			up(matchRole)
		case v == p.ARN:
			up(matchSession)
		}
	}
	if p.Type == PrincipalWebIdentity {
		for _, v := range ps.Values["Federated"] {
			if v == p.ARN || (p.FederatedProvider != "" && v == p.FederatedProvider) {
				up(matchSession)
			}
		}
	}
	if p.Type == PrincipalService {
		for _, v := range ps.Values["Service"] {
			if v == p.ARN {
				up(matchSession)
			}
		}
	}
	return best
}

// MissingContextKeys lists, sorted and once each, the condition keys of
// the statements of ps that cover action on resource but that context
// does not hold: what IAM's policy simulator reports as
// MissingContextValues. Keys of Null and ...IfExists conditions, which
// are meant to be absent at times, are not listed.
func MissingContextKeys(ps []*Policy, action, resource string, context map[string][]string) []string {
	ctx := newEvalContext(func() map[string][]string { return context })
	seen := map[string]bool{}
	out := []string{}
	for _, p := range ps {
		if p == nil {
			continue
		}
		vars := p.Version != "2008-10-17"
		for _, s := range p.Statements {
			if !actionMatches(s, action) || !resourceMatches(s, resource, ctx, vars, s.Principal != nil || s.NotPrincipal != nil) {
				continue
			}
			for _, c := range s.Conditions {
				if _, ok := ctx.lookup(c.Key); ok || c.op.ifExists || c.op.base == "Null" || seen[strings.ToLower(c.Key)] {
					continue
				}
				seen[strings.ToLower(c.Key)] = true
				out = append(out, c.Key)
			}
		}
	}
	sort.Strings(out)
	return out
}
