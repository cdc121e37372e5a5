package awsiamapi

import (
	"fmt"
	"strconv"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// simInput is one simulation: the principal, its identity policies with
// the simulator's names for them, an optional resource policy and the
// request's context.
type simInput struct {
	principal      awsiam.Principal
	sources        []awsiam.SourcePolicy
	resourcePolicy *awsiam.Policy
	owner          string // ResourceOwner's account, "" for the resource's own
	actions        []string
	resources      []string
	resourcesGiven bool
	context        map[string][]string
}

func (c *call) simulatePrincipalPolicy() (any, error) {
	source := c.required("PolicySourceArn", arnType)
	in, err := c.simulationParams()
	if err != nil {
		return nil, err
	}
	if err := c.authorize(source, nil); err != nil {
		return nil, err
	}
	if arnAccount(source) != c.account() {
		return nil, awsxml.Errorf(404, "NoSuchEntity", "The entity %s cannot be found.", source)
	}
	p, sources, err := c.h.iam.PolicySource(source)
	if err != nil {
		return nil, err
	}
	in.sources = append(sources, in.sources...)
	if in.principal.ARN == "" {
		in.principal = p
	}
	return c.simulate(in)
}

func (c *call) simulateCustomPolicy() (any, error) {
	if !c.p.Has("PolicyInputList.member.1") {
		c.invalid("Value null at 'policyInputList' failed to satisfy constraint: Member must not be null")
	}
	in, err := c.simulationParams()
	if err != nil {
		return nil, err
	}
	if err := c.authorize("*", nil); err != nil {
		return nil, err
	}
	if in.principal.ARN == "" {
		in.principal = awsiam.Principal{Type: awsiam.PrincipalUser, Account: c.account()}
	}
	return c.simulate(in)
}

// simulationParams reads the parameters both simulations share.
func (c *call) simulationParams() (*simInput, error) {
	in := &simInput{context: map[string][]string{}}
	docs := c.list("PolicyInputList", policyDocumentType)
	c.list("PermissionsBoundaryPolicyInputList", policyDocumentType)
	in.actions = c.list("ActionNames", actionNameType)
	if len(in.actions) == 0 {
		c.invalid("Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	in.resources = c.list("ResourceArns", resourceNameType)
	in.resourcesGiven = len(in.resources) > 0
	if !in.resourcesGiven {
		in.resources = []string{"*"}
	}
	resourcePolicy, _ := c.str("ResourcePolicy", policyDocumentType)
	owner, _ := c.str("ResourceOwner", resourceNameType)
	callerARN, _ := c.str("CallerArn", resourceNameType)
	c.str("ResourceHandlingOption", shape(1, 64, "", ""))
	for _, e := range awsxml.Members(c.p, "ContextEntries") {
		name := e.Get("ContextKeyName")
		c.checkValue("contextEntries.member.contextKeyName", name, contextKeyNameType)
		in.context[name] = awsxml.Strings(e, "ContextKeyValues")
	}
	c.paging()
	if err := c.check(); err != nil {
		return nil, err
	}
	if awsxml.Strings(c.p, "PermissionsBoundaryPolicyInputList") != nil {
		return nil, awsxml.Errorf(400, "InvalidInput", "idlab does not evaluate permissions boundaries; simulate without PermissionsBoundaryPolicyInputList")
	}
	for k, d := range docs {
		p, err := awsiam.ParsePolicy([]byte(d))
		if err == nil {
			err = p.ValidateFor(awsiam.IdentityPolicy)
		}
		if err != nil {
			return nil, storeErr(err)
		}
		in.sources = append(in.sources, awsiam.SourcePolicy{ID: "PolicyInputList." + strconv.Itoa(k+1), Type: "none", Policy: p})
	}
	if resourcePolicy != "" {
		p, err := awsiam.ParsePolicy([]byte(resourcePolicy))
		if err == nil {
			err = p.ValidateFor(awsiam.ResourcePolicy)
		}
		if err != nil {
			return nil, storeErr(err)
		}
		in.resourcePolicy = p
		if callerARN == "" {
			return nil, awsxml.Errorf(400, "InvalidInput", "Invalid input: a CallerArn is required when a ResourcePolicy is given")
		}
	}
	if owner != "" {
		if in.owner = arnAccount(owner); in.owner == "" {
			return nil, awsxml.Errorf(400, "InvalidInput", "Invalid ResourceOwner %s: want an account ARN such as arn:aws:iam::123456789012:root", owner)
		}
	}
	if callerARN != "" {
		u, err := c.h.iam.UserByARN(callerARN)
		if err != nil {
			return nil, awsxml.Errorf(400, "InvalidInput", "Invalid CallerArn %s: it must name an IAM user of the account", callerARN)
		}
		in.principal = awsiam.Principal{Type: awsiam.PrincipalUser, Account: u.Account, ARN: u.ARN, UserID: u.UserID, Tags: u.Tags}
	}
	return in, nil
}

// decisions are the simulator's names for the evaluation outcomes.
var decisions = map[awsiam.Effect]string{awsiam.Allow: "allowed", awsiam.ExplicitDeny: "explicitDeny", awsiam.ImplicitDeny: "implicitDeny"}

// simulate evaluates every action on every resource with awsiam.Evaluate,
// as a request would be (no global keys but those in the context), and
// pages the results.
func (c *call) simulate(in *simInput) (any, error) {
	named := make([]awsiam.NamedPolicy, 0, len(in.sources))
	byName := map[string]awsiam.SourcePolicy{}
	policies := make([]*awsiam.Policy, 0, len(in.sources)+1)
	for k, s := range in.sources {
		n := fmt.Sprintf("source %d %s", k, s.ID) // unique: two sources may share a name
		named = append(named, awsiam.NamedPolicy{Name: n, Policy: s.Policy})
		byName[n] = s
		policies = append(policies, s.Policy)
	}
	const resourceName = "resource policy"
	if in.resourcePolicy != nil {
		byName[resourceName] = awsiam.SourcePolicy{ID: "ResourcePolicy", Type: "resource", Policy: in.resourcePolicy}
		policies = append(policies, in.resourcePolicy)
	}
	var all []evalResultXML
	for _, action := range in.actions {
		for _, res := range in.resources {
			owner := in.owner
			if owner == "" {
				owner = arnAccount(res)
			}
			if owner == "" || owner == awsiam.AWSManaged {
				owner = in.principal.Account
			}
			req := awsiam.Request{Principal: in.principal, Action: action, Resource: res, ResourceAccount: owner, Context: in.context}
			if in.resourcePolicy != nil {
				req.ResourcePolicy, req.ResourcePolicyName = in.resourcePolicy, resourceName
			}
			d := awsiam.Evaluate(awsiam.EvalInput{Request: req, Identity: named, CrossAccount: owner != in.principal.Account})
			matched := list[statementXML]{}
			for _, m := range d.Matched {
				s, ok := byName[m.Policy]
				if !ok {
					continue
				}
				st := statementXML{SourcePolicyID: s.ID, SourcePolicyType: s.Type}
				if spans, err := awsiam.StatementSpans(s.Policy.Raw); err == nil && m.Index < len(spans) {
					sp := spans[m.Index]
					st.StartPosition = positionXML{sp.Start.Line, sp.Start.Column}
					st.EndPosition = positionXML{sp.End.Line, sp.End.Column}
				}
				matched = append(matched, st)
			}
			missing := list[string](awsiam.MissingContextKeys(policies, action, res, in.context))
			r := evalResultXML{EvalActionName: action, EvalResourceName: res, EvalDecision: decisions[d.Effect],
				MatchedStatements: matched, MissingContextValues: missing}
			if in.resourcesGiven {
				r.ResourceSpecificResults = &list[resourceResultXML]{{EvalResourceName: res, EvalResourceDecision: r.EvalDecision,
					MatchedStatements: matched, MissingContextValues: missing}}
				r.MissingContextValues = list[string]{}
			}
			all = append(all, r)
		}
	}
	idx := make([]int, len(all))
	for k := range all {
		idx[k] = k
	}
	idx, truncated, marker, err := page(c, idx, func(k int) string { return fmt.Sprintf("%08d", k) })
	if err != nil {
		return nil, err
	}
	out := list[evalResultXML]{}
	for _, k := range idx {
		out = append(out, all[k])
	}
	return struct {
		EvaluationResults list[evalResultXML] `xml:"EvaluationResults"`
		pageXML
	}{out, pageXML{truncated, marker}}, nil
}
