package iamimport

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
)

// Options supply what the outputs lack.
type Options struct {
	// Account is the account of the OIDC providers and of the inline
	// policies whose role the import does not hold. Defaults to the one
	// account of the import's roles.
	Account string
	// Role is the role list-attached-role-policies outputs attach to.
	// Defaults to the import's only role.
	Role string
}

// Plan is what Apply makes: per account, providers, then managed
// policies, roles, inline policies and attachments.
type Plan struct {
	Providers []Provider
	Policies  []Policy
	// AWSPolicies are AWS managed policies the import holds a document
	// of, which the lab loads (Target.LoadAWSManaged) when it lacks them.
	AWSPolicies []Policy
	Roles       []Role
	Inline      []InlinePolicy
	Attachments []Attachment
}

// Accounts are the accounts the plan touches, sorted.
func (p *Plan) Accounts() []string {
	set := map[string]bool{}
	for _, x := range p.Providers {
		set[x.Account] = true
	}
	for _, x := range p.Policies {
		set[x.Account] = true
	}
	for _, x := range p.Roles {
		set[x.Account] = true
	}
	for _, x := range p.Inline {
		set[x.Account] = true
	}
	for _, x := range p.Attachments {
		set[x.Account] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// Build joins parsed files into a plan (see the package doc for how it
// supplies what outputs lack); it refuses an import it would have to
// guess.
func Build(files []*File, opts Options) (*Plan, error) {
	p := &Plan{}
	roles := map[string]Role{} // by lower-case name
	for _, f := range files {
		if f.Kind != KindRole {
			continue
		}
		k := strings.ToLower(f.Role.Name)
		if _, dup := roles[k]; dup {
			return nil, fmt.Errorf("%s: role %s is in the import twice", f.Name, f.Role.Name)
		}
		roles[k] = *f.Role
		p.Roles = append(p.Roles, *f.Role)
	}
	account := func(what string) (string, error) {
		if opts.Account != "" {
			return opts.Account, nil
		}
		set := map[string]bool{}
		for _, r := range p.Roles {
			set[r.Account] = true
		}
		if len(set) == 1 {
			for a := range set {
				return a, nil
			}
		}
		return "", fmt.Errorf("%s: which account? The import's roles name %d accounts; give --account", what, len(set))
	}
	attachRole := func(what string) (Role, error) {
		name := opts.Role
		if name == "" {
			if len(p.Roles) != 1 {
				return Role{}, fmt.Errorf("%s: list-attached-role-policies names no role and the import holds %d roles: give --role, or import one role at a time", what, len(p.Roles))
			}
			return p.Roles[0], nil
		}
		if r, ok := roles[strings.ToLower(name)]; ok {
			return r, nil
		}
		a, err := account(what)
		return Role{Account: a, Name: name}, err
	}

	policies := map[string]*Policy{} // by ARN
	byName := map[string][]string{}  // policy name -> ARNs the import names
	notePolicy := func(arn, name string) *Policy {
		if policies[arn] == nil {
			m := policyARNRe.FindStringSubmatch(arn)
			policies[arn] = &Policy{ARN: arn, Account: m[1], Path: m[2], Name: m[3]}
			byName[name] = append(byName[name], arn)
		}
		return policies[arn]
	}
	for _, f := range files {
		switch f.Kind {
		case KindRolePolicy:
			ip := *f.RolePolicy
			if r, ok := roles[strings.ToLower(ip.Role)]; ok {
				ip.Account = r.Account
			} else {
				a, err := account(f.Name)
				if err != nil {
					return nil, err
				}
				ip.Account = a
			}
			p.Inline = append(p.Inline, ip)
		case KindAttached:
			r, err := attachRole(f.Name)
			if err != nil {
				return nil, err
			}
			for _, a := range f.Attached {
				notePolicy(a.PolicyARN, a.Name)
				p.Attachments = append(p.Attachments, Attachment{Account: r.Account, Role: r.Name, PolicyARN: a.PolicyARN, Name: a.Name})
			}
		case KindPolicy:
			notePolicy(f.Policy.ARN, f.Policy.Name).Description = f.Policy.Description
		case KindOIDCProvider:
			a, err := account(f.Name)
			if err != nil {
				return nil, err
			}
			pr := *f.Provider
			pr.Account = a
			p.Providers = append(p.Providers, pr)
		}
	}
	for _, f := range files {
		if f.Kind != KindPolicyVersion {
			continue
		}
		name := policyFileName(f.Name)
		arns := byName[name]
		if len(arns) != 1 {
			known := slices.Sorted(maps.Keys(byName))
			return nil, fmt.Errorf("%s: get-policy-version names no policy, so the file's name must: %q is the name of %d policies of the import's "+
				"list-attached-role-policies and get-policy outputs (names: %s)", f.Name, name, len(arns), strings.Join(known, ", "))
		}
		pol := policies[arns[0]]
		if pol.Document != "" {
			return nil, fmt.Errorf("%s: a second version of policy %s", f.Name, pol.ARN)
		}
		pol.Document = f.Version
	}
	for _, arn := range slices.Sorted(maps.Keys(policies)) {
		switch pol := policies[arn]; {
		case pol.Document == "":
		case pol.Account == awsiam.AWSManaged:
			p.AWSPolicies = append(p.AWSPolicies, *pol)
		default:
			p.Policies = append(p.Policies, *pol)
		}
	}
	sort.SliceStable(p.Roles, func(a, b int) bool { return p.Roles[a].Account+p.Roles[a].Name < p.Roles[b].Account+p.Roles[b].Name })
	if len(p.Roles)+len(p.Inline)+len(p.Attachments)+len(p.Policies)+len(p.AWSPolicies)+len(p.Providers) == 0 {
		return nil, fmt.Errorf("nothing to import")
	}
	return p, nil
}
