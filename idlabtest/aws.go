package idlabtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/oidc"
)

// DefaultIssuer is the issuer StartAWS hosts when AWSOptions.IssuerURL is
// empty: an EKS-style URL, as trust policies name it.
const DefaultIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/IDLABTEST"

// AWSOptions say what StartAWS serves.
type AWSOptions struct {
	// IssuerURL is the cluster's service-account issuer. Defaults to
	// DefaultIssuer.
	IssuerURL string
	// Fixtures are IAM fixture files or directories (YAML: accounts, roles,
	// OIDC providers; see package awsiam), loaded in order.
	Fixtures []string
}

// AWS is a cluster's OIDC issuer with IAM and STS, wired as EKS wires them:
// STS trusts the issuer's tokens through IAM's OIDC providers and fetches
// its keys from Issuers over HTTPS. Every server shares one CA.
type AWS struct {
	// Issuers serves the issuer's discovery document and JWKS.
	Issuers *oidc.Server
	// Issuer holds the signing key, kube-apiserver's part: it mints
	// service-account tokens (MintServiceAccountToken).
	Issuer *oidc.Issuer
	// IAM holds the fixtures and the decision log (IAM.Decisions).
	IAM *awsiam.IAM
	// STS answers AssumeRoleWithWebIdentity and the other STS actions.
	STS *awssts.Server

	tokens string // directory of TokenFile's files
}

// StartAWS starts the issuer and STS with IAM loaded from opts.Fixtures.
// Close stops them.
func StartAWS(opts AWSOptions) (_ *AWS, err error) {
	if opts.IssuerURL == "" {
		opts.IssuerURL = DefaultIssuer
	}
	a := &AWS{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.tokens, err = os.MkdirTemp("", "idlabtest-tokens-"); err != nil {
		return nil, fmt.Errorf("idlabtest: %w", err)
	}
	if a.Issuers, err = oidc.NewServer(oidc.Options{}); err != nil {
		return nil, fmt.Errorf("idlabtest: issuer: %w", err)
	}
	if a.Issuer, err = signingIssuer(a.Issuers.Handler(), opts.IssuerURL); err != nil {
		return nil, err
	}
	if a.IAM, err = awsiam.New(awsiam.Options{}); err != nil {
		return nil, fmt.Errorf("idlabtest: iam: %w", err)
	}
	for _, f := range opts.Fixtures {
		if err := a.IAM.LoadFixtures(f); err != nil {
			return nil, fmt.Errorf("idlabtest: iam fixtures: %w", err)
		}
	}
	a.STS, err = awssts.NewServer(awssts.Options{IAM: a.IAM, CA: a.Issuers.CA(), HTTPClient: a.Issuers.Client()})
	if err != nil {
		return nil, fmt.Errorf("idlabtest: sts: %w", err)
	}
	return a, nil
}

// NewAWS is StartAWS for a test: it fails t on error and closes at the
// test's end.
func NewAWS(t testing.TB, opts AWSOptions) *AWS {
	t.Helper()
	a, err := StartAWS(opts)
	return started(t, a, err)
}

// started fails t on err, else closes v at the test's end and returns it.
func started[T interface{ Close() }](t testing.TB, v T, err error) T {
	t.Helper()
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}

// signingIssuer hosts issuerURL on h with a new RS256 signing key.
func signingIssuer(h *oidc.Handler, issuerURL string) (*oidc.Issuer, error) {
	iss, err := h.AddIssuer(issuerURL)
	if err != nil {
		return nil, fmt.Errorf("idlabtest: issuer %s: %w", issuerURL, err)
	}
	if _, err := iss.AddKey("RS256"); err != nil {
		return nil, fmt.Errorf("idlabtest: issuer %s: %w", issuerURL, err)
	}
	return iss, nil
}

// TokenFile mints a token for namespace/serviceAccount with the audience
// sts.amazonaws.com, as the EKS pod identity webhook projects it, and
// writes it to a new file: the AWS_WEB_IDENTITY_TOKEN_FILE of a pod.
func (a *AWS) TokenFile(namespace, serviceAccount string) (string, error) {
	return writeToken(a.Issuer, a.tokens, namespace, serviceAccount)
}

// Config is an aws-sdk-go-v2 config whose credentials are those of
// roleARN, assumed at STS with the token in tokenFile (re-read at every
// refresh, as the SDK does in a pod). Its BaseEndpoint is STS's URL:
// a client for another service needs its own endpoint.
func (a *AWS) Config(roleARN, tokenFile string) aws.Config {
	return webIdentityConfig(a.STS.Client(), a.STS.URL(), roleARN, tokenFile)
}

// Close stops the servers and removes the token files.
func (a *AWS) Close() {
	if a.STS != nil {
		a.STS.Close()
	}
	if a.Issuers != nil {
		a.Issuers.Close()
	}
	if a.tokens != "" {
		_ = os.RemoveAll(a.tokens)
	}
}

// writeToken mints a token of iss for namespace/serviceAccount with the
// STS audience into a new file under dir.
func writeToken(iss *oidc.Issuer, dir, namespace, serviceAccount string) (string, error) {
	return writeTokenFor(iss, dir, namespace, serviceAccount, "sts.amazonaws.com")
}

// writeTokenFor mints a token of iss for namespace/serviceAccount with
// audience into a new file under dir.
func writeTokenFor(iss *oidc.Issuer, dir, namespace, serviceAccount, audience string) (string, error) {
	if iss == nil {
		return "", errors.New("idlabtest: no such issuer")
	}
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: namespace, ServiceAccount: serviceAccount,
		Audiences: []string{audience}})
	if err != nil {
		return "", fmt.Errorf("idlabtest: mint token: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(namespace+"-"+serviceAccount)+"-*.jwt")
	if err != nil {
		return "", fmt.Errorf("idlabtest: token file: %w", err)
	}
	_, err = f.WriteString(tok)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("idlabtest: token file: %w", err)
	}
	return f.Name(), nil
}
