// Package entra emulates the Microsoft Entra ID (Azure AD) token service for
// workload identity federation, so that unmodified Azure SDKs
// (azidentity.NewWorkloadIdentityCredential, MSAL, az login --federated-token)
// running in the lab's "aks" kind cluster trade a Kubernetes projected
// service-account token for an Entra access token, and resource emulators
// (blob storage) check those access tokens with VerifyAccessToken.
//
// Endpoints (host login.microsoftonline.com, login.microsoft.com,
// login.windows.net, sts.windows.net, or any loopback host for tests):
//
//   - GET /common/discovery/instance (also /{tenant}/discovery/instance):
//     MSAL's instance discovery. MSAL calls it whenever the authority host is
//     not one of its trusted Entra hosts, always at
//     https://login.microsoftonline.com, with
//     authorization_endpoint=https://HOST/TENANT/oauth2/v2.0/authorize. Entra
//     answers invalid_instance (AADSTS50049) for hosts it does not own; the
//     emulator also accepts loopback hosts (itself), so a test may point
//     Cloud.ActiveDirectoryAuthorityHost at https://127.0.0.1:PORT without
//     DisableInstanceDiscovery.
//   - GET /{tenant}/v2.0/.well-known/openid-configuration (and the v1
//     /{tenant}/.well-known/openid-configuration): tenant discovery, the
//     endpoints on the host the request came to, issuer
//     https://login.microsoftonline.com/{tid}/v2.0 (MSAL accepts it because
//     login.microsoftonline.com is a trusted host). An unknown tenant gets
//     400 invalid_tenant AADSTS90002, as Entra.
//   - GET /{tenant}/discovery/v2.0/keys and /{tenant}/discovery/keys: the
//     tenant's signing key (RS256, with an x5c self-signed certificate and
//     kid = x5t = base64url SHA-1 thumbprint, as Entra publishes them).
//   - POST /{tenant}/oauth2/v2.0/token: client_credentials with
//     client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer
//     and a client_assertion from a federated issuer (a cluster's
//     service-account issuer), scope RESOURCE/.default (MSAL appends openid,
//     profile and offline_access; they are ignored as Entra does for app-only
//     tokens). POST /{tenant}/oauth2/token (v1, resource=) works the same.
//
// The admin API (Handler.AdminHandler, for the lab's control plane; not
// served by ServeHTTP): DELETE /_idlab/entra/decisions, GET/POST
// /_idlab/entra/apps.
//
// Federation checks, in Entra's order and with its error codes: tenant
// (AADSTS90002), application (AADSTS700016), assertion syntax (AADSTS50027),
// a federated credential whose issuer equals iss (AADSTS700211), then subject
// equal to sub (AADSTS700213; AADSTS7002138 when a subject matches only
// case-insensitively), then one of its audiences in aud (AADSTS700212), all
// exact and case-sensitive as Entra matches since 2024 (a credential that
// missed by a trailing slash or letter case is named in the decision's
// Detail["nearMiss"]);
// then the signature with the issuer's keys found through OIDC discovery
// (fetch failure AADSTS50166, unknown kid AADSTS7000272, bad signature
// AADSTS50013) and the time range (AADSTS700024), both through
// internal/jwtverify with its 5 minute leeway.
//
// Access tokens: RS256, signed with the tenant key, valid one hour
// (expires_in 3599). Entra picks the token version from the resource's
// accessTokenAcceptedVersion; Microsoft's first-party resources (storage,
// ARM, Key Vault, Graph, SQL, ...) take v1 tokens, so they get iss
// https://sts.windows.net/{tid}/, appid, appidacr "2" and ver "1.0" with aud
// the resource URI. A resource that is an application of the tenant (its
// client ID or api://CLIENT_ID) gets a v2 token: iss
// https://login.microsoftonline.com/{tid}/v2.0, aud the client ID, azp,
// azpacr "2", ver "2.0". Both carry tid, oid and sub (the app's service
// principal object ID, derived stably from tenant and client ID), roles (the
// app roles App.Roles grants on the resource; absent when none), iat, nbf,
// exp, uti and idp.
//
// User-assigned managed identities are apps with App.ManagedIdentity set
// (fixture key managedIdentities): client ID App.ClientID, principal ID
// App.PrincipalID (the service principal's object ID), ARM resource ID
// App.ResourceID (/subscriptions/S/resourcegroups/RG/providers/
// Microsoft.ManagedIdentity/userAssignedIdentities/NAME). They may hold
// federated credentials as apps do; IssueManagedIdentityToken mints what the
// managed identities service gives IMDS (emulators/azureimds): the app's
// v1/v2 token plus xms_mirid, valid ManagedIdentityLifetime (24 hours).
//
// Every token request leaves an entry in the lab's decision log
// (Options.Decisions; Cloud azure, Action entra:token, read with Decisions
// or the lab's GET /_idlab/decisions) and
// one slog line: decision, principal, action, resource, reason, request_id.
// With Options.DataDir the tenant keys and apps survive restarts.
//
// A lab control with no counterpart in Entra: SetAssertionClock checks one
// app's client assertions ahead of the lab clock (kept in memory only), so
// a suite can see a stale assertion refused minutes sooner while every
// other client, and the tokens that app gets, keep the lab clock.
package entra
