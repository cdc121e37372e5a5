package trustboundary

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
)

// Getter GETs an admin path (/_idlab/...) and decodes its JSON answer into
// out: harness.State.Admin from the host, the admin listener in tests.
type Getter func(ctx context.Context, path string, out any) error

// State is what the admin requests would change: the lab clock, the
// target issuer's keys and the tokens it minted, the IAM roles and users,
// and the IAM decision log.
type State struct {
	ClockOffsetSeconds int64
	IssuerKeys         []string
	SigningKey         string
	TokensMinted       int64
	Roles, Users       []string
	// NewestDecision is the Seq of the newest AWS decision ("" for an empty
	// log); a wiped log no longer holds it.
	NewestDecision string
}

// issuerJSON is an issuer as GET /_idlab/oidc/issuers lists it.
type issuerJSON struct {
	URL          string   `json:"url"`
	Keys         []string `json:"keys"`
	SigningKey   string   `json:"signingKey"`
	TokensMinted int64    `json:"tokensMinted"`
}

// Read reads the lab's State, for issuer, through the admin API.
func Read(ctx context.Context, get Getter, issuer string) (State, error) {
	var s State
	var clock struct {
		OffsetSeconds int64 `json:"offsetSeconds"`
	}
	if err := get(ctx, "/_idlab/clock", &clock); err != nil {
		return s, fmt.Errorf("read clock: %w", err)
	}
	s.ClockOffsetSeconds = clock.OffsetSeconds
	var issuers []issuerJSON
	if err := get(ctx, "/_idlab/oidc/issuers", &issuers); err != nil {
		return s, fmt.Errorf("read issuers: %w", err)
	}
	i := slices.IndexFunc(issuers, func(i issuerJSON) bool { return i.URL == issuer })
	if i < 0 {
		return s, fmt.Errorf("the lab hosts no issuer %s", issuer)
	}
	s.IssuerKeys, s.SigningKey, s.TokensMinted = slices.Sorted(slices.Values(issuers[i].Keys)), issuers[i].SigningKey, issuers[i].TokensMinted
	var err error
	if s.Roles, err = arns(ctx, get, "/_idlab/iam/roles"); err != nil {
		return s, err
	}
	if s.Users, err = arns(ctx, get, "/_idlab/iam/users"); err != nil {
		return s, err
	}
	ds, err := decisionIDs(ctx, get, "")
	if err != nil {
		return s, err
	}
	if len(ds) > 0 {
		s.NewestDecision = ds[len(ds)-1]
	}
	return s, nil
}

// arns lists the ARNs an IAM admin listing holds.
func arns(ctx context.Context, get Getter, path string) ([]string, error) {
	var list []struct {
		ARN string `json:"arn"`
	}
	if err := get(ctx, path, &list); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.ARN)
	}
	return out, nil
}

// decisionIDs lists the IDs of the IAM decisions after since ("" for all).
func decisionIDs(ctx context.Context, get Getter, since string) ([]string, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	q.Set("cloud", "aws")
	var ds []struct {
		Seq int64 `json:"seq"`
	}
	if err := get(ctx, "/_idlab/decisions?"+q.Encode(), &ds); err != nil {
		return nil, fmt.Errorf("read decisions: %w", err)
	}
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, strconv.FormatInt(d.Seq, 10))
	}
	return out, nil
}

// Changes reads the lab again and says, one line each, what differs from
// before; none means nothing was changed. Decisions logged since are no
// change (other suites run meanwhile), a lost one is.
func Changes(ctx context.Context, get Getter, issuer string, before State) ([]string, error) {
	after, err := Read(ctx, get, issuer)
	if err != nil {
		return nil, err
	}
	var out []string
	diff := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			out = append(out, fmt.Sprintf("%s: %v, now %v", what, a, b))
		}
	}
	diff("clock offset (s)", before.ClockOffsetSeconds, after.ClockOffsetSeconds)
	diff("keys of "+issuer, before.IssuerKeys, after.IssuerKeys)
	diff("signing key of "+issuer, before.SigningKey, after.SigningKey)
	diff("tokens minted by "+issuer, before.TokensMinted, after.TokensMinted)
	diff("IAM roles", before.Roles, after.Roles)
	diff("IAM users", before.Users, after.Users)
	if before.NewestDecision != "" {
		n, err := strconv.ParseInt(before.NewestDecision, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decision ID %q: %w", before.NewestDecision, err)
		}
		ids, err := decisionIDs(ctx, get, strconv.FormatInt(n-1, 10))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, before.NewestDecision) {
			out = append(out, "IAM decision log: decision "+before.NewestDecision+" is gone (the log was wiped)")
		}
	}
	return out, nil
}
