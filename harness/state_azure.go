package harness

import (
	"context"
	"net/url"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
)

// EntraDecision is one entry of the Entra token endpoint's decision log;
// BlobDecision one of the Azure blob service's.
type (
	EntraDecision = entra.Decision
	BlobDecision  = azureblob.Decision
)

// EntraDecisions returns Entra's token decisions about the assertion
// subject sub (system:serviceaccount:NS:SA); "" returns all.
func (s *State) EntraDecisions(ctx context.Context, sub string) ([]EntraDecision, error) {
	var all, out []EntraDecision
	if err := s.getJSON(ctx, entra.AdminPrefix+"decisions", &all); err != nil {
		return nil, err
	}
	for _, d := range all {
		if sub == "" || d.Subject == sub {
			out = append(out, d)
		}
	}
	return out, nil
}

// BlobDecisions returns the blob service's authorization decisions for the
// app (client ID) on container; "" matches any.
func (s *State) BlobDecisions(ctx context.Context, appID, container string) ([]BlobDecision, error) {
	q := url.Values{}
	if appID != "" {
		q.Set("appId", appID)
	}
	if container != "" {
		q.Set("container", container)
	}
	var ds []BlobDecision
	if err := s.getJSON(ctx, azureblob.AdminPrefix+"decisions?"+q.Encode(), &ds); err != nil {
		return nil, err
	}
	return ds, nil
}
