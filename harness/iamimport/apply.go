package iamimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// API is the part of aws-sdk-go-v2's IAM client Apply uses; *iam.Client
// is one.
type API interface {
	CreateOpenIDConnectProvider(context.Context, *iam.CreateOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.CreateOpenIDConnectProviderOutput, error)
	GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
	AddClientIDToOpenIDConnectProvider(context.Context, *iam.AddClientIDToOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.AddClientIDToOpenIDConnectProviderOutput, error)
	UpdateOpenIDConnectProviderThumbprint(context.Context, *iam.UpdateOpenIDConnectProviderThumbprintInput, ...func(*iam.Options)) (*iam.UpdateOpenIDConnectProviderThumbprintOutput, error)
	CreatePolicy(context.Context, *iam.CreatePolicyInput, ...func(*iam.Options)) (*iam.CreatePolicyOutput, error)
	GetPolicy(context.Context, *iam.GetPolicyInput, ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *iam.GetPolicyVersionInput, ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	ListPolicyVersions(context.Context, *iam.ListPolicyVersionsInput, ...func(*iam.Options)) (*iam.ListPolicyVersionsOutput, error)
	DeletePolicyVersion(context.Context, *iam.DeletePolicyVersionInput, ...func(*iam.Options)) (*iam.DeletePolicyVersionOutput, error)
	CreatePolicyVersion(context.Context, *iam.CreatePolicyVersionInput, ...func(*iam.Options)) (*iam.CreatePolicyVersionOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	UpdateRole(context.Context, *iam.UpdateRoleInput, ...func(*iam.Options)) (*iam.UpdateRoleOutput, error)
	TagRole(context.Context, *iam.TagRoleInput, ...func(*iam.Options)) (*iam.TagRoleOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
}

// NewClient is aws-sdk-go-v2's IAM client for endpoint (the lab's URL,
// https://127.0.0.1:PORT, which routes by the SigV4 scope) through hc
// (trusting the lab CA), signing with creds.
func NewClient(endpoint string, hc *http.Client, creds aws.Credentials) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
}

// Target is the lab Apply makes a plan in.
type Target struct {
	// Clients gives the IAM API client of an account, signing as its
	// lab admin.
	Clients func(account string) (API, error)
	// LoadAWSManaged loads a fixture (awsiam's awsManagedPolicies) into the
	// lab: AWS managed policies, which no IAM API creates (the lab's admin
	// API does). Nil when the target has no such way.
	LoadAWSManaged func(ctx context.Context, fixture []byte) error
}

// Apply makes the plan real through each account's IAM API, writing one
// line a change to out. It stops at the first error.
func Apply(ctx context.Context, p *Plan, t Target, out io.Writer) error {
	if err := loadAWSManaged(ctx, p, t, out); err != nil {
		return err
	}
	for _, account := range p.Accounts() {
		c, err := t.Clients(account)
		if err != nil {
			return fmt.Errorf("account %s: %w", account, err)
		}
		a := applier{ctx: ctx, c: c, out: out}
		for _, pr := range p.Providers {
			if pr.Account == account {
				if err := a.provider(pr); err != nil {
					return fmt.Errorf("OIDC provider %s: %w", pr.ARN(), err)
				}
			}
		}
		for _, pol := range p.Policies {
			if pol.Account == account {
				if err := a.policy(pol); err != nil {
					return fmt.Errorf("policy %s: %w", pol.ARN, err)
				}
			}
		}
		for _, r := range p.Roles {
			if r.Account == account {
				if err := a.role(r); err != nil {
					return fmt.Errorf("role %s: %w", r.Name, err)
				}
			}
		}
		for _, ip := range p.Inline {
			if ip.Account == account {
				if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(ip.Role), PolicyName: aws.String(ip.Name), PolicyDocument: aws.String(ip.Document)}); err != nil {
					return fmt.Errorf("inline policy %s of role %s: %w", ip.Name, ip.Role, err)
				}
				fmt.Fprintf(out, "put inline policy %s of role %s in %s\n", ip.Name, ip.Role, account)
			}
		}
		for _, at := range p.Attachments {
			if at.Account == account {
				if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(at.Role), PolicyArn: aws.String(at.PolicyARN)}); err != nil {
					var missing *types.NoSuchEntityException
					if errors.As(err, &missing) && policyARNRe.FindStringSubmatch(at.PolicyARN)[1] == "aws" {
						err = fmt.Errorf("%w (the lab holds the AWS managed policies its fixtures load and those an import into a lab's state dir "+
							"brings with a get-policy-version output named for the policy)", err)
					}
					return fmt.Errorf("attach %s to role %s: %w", at.PolicyARN, at.Role, err)
				}
				fmt.Fprintf(out, "attached %s to role %s\n", at.PolicyARN, at.Role)
			}
		}
	}
	return nil
}

