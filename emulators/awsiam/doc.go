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
//	awsManagedPolicies:               # AWS managed policies roles may attach
//	  - name: AmazonS3ReadOnlyAccess  # arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
//	    document: {...}               # the document AWS gives it (get-policy-version)
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
//	    buckets: [...]                  # S3 and SNS resources: accepted here,
//	    topics: [...]                   # loaded by harness/cloud (LoadResources)
//
// Policy documents are YAML mappings (scalars are kept as written, so an
// unquoted Version: 2012-10-17 stays a string) or JSON strings. They are
// validated for where they are attached (identity, trust) with IAM's
// MalformedPolicyDocument messages. Managed policies must be declared before
// (or in an earlier file than) the roles and users that attach them. Errors
// name file:line of the offending item, e.g.
//
//	roles.yaml:12: role "app-a": maxSessionDuration "forever": want seconds or a duration such as 2h
//	roles.yaml:14: role "app-a" trust policy: Missing required field Principal
//	roles.yaml:3: unknown field "trust"
//
// # Evaluation
//
// Evaluate follows IAM's documented order: an explicit Deny in any identity,
// session or resource policy wins; otherwise, in the principal's account, an
// Allow from the identity policies (intersected with session policies when
// the session has any) or from a resource policy that names the principal
// allows; a resource policy that names only the account delegates to the
// identity policies; one that names the role ARN is still limited by session
// policies, one that names the session ARN is not. Across accounts both the
// identity side and the resource policy must allow. Role trust policies are
// the role's resource policy; for web-identity and service callers they
// decide alone. NotPrincipal exempts a session only when its session ARN,
// role ARN and account are all listed (a user: its ARN and account), as AWS
// documents. Authorize adds the global keys aws:PrincipalArn,
// aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username,
// aws:PrincipalTag/*, aws:FederatedProvider, aws:SourceIdentity,
// aws:CurrentTime and aws:EpochTime to Request.Context.
//
// # Admin API
//
// AdminHandler answers under /_idlab/iam/ (JSON; errors are
// {"error": CODE, "code": CODE, "message": ...}):
//
//	DELETE /_idlab/iam/decisions                            (drops the AWS decisions)
//	POST   /_idlab/iam/users/{account}/{name}/access-keys  -> {"AccessKeyId","SecretAccessKey"}; 404 NoSuchEntity
//	POST   /_idlab/iam/admins/{account}                     -> {"AccessKeyId","SecretAccessKey","Profile","UserArn"}
//	POST   /_idlab/iam/fixtures                             (YAML body, same format)
//	GET    /_idlab/iam/roles                                -> [{"arn","roleId"}]
//	GET    /_idlab/iam/users                                -> [{"arn","userId"}]
//
// Decisions go to Options.Decisions, the lab's one decision log (Cloud
// aws); the lab's GET /_idlab/decisions serves it.
//
// It belongs on the lab's control plane: no emulator's ServeHTTP serves it.
//
// Access keys are never in fixtures: CreateAccessKey (or POST
// /_idlab/iam/users/{account}/{name}/access-keys) makes them at run time.
//
// # The IAM API's changes
//
// manage.go holds what emulators/awsiamapi changes: roles, users, managed
// policies (with versions) and OIDC providers, created, changed and
// deleted with IAM's quotas and messages. Each change persists its entity
// whole, or a tombstone, to one file under DataDir/entities (entities.go)
// and marks it owned: fixtures then skip it, so after a restart the API's
// last word on an entity stands. EnsureAdmins makes each account's lab
// admin (AdminUser, allowed everything) and writes its keys to
// DataDir/AdminCredentialsFile, the host's way in to the IAM API.
//
// With Options.DataDir keys and sessions persist in an append-only journal
// compacted in the background (internal/jsonlog, journal.go): a call costs one record
// however many sessions exist, a killed process loses none it answered,
// and sessions expired for more than an hour are purged from memory and
// disk. Close waits for a compaction under way.
//
// Two lab controls have no counterpart in AWS; they move time for one role
// so that a suite can see its sessions end while others run on: AgeSessions
// brings the expiry of the sessions already issued sooner, and
// SetSessionAge makes the sessions issued later start old, so that they
// end sooner than STS's 900 s minimum after issue (kept in memory only).
package awsiam
