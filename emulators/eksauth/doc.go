// Package eksauth emulates the Amazon EKS Auth API (eks-auth, 2023-11-26),
// whose one operation, AssumeRoleForPodIdentity, the EKS Pod Identity agent
// on every node calls to trade a pod's projected service-account token for
// role credentials. The lab's pod identity agent and tests call it with the
// node role's credentials, exactly as on AWS:
//
//	POST /clusters/{clusterName}/assume-role-for-pod-identity
//	Host: eks-auth.REGION.api.aws
//	{"token": "<service-account token with audience pods.eks.amazonaws.com>"}
//
// REST-JSON, SigV4 with service name "eks-auth". The handler, in order:
//
//  1. authenticates the caller with awsauth (the node role's session);
//  2. asks IAM whether the caller may eks-auth:AssumeRoleForPodIdentity on
//     arn:aws:eks:REGION:ACCOUNT:cluster/NAME;
//  3. verifies the token against the cluster's issuer (OIDC discovery +
//     JWKS over Options.HTTPClient): signature, exp/nbf/iat, aud ==
//     pods.eks.amazonaws.com, and the kubernetes.io claims (namespace,
//     service account name and uid, pod name and uid);
//  4. finds the pod identity association for (cluster, namespace, service
//     account), or answers ResourceNotFoundException;
//  5. asks IAM whether the role's trust policy lets the service principal
//     pods.eks.amazonaws.com sts:AssumeRole and, unless the association
//     disables session tags, sts:TagSession with the six EKS session tags
//     (eks-cluster-arn, eks-cluster-name, kubernetes-namespace,
//     kubernetes-service-account, kubernetes-pod-name, kubernetes-pod-uid),
//     all transitive;
//  6. issues the session through IAM.IssueSession as
//     assumed-role/ROLE/eks-CLUSTER-POD-UUID; with a TargetRoleARN the
//     first session then assumes the target role (role chaining) whose
//     trust policy must allow the first role with sts:ExternalId equal to
//     the association's external ID.
//
// Errors use the service model's codes and HTTP statuses (botocore
// eks-auth/2023-11-26/service-2.json): AccessDeniedException,
// InvalidTokenException, ExpiredTokenException, InvalidParameterException,
// InvalidRequestException 400; ResourceNotFoundException 404;
// ThrottlingException 429; InternalServerException 500;
// ServiceUnavailableException 503. They are rendered as REST-JSON errors
// (X-Amzn-ErrorType header, {"message": ...} body). Authentication failures
// use the codes every REST-JSON AWS front end uses
// (MissingAuthenticationTokenException, UnrecognizedClientException,
// InvalidSignatureException, IncompleteSignatureException,
// ExpiredTokenException with 403). Messages are ours where AWS's exact
// wording is not documented.
//
// Not modelled: EKS Auth checks that the pod still exists in the cluster;
// the emulator has no view of the cluster's API and trusts the bound pod
// claims of a token that verifies. Throttling is never produced.
package eksauth
