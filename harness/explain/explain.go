// Package explain puts the lab's decisions into words for people: one line
// per decision (`idlab decisions`), and the chain behind one decision
// (`idlab explain`): for a web identity, the token's claims, the IAM OIDC
// provider, the trust statement and its condition, then the verdict; for
// any other request, the principal, the policy statements and the verdict.
// It reads only what the decision log records (decisionlog.Entry and the
// details each emulator adds).
package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/decisionlog"
)

// Line is one decision on one line: seq, time, effect, cloud/service,
// action, resource, then principal, request ID, error code and reason as
// key=value pairs (values quoted when they hold spaces).
func Line(e decisionlog.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s %s/%s %s %s", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Effect, e.Cloud, e.Service, orDash(e.Action), orDash(e.Resource))
	for _, kv := range [][2]string{{"principal", e.Principal}, {"request", e.RequestID}, {"code", e.Code}, {"reason", e.Reason}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], quote(kv[1]))
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// quote keeps a value on one line and in one field.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"=") {
		return s
	}
	return strconv.Quote(s)
}

// Verdict is a decision's outcome in capitals, as the chain ends.
func Verdict(effect string) string {
	switch effect {
	case decisionlog.Allow:
		return "ALLOWED"
	case awsiam.ImplicitDeny:
		return "DENIED (implicit deny: no statement allows it)"
	case awsiam.ExplicitDeny:
		return "DENIED (explicit deny)"
	case awsiam.Rejected:
		return "REJECTED (before any policy was evaluated)"
	case decisionlog.Deny:
		return "DENIED"
	}
	return strings.ToUpper(effect)
}

// Chain writes the chain behind e, one step a line.
func Chain(w io.Writer, e decisionlog.Entry) error {
	c := &chain{w: w}
	c.head(e)
	switch {
	case e.Cloud == decisionlog.AWS && strings.EqualFold(e.Action, "sts:AssumeRoleWithWebIdentity"):
		c.webIdentity(e)
	case e.Cloud == decisionlog.AWS:
		c.policy(e)
	default:
		c.other(e)
	}
	c.step("verdict", Verdict(e.Effect)+": "+e.Reason)
	return c.err
}

type chain struct {
	w   io.Writer
	err error
}

func (c *chain) step(what, text string) {
	if c.err != nil || text == "" {
		return
	}
	_, c.err = fmt.Fprintf(c.w, "  %-10s %s\n", what, text)
}

func (c *chain) head(e decisionlog.Entry) {
	req := e.RequestID
	if req == "" {
		req = "(none)"
	}
	if c.err == nil {
		_, c.err = fmt.Fprintf(c.w, "decision %d at %s, request %s (%s %s)\n", e.Seq, e.Time.UTC().Format(time.RFC3339), req, e.Cloud, e.Service)
	}
}

// webIdentity: token -> provider -> trust statement -> condition.
func (c *chain) webIdentity(e decisionlog.Entry) {
	keys := detailJSON[map[string][]string](e, awsiam.DetailKeys)
	host := providerHost(e.Principal)
	if e.Effect == awsiam.Rejected {
		// Refused before the trust policy: the principal is what the
		// token claimed, the reason why STS would not go on.
		c.step("token", e.Principal)
		c.step("refused", e.Reason)
		c.step("role", e.Resource)
		return
	}
	var claims, rest []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		v := strings.Join(keys[k], ", ")
		if claim, ok := strings.CutPrefix(k, host+":"); ok && host != "" {
			claims = append(claims, claim+" "+v)
		} else {
			rest = append(rest, k+" "+v)
		}
	}
	if host != "" {
		claims = append([]string{"iss https://" + host}, claims...)
	}
	c.step("token", strings.Join(claims, ", "))
	c.step("keys", strings.Join(rest, ", "))
	c.step("provider", e.Principal)
	c.step("role", e.Resource)
	c.statements("trust", e)
}

// policy: principal -> action on resource -> statements.
func (c *chain) policy(e decisionlog.Entry) {
	c.step("principal", e.Principal)
	c.step("action", e.Action+" on "+e.Resource)
	if keys := detailJSON[map[string][]string](e, awsiam.DetailKeys); len(keys) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			kv = append(kv, k+" "+strings.Join(keys[k], ", "))
		}
		c.step("keys", strings.Join(kv, ", "))
	}
	c.statements("policy", e)
}

// statements names the statements that decided, or the one that nearly
// allowed the request and the condition that stopped it.
func (c *chain) statements(what string, e decisionlog.Entry) {
	for _, m := range detailJSON[[]awsiam.MatchedStatement](e, awsiam.DetailMatched) {
		c.step(what, fmt.Sprintf("statement %s of %s (%s)", label(m), m.Policy, m.Effect))
	}
	if near := detailJSON[*awsiam.NearMiss](e, awsiam.DetailNear); near != nil {
		c.step(what, fmt.Sprintf("statement %s of %s (%s) would allow it", label(near.Statement), near.Statement.Policy, near.Statement.Effect))
		c.step("condition", strings.TrimPrefix(near.Condition, "condition ")+": it does not hold")
	}
}

// other: the Google and Azure decisions, with their emulator's details.
func (c *chain) other(e decisionlog.Entry) {
	c.step("principal", e.Principal)
	c.step("action", e.Action+" on "+e.Resource)
	for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
		if k != "explanation" {
			c.step(k, e.Detail[k])
		}
	}
	c.step("code", e.Code)
}

func label(m awsiam.MatchedStatement) string {
	if m.Sid != "" {
		return strconv.Quote(m.Sid)
	}
	return "#" + strconv.Itoa(m.Index)
}

// providerHost is the provider part of a web identity principal: the host
// and path of an IAM OIDC provider ARN, or accounts.google.com.
func providerHost(principal string) string {
	if _, rest, ok := strings.Cut(principal, ":oidc-provider/"); ok {
		return rest
	}
	if principal == "accounts.google.com" {
		return principal
	}
	return ""
}

// detailJSON decodes e.Detail[key] (the zero value when absent or bad).
func detailJSON[T any](e decisionlog.Entry, key string) T {
	var v T
	if raw := e.Detail[key]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &v)
	}
	return v
}
