package existing

import (
	"crypto/rsa"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Forge is a service-account token as the cluster would issue one for
// namespace/serviceAccount (issuer, subject, audience sts.amazonaws.com,
// the kid of one of its keys) but signed by key, which is not in the
// cluster's JWKS: what a stolen kid with a made-up key looks like.
func Forge(key *rsa.PrivateKey, kid, issuer, namespace, serviceAccount string, now time.Time) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", fmt.Errorf("forge token: %w", err)
	}
	return jwt.Signed(s).Claims(jwt.Claims{Issuer: issuer, Subject: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Audience: jwt.Audience{"sts.amazonaws.com"}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Serialize()
}
