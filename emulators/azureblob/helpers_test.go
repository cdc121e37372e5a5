package azureblob

import (
	"errors"

	"github.com/idlab/idlab/emulators/entra"
)

// nopVerifier refuses every token.
type nopVerifier struct{}

func (nopVerifier) VerifyAccessToken(string) (*entra.Claims, error) {
	return nil, errors.New("refused")
}