type applier struct {
	ctx context.Context
	c   API
	out io.Writer
}

func exists(err error) bool {
	var e *types.EntityAlreadyExistsException
	return errors.As(err, &e)
}

// provider creates the provider, or adds the client IDs it lacks and sets
// the thumbprints of one that exists.
func (a applier) provider(p Provider) error {
	var tags []types.Tag
	for _, t := range p.Tags {
		tags = append(tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	_, err := a.c.CreateOpenIDConnectProvider(a.ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(p.URL), ClientIDList: p.ClientIDs,
		ThumbprintList: p.Thumbprints, Tags: tags})
	if err == nil {
		fmt.Fprintf(a.out, "created OIDC provider %s\n", p.ARN())
		return nil
	}
	if !exists(err) {
		return err
	}
	have, err := a.c.GetOpenIDConnectProvider(a.ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(p.ARN())})
	if err != nil {
		return err
	}
	for _, id := range p.ClientIDs {
		if !slices.Contains(have.ClientIDList, id) {
			if _, err := a.c.AddClientIDToOpenIDConnectProvider(a.ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
				OpenIDConnectProviderArn: aws.String(p.ARN()), ClientID: aws.String(id)}); err != nil {
				return err
			}
		}
	}
	if len(p.Thumbprints) > 0 && !slices.Equal(p.Thumbprints, have.ThumbprintList) {
		if _, err := a.c.UpdateOpenIDConnectProviderThumbprint(a.ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
			OpenIDConnectProviderArn: aws.String(p.ARN()), ThumbprintList: p.Thumbprints}); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.out, "updated OIDC provider %s\n", p.ARN())
	return nil
}

// policy creates the managed policy, or makes the document the default
// version of one that exists (deleting its oldest other version when it
// holds IAM's five).
func (a applier) policy(p Policy) error {
	in := &iam.CreatePolicyInput{PolicyName: aws.String(p.Name), Path: aws.String(p.Path), PolicyDocument: aws.String(p.Document)}
	if p.Description != "" {
		in.Description = aws.String(p.Description)
	}
	_, err := a.c.CreatePolicy(a.ctx, in)
	if err == nil {
		fmt.Fprintf(a.out, "created policy %s\n", p.ARN)
		return nil
	}
	if !exists(err) {
		return err
	}
	have, err := a.c.GetPolicy(a.ctx, &iam.GetPolicyInput{PolicyArn: aws.String(p.ARN)})
	if err != nil {
		return err
	}
	def, err := a.c.GetPolicyVersion(a.ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(p.ARN), VersionId: have.Policy.DefaultVersionId})
	if err != nil {
		return err
	}
	if doc, err := url.PathUnescape(aws.ToString(def.PolicyVersion.Document)); err == nil && sameJSON(doc, p.Document) {
		fmt.Fprintf(a.out, "policy %s is up to date\n", p.ARN)
		return nil
	}
	versions, err := a.c.ListPolicyVersions(a.ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(p.ARN)})
	if err != nil {
		return err
	}
	if len(versions.Versions) >= 5 {
		oldest := ""
		for _, v := range versions.Versions { // newest first
			if !v.IsDefaultVersion {
				oldest = aws.ToString(v.VersionId)
			}
		}
		if _, err := a.c.DeletePolicyVersion(a.ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(p.ARN), VersionId: aws.String(oldest)}); err != nil {
			return err
		}
	}
	v, err := a.c.CreatePolicyVersion(a.ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(p.ARN), PolicyDocument: aws.String(p.Document), SetAsDefault: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "updated policy %s: default version %s\n", p.ARN, aws.ToString(v.PolicyVersion.VersionId))
	return nil
}

