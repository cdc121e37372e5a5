// Package awsiamapi serves the AWS IAM query API (Version 2010-05-08, the
// API of iam.amazonaws.com) over the lab's awsiam store, for awscli and
// the SDKs:
//
//   - roles: CreateRole, GetRole, ListRoles, UpdateRole, DeleteRole,
//     UpdateAssumeRolePolicy, TagRole, UntagRole, ListRoleTags;
//     PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies;
//     AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies;
//   - managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy,
//     CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
//     DeletePolicyVersion;
//   - OIDC providers: CreateOpenIDConnectProvider, GetOpenIDConnectProvider,
//     ListOpenIDConnectProviders, DeleteOpenIDConnectProvider,
//     AddClientIDToOpenIDConnectProvider,
//     RemoveClientIDFromOpenIDConnectProvider,
//     UpdateOpenIDConnectProviderThumbprint;
//   - users and their keys: CreateUser, GetUser, DeleteUser, PutUserPolicy,
//     GetUserPolicy, DeleteUserPolicy, ListUserPolicies, AttachUserPolicy,
//     DetachUserPolicy, ListAttachedUserPolicies, CreateAccessKey,
//     UpdateAccessKey, DeleteAccessKey, ListAccessKeys;
//   - the policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy,
//     answering with EvaluationResults, EvalDecision and MatchedStatements
//     (SourcePolicyId, SourcePolicyType, StartPosition, EndPosition).
//
// Every call is SigV4-signed (service iam) with keys the store knows and
// authorized by IAM policy evaluation (awsiam.Authorize) of iam:ACTION on
// the entity's ARN in the caller's account, as on AWS; a refusal is
// AccessDenied with AWS's "User: ARN is not authorized to perform:
// iam:ACTION on resource: ARN because ..." message ("role NAME" or "user
// NAME" for the resource of an action on a role or user, as AWS words it). Parameters are checked
// against the constraints of IAM's API model (botocore's
// iam/2010-05-08/service-2.json) with ValidationError; the store's
// NoSuchEntity (404), EntityAlreadyExists, DeleteConflict, LimitExceeded
// (409), MalformedPolicyDocument and InvalidInput (400) come with IAM's
// messages. Responses are IAM's query XML in namespace Namespace, policy
// documents URL-encoded as IAM sends them.
//
// Changes go to the shared awsiam store, so STS, S3, SNS and EKS Auth see
// them at once, and persist with the store's DataDir.
package awsiamapi
