// Package iamimport loads real IAM entities into the lab from what awscli
// prints for them, so a user can reproduce their own identity bug with
// their own roles and policies: the JSON of `aws iam get-role`,
// `get-role-policy`, `list-attached-role-policies`, `get-policy`,
// `get-policy-version` and `get-open-id-connect-provider`, as they are
// (documents decoded into JSON as awscli prints them, or URL-encoded as
// the API and the SDKs return them).
//
// Parse reads one file; Build joins the files into a Plan, supplying
// what some outputs lack:
//
//   - get-open-id-connect-provider prints no ARN: it is
//     arn:aws:iam::ACCOUNT:oidc-provider/URL, ACCOUNT being the --account
//     flag (Options.Account) or else the one account of the import's roles;
//   - get-role-policy names its role but not the account: the role's in the
//     import, else as for providers;
//   - list-attached-role-policies names no role: the import's only role, or
//     Options.Role;
//   - get-policy-version names no policy: the file's name does, NAME.json
//     holding a version of the policy NAME that an attached-policies list
//     or a get-policy output of the same import gives the ARN of.
//
// Apply then makes the plan real through the lab's IAM API (emulators/
// awsiamapi, iam.amazonaws.com) as each account's lab admin, with
// aws-sdk-go-v2's IAM client: providers, managed policies, roles, inline
// policies, attachments. Entities already there are updated in place
// (trust policy, description, maximum session, tags, a new default policy
// version, client IDs and thumbprints), so an import can be run again
// after editing the files. Going through the API rather than writing the
// data dir means a running lab uses the entities at once (STS and S3 read
// the same store), the import gets the checks and errors any IAM client
// gets, its calls are in the decision log, and idlab serve stays the only
// writer of its data dir.
package iamimport
