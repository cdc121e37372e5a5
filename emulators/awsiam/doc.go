// Package awsiam emulates AWS IAM's data model and policy evaluation for the
// lab: accounts, roles (trust, inline and managed policies, max session
// duration, tags), users, IAM OIDC providers, temporary and long-term access
// keys, and an evaluator that follows IAM's logic (explicit deny, then allow
// from identity or resource policies within session policies, both sides
// across accounts, else implicit deny) with every condition operator and
// policy variable. Every decision is recorded with the statement that decided
// it and a reason in words, readable through AdminHandler.
//
// STS, S3, SNS and EKS Auth emulators call Authorize; tests may call Evaluate
// directly with explicit policies.
//
// # Fixtures
//
// LoadFixtures reads YAML (errors name file:line):
//
//	accounts:
//	  - id: "111111111111"            # quoted: 12 digits
//	    alias: dev
//	    oidcProviders:
//	      - url: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE
//	        clientIDs: [sts.amazonaws.com]
//	        thumbprints: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
//	    policies:                       # customer managed policies
//	      - name: read-bucket-a
//	        document: {Version: "2012-10-17", Statement: [...]}   # or a JSON string
//	    roles:
//	      - name: app-a
//	        path: /                     # default /
//	        maxSessionDuration: 1h      # or seconds; 1h..12h, default 1h
//	        trustPolicy: {...}
//	        inlinePolicies: {read: {...}}
//	        managedPolicies: [arn:aws:iam::111111111111:policy/read-bucket-a]
//	        tags: {team: a}
//	    users:
//	      - name: alice
//	        inlinePolicies: {...}
//
// Access keys are never in fixtures: CreateAccessKey (or POST
// /_idlab/iam/users/{account}/{name}/access-keys) makes them at run time.
package awsiam
