// Package decisionlog is the one allow/deny decision log every emulator
// writes: Entry is a decision, Log keeps the newest entries in order and
// numbers them, Filter selects them for the admin API.
package decisionlog

import (
	"strings"
	"sync"
	"time"
)

// DefaultMax is how many decisions a Log keeps unless told otherwise.
const DefaultMax = 10000

// Clouds an Entry names.
const (
	AWS    = "aws"
	Google = "google"
	Azure  = "azure"
)

// Effects. AWS refines a denial into ImplicitDeny, ExplicitDeny or
// Rejected; the other clouds write Deny.
const (
	Allow = "Allow"
	Deny  = "Deny"
)

// Entry is one allow/deny decision.
type Entry struct {
	// Seq numbers the entries of one Log, from 1, strictly increasing: the
	// cursor Filter.Since pages with (never the time, which the lab's
	// clock moves and two decisions may share).
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Cloud is aws, google or azure; Service the emulator that decided
	// (iam for every AWS service, gcpiam for Google's, entra, azureblob).
	Cloud   string `json:"cloud"`
	Service string `json:"service"`
	// Principal is who asked: an ARN for AWS, a member for Google, the
	// assertion subject (Entra) or the token's object ID (blob) for Azure.
	Principal string `json:"principal"`
	// Action is the operation asked for (s3:GetObject,
	// iam.serviceAccounts.getAccessToken, entra:token, a blob data action).
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// Effect is Allow or a denial: Deny, or AWS's ImplicitDeny,
	// ExplicitDeny and Rejected (refused before any policy was evaluated).
	Effect string `json:"effect"`
	// Reason says why in one sentence; AWS rejections start with the error
	// code the caller got.
	Reason    string `json:"reason"`
	RequestID string `json:"requestId,omitempty"`
	// Code is the error code the caller got for a denial when the cloud
	// has one (AADSTS700213, AuthorizationPermissionMismatch).
	Code string `json:"code,omitempty"`
	// Detail holds what one emulator knows beyond these fields (IAM's
	// explanation, Entra's tenant, the blob container ...).
	Detail map[string]string `json:"detail,omitempty"`
	// DetailFunc, when set, makes Detail the first time the entry is read
	// (Entries): an emulator whose explanation costs more to render than
	// its decision did pays for it only when someone reads the log.
	DetailFunc func() map[string]string `json:"-"`
}

// Allowed reports whether the decision allowed the request.
func (e Entry) Allowed() bool { return e.Effect == Allow }

// Explanation is the emulator's account of the decision in plain words:
// Detail["explanation"] when it wrote one (AWS), else Effect and Reason.
func (e Entry) Explanation() string {
	if x := e.Detail["explanation"]; x != "" {
		return x
	}
	return e.Effect + ": " + e.Reason
}

// Log keeps the newest Max entries, oldest first, and numbers them. Several
// emulators may share one Log, so one cursor pages through all of them.
// The zero value is ready and keeps DefaultMax. The entries sit in a ring:
// a full log overwrites its oldest entry in place, copying nothing.
type Log struct {
	Max int

	mu    sync.Mutex
	seq   int64
	ring  []Entry // the entries held: grows to the limit, then wraps
	start int     // index of the oldest entry in ring
}

// limit is the number of entries l keeps.
func (l *Log) limit() int {
	if l.Max <= 0 {
		return DefaultMax
	}
	return l.Max
}

// Add numbers e (its Seq is set, whatever it held) and appends it, dropping
// the oldest entry when the log is full. It returns e as logged.
func (l *Log) Add(e Entry) Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.limit()
	l.seq++
	e.Seq = l.seq
	if len(l.ring) > limit || len(l.ring) < limit && l.start != 0 {
		l.resize(limit) // Max changed since the ring wrapped
	}
	if len(l.ring) < limit { // still growing, oldest first from index 0
		l.ring = append(l.ring, e)
	} else { // full: overwrite the oldest
		l.ring[l.start] = e
		l.start = (l.start + 1) % len(l.ring)
	}
	return e
}

// resize moves the newest entries, at most limit, to a ring of that
// capacity. l.mu must be held.
func (l *Log) resize(limit int) {
	n := len(l.ring)
	keep := min(n, limit)
	ring := make([]Entry, keep, limit)
	for k := range keep {
		ring[k] = l.ring[(l.start+n-keep+k)%n]
	}
	l.ring, l.start = ring, 0
}

// Entries returns a copy of the entries f selects, oldest first.
func (l *Log) Entries(f Filter) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Entry{}
	for k := range len(l.ring) {
		i := (l.start + k) % len(l.ring)
		if e := l.ring[i]; f.Match(e) {
			if e.DetailFunc != nil {
				e.Detail, e.DetailFunc = e.DetailFunc(), nil
				l.ring[i] = e
			}
			out = append(out, e)
		}
	}
	return out
}

// Reset drops the entries f selects (Filter{} for all). Numbering goes
// on, so a cursor taken before still pages correctly.
func (l *Log) Reset(f Filter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := make([]Entry, 0, len(l.ring))
	for k := range len(l.ring) {
		if e := l.ring[(l.start+k)%len(l.ring)]; !f.Match(e) {
			kept = append(kept, e)
		}
	}
	l.ring, l.start = kept, 0
}

// Filter selects entries; zero fields match everything.
type Filter struct {
	Cloud   string
	Service string
	// Principal matches a substring of the principal (":assumed-role/app/").
	Principal string
	// Action matches exactly, ignoring case.
	Action   string
	Resource string
	// Effect matches exactly, except that Deny matches every denial.
	Effect    string
	RequestID string
	// Since keeps only entries with a larger Seq.
	Since int64
}

// Match reports whether f selects e.
func (f Filter) Match(e Entry) bool {
	switch {
	case f.Cloud != "" && e.Cloud != f.Cloud,
		f.Service != "" && e.Service != f.Service,
		f.Principal != "" && !strings.Contains(e.Principal, f.Principal),
		f.Action != "" && !strings.EqualFold(e.Action, f.Action),
		f.Resource != "" && e.Resource != f.Resource,
		f.Effect == Deny && e.Allowed(),
		f.Effect != "" && f.Effect != Deny && e.Effect != f.Effect,
		f.RequestID != "" && e.RequestID != f.RequestID,
		e.Seq <= f.Since:
		return false
	}
	return true
}