// sameJSON compares two documents as JSON values.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// role creates the role, or updates the trust policy, description,
// maximum session and tags of one that exists.
func (a applier) role(r Role) error {
	var tags []types.Tag
	for _, t := range r.Tags {
		tags = append(tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	in := &iam.CreateRoleInput{RoleName: aws.String(r.Name), Path: aws.String(r.Path), AssumeRolePolicyDocument: aws.String(r.TrustPolicy), Tags: tags}
	if r.Description != "" {
		in.Description = aws.String(r.Description)
	}
	if r.MaxSessionDuration != 0 {
		in.MaxSessionDuration = aws.Int32(r.MaxSessionDuration)
	}
	_, err := a.c.CreateRole(a.ctx, in)
	if err == nil {
		fmt.Fprintf(a.out, "created role arn:aws:iam::%s:role%s%s\n", r.Account, r.Path, r.Name)
		return nil
	}
	if !exists(err) {
		return err
	}
	if _, err := a.c.UpdateAssumeRolePolicy(a.ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(r.Name), PolicyDocument: aws.String(r.TrustPolicy)}); err != nil {
		return err
	}
	up := &iam.UpdateRoleInput{RoleName: aws.String(r.Name), Description: aws.String(r.Description)}
	if r.MaxSessionDuration != 0 {
		up.MaxSessionDuration = aws.Int32(r.MaxSessionDuration)
	}
	if _, err := a.c.UpdateRole(a.ctx, up); err != nil {
		return err
	}
	if len(tags) > 0 {
		if _, err := a.c.TagRole(a.ctx, &iam.TagRoleInput{RoleName: aws.String(r.Name), Tags: tags}); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.out, "updated role arn:aws:iam::%s:role%s%s\n", r.Account, r.Path, r.Name)
	return nil
}

// AWSManagedFixture is the fixture (awsiam's format, in JSON) that loads
// AWS managed policies.
func AWSManagedFixture(ps []Policy) ([]byte, error) {
	type policy struct {
		Name     string `json:"name"`
		Path     string `json:"path"`
		Document string `json:"document"`
	}
	var doc struct {
		AWSManagedPolicies []policy `json:"awsManagedPolicies"`
	}
	for _, p := range ps {
		doc.AWSManagedPolicies = append(doc.AWSManagedPolicies, policy{p.Name, p.Path, p.Document})
	}
	return json.Marshal(doc)
}

// loadAWSManaged loads the plan's AWS managed policies the lab lacks; one
// it holds is kept as it is (AWS managed policies change through no API).
func loadAWSManaged(ctx context.Context, p *Plan, t Target, out io.Writer) error {
	if len(p.AWSPolicies) == 0 {
		return nil
	}
	accounts := p.Accounts()
	if len(accounts) == 0 {
		return fmt.Errorf("AWS managed policies: the import names no account to read them from: give --account")
	}
	c, err := t.Clients(accounts[0])
	if err != nil {
		return fmt.Errorf("account %s: %w", accounts[0], err)
	}
	var missing []Policy
	for _, pol := range p.AWSPolicies {
		_, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(pol.ARN)})
		var none *types.NoSuchEntityException
		switch {
		case errors.As(err, &none):
			missing = append(missing, pol)
		case err != nil:
			return fmt.Errorf("policy %s: %w", pol.ARN, err)
		default:
			fmt.Fprintf(out, "AWS managed policy %s is in the lab: kept as it is\n", pol.ARN)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if t.LoadAWSManaged == nil {
		return fmt.Errorf("AWS managed policy %s is not in the lab, and no IAM API can create it: import into a lab by its state dir "+
			"(whose admin API loads it), or add it to the lab's fixtures (awsManagedPolicies)", missing[0].ARN)
	}
	fixture, err := AWSManagedFixture(missing)
	if err != nil {
		return err
	}
	if err := t.LoadAWSManaged(ctx, fixture); err != nil {
		return fmt.Errorf("load AWS managed policies: %w", err)
	}
	for _, pol := range missing {
		fmt.Fprintf(out, "loaded AWS managed policy %s\n", pol.ARN)
	}
	return nil
}
