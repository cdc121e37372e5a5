package awsiam

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// conditionOp is a parsed condition operator.
type conditionOp struct {
	base     string // e.g. "StringLike"
	negated  bool   // StringNotEquals, NotIpAddress, ...
	ifExists bool
	set      string // "", "ForAnyValue", "ForAllValues"
}

// positive maps each operator to its positive form and whether it negates.
var operators = map[string]struct {
	positive string
	negated  bool
}{
	"StringEquals": {"StringEquals", false}, "StringNotEquals": {"StringEquals", true},
	"StringEqualsIgnoreCase": {"StringEqualsIgnoreCase", false}, "StringNotEqualsIgnoreCase": {"StringEqualsIgnoreCase", true},
	"StringLike": {"StringLike", false}, "StringNotLike": {"StringLike", true},
	"NumericEquals": {"NumericEquals", false}, "NumericNotEquals": {"NumericEquals", true},
	"NumericLessThan": {"NumericLessThan", false}, "NumericLessThanEquals": {"NumericLessThanEquals", false},
	"NumericGreaterThan": {"NumericGreaterThan", false}, "NumericGreaterThanEquals": {"NumericGreaterThanEquals", false},
	"DateEquals": {"DateEquals", false}, "DateNotEquals": {"DateEquals", true},
	"DateLessThan": {"DateLessThan", false}, "DateLessThanEquals": {"DateLessThanEquals", false},
	"DateGreaterThan": {"DateGreaterThan", false}, "DateGreaterThanEquals": {"DateGreaterThanEquals", false},
	"Bool": {"Bool", false}, "BinaryEquals": {"BinaryEquals", false},
	"IpAddress": {"IpAddress", false}, "NotIpAddress": {"IpAddress", true},
	"ArnEquals": {"ArnLike", false}, "ArnLike": {"ArnLike", false},
	"ArnNotEquals": {"ArnLike", true}, "ArnNotLike": {"ArnLike", true},
	"Null": {"Null", false},
}

func parseOperator(name string) (conditionOp, error) {
	var op conditionOp
	rest := name
	if r, ok := strings.CutPrefix(rest, "ForAnyValue:"); ok {
		op.set, rest = "ForAnyValue", r
	} else if r, ok := strings.CutPrefix(rest, "ForAllValues:"); ok {
		op.set, rest = "ForAllValues", r
	}
	if r, ok := strings.CutSuffix(rest, "IfExists"); ok && rest != "Null" {
		op.ifExists, rest = true, r
	}
	info, ok := operators[rest]
	if !ok || (rest == "Null" && (op.ifExists || op.set != "")) {
		return op, perr("Syntax errors in policy. (invalid condition operator %s)", name)
	}
	op.base, op.negated = info.positive, info.negated
	return op, nil
}

// condResult is the outcome of one condition with an explanation on failure.
type condResult struct {
	ok     bool
	reason string
}

// evalCondition applies one condition to the request context.
func evalCondition(c Condition, ctx *evalContext, vars bool) condResult {
	got, present := ctx.lookup(c.Key)
	want := c.Values
	if vars && substitutes(c.op.base) {
		want = make([]string, 0, len(c.Values))
		for _, v := range c.Values {
			s, ok := substitute(v, ctx)
			if !ok {
				return condResult{false, fmt.Sprintf("condition %s %s: a policy variable in %q has no value in this request", c.Operator, c.Key, v)}
			}
			want = append(want, s)
		}
	}
	fail := func() condResult {
		if !present {
			return condResult{false, fmt.Sprintf("condition %s %s wants %s, but the request has no %s", c.Operator, c.Key, quoteList(want), c.Key)}
		}
		return condResult{false, fmt.Sprintf("condition %s %s wants %s, got %s", c.Operator, c.Key, quoteList(want), quoteList(got))}
	}
	if c.op.base == "Null" {
		isNull := !present || len(got) == 0
		for _, w := range want {
			if strings.EqualFold(w, "true") == isNull {
				return condResult{ok: true}
			}
		}
		return fail()
	}
	if !present || len(got) == 0 {
		switch {
		case c.op.ifExists, c.op.set == "ForAllValues", c.op.negated && c.op.set == "":
			return condResult{ok: true}
		}
		return fail()
	}
	// matchOne: does request value g satisfy the positive operator for any wanted value?
	matchOne := func(g string) bool {
		for _, w := range want {
			if compare(c.op.base, g, w) {
				return true
			}
		}
		return false
	}
	// satisfies applies the operator (with negation) to one request value.
	satisfies := func(g string) bool { return matchOne(g) != c.op.negated }
	var ok bool
	switch c.op.set {
	case "ForAllValues":
		ok = true
		for _, g := range got {
			if !satisfies(g) {
				ok = false
				break
			}
		}
	case "ForAnyValue":
		for _, g := range got {
			if satisfies(g) {
				ok = true
				break
			}
		}
	default:
		any := false
		for _, g := range got {
			if matchOne(g) {
				any = true
				break
			}
		}
		ok = any != c.op.negated
	}
	if ok {
		return condResult{ok: true}
	}
	return fail()
}

// substitutes reports whether policy variables apply to the operator's values.
func substitutes(base string) bool {
	return strings.HasPrefix(base, "String") || base == "ArnLike"
}

// compare applies a positive base operator to a request value g and a
// policy value w.
func compare(base, g, w string) bool {
	switch base {
	case "StringEquals":
		return g == unliteral(w)
	case "StringEqualsIgnoreCase":
		return strings.EqualFold(g, unliteral(w))
	case "StringLike":
		return globMatch(w, g, false)
	case "NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
		a, err1 := strconv.ParseFloat(g, 64)
		b, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return cmpOrdered(base[len("Numeric"):], a, b)
	case "DateEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
		a, ok1 := parseDate(g)
		b, ok2 := parseDate(w)
		if !ok1 || !ok2 {
			return false
		}
		return cmpOrdered(base[len("Date"):], float64(a.UnixNano()), float64(b.UnixNano()))
	case "Bool":
		return strings.EqualFold(g, w) && (strings.EqualFold(w, "true") || strings.EqualFold(w, "false"))
	case "BinaryEquals":
		a, err1 := base64.StdEncoding.Strict().DecodeString(g)
		b, err2 := base64.StdEncoding.Strict().DecodeString(w)
		return err1 == nil && err2 == nil && bytes.Equal(a, b)
	case "IpAddress":
		return ipMatch(g, w)
	case "ArnLike":
		return arnMatch(w, g)
	}
	return false
}

func cmpOrdered(rel string, a, b float64) bool {
	switch rel {
	case "Equals":
		return a == b
	case "LessThan":
		return a < b
	case "LessThanEquals":
		return a <= b
	case "GreaterThan":
		return a > b
	case "GreaterThanEquals":
		return a >= b
	}
	return false
}

// parseDate accepts ISO 8601 forms IAM accepts and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func ipMatch(ip, cidr string) bool {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false
	}
	if !strings.Contains(cidr, "/") {
		w, err := netip.ParseAddr(cidr)
		return err == nil && w.Unmap() == addr.Unmap()
	}
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return false
	}
	return n.Contains(net.IP(addr.Unmap().AsSlice()))
}

// Literal wildcard characters produced by ${*} and ${?}: private-use runes
// the glob matcher compares as the plain characters.
const (
	litStar     = '\uE000'
	litQuestion = '\uE001'
)

// globMatch matches s against pattern with * and ? (case-insensitive when
// fold is set), rune by rune, without allocating: it runs for every
// action and resource of every statement a request meets.
func globMatch(pattern, s string, fold bool) bool {
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(s) {
		tr, tw := utf8.DecodeRuneInString(s[ti:])
		if pi < len(pattern) {
			pr, pw := utf8.DecodeRuneInString(pattern[pi:])
			if pr == '*' {
				star, mark = pi, ti
				pi += pw
				continue
			}
			if pr == '?' || sameRune(literal(pr), tr, fold) {
				pi += pw
				ti += tw
				continue
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1 // '*' is one byte
		_, mw := utf8.DecodeRuneInString(s[mark:])
		mark += mw
		ti = mark
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// sameRune compares two runes, ignoring case when fold is set.
func sameRune(a, b rune, fold bool) bool {
	return a == b || fold && unicode.ToLower(a) == unicode.ToLower(b)
}

// unliteral turns the ${*} / ${?} placeholders back into plain characters
// for operators without wildcards.
func unliteral(s string) string {
	if !strings.ContainsAny(s, string([]rune{litStar, litQuestion})) {
		return s
	}
	return strings.Map(literal, s)
}

func literal(r rune) rune {
	switch r {
	case litStar:
		return '*'
	case litQuestion:
		return '?'
	}
	return r
}

// splitARN is strings.SplitN(s, ":", 6) without allocating, when s has
// its six parts.
func splitARN(s string) (parts [6]string, ok bool) {
	for i := range 5 {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return parts, false
		}
		parts[i], s = s[:j], s[j+1:]
	}
	parts[5] = s
	return parts, true
}

// arnMatch compares ARNs segment by segment (partition, service, region,
// account, resource) so wildcards do not cross the first five colons.
func arnMatch(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	ps, pok := splitARN(pattern)
	as, aok := splitARN(arn)
	if !pok || !aok {
		return globMatch(pattern, arn, false)
	}
	for i := range ps {
		if !globMatch(ps[i], as[i], false) {
			return false
		}
	}
	return true
}

// substitute replaces policy variables ${key} and ${key, 'default'} from the
// request context. ${*}, ${?} and ${$} stand for the literal characters. It
// reports false when a variable has no value and no default.
func substitute(s string, ctx *evalContext) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		expr := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch expr {
		case "*":
			b.WriteRune(litStar)
			continue
		case "?":
			b.WriteRune(litQuestion)
			continue
		case "$":
			b.WriteByte('$')
			continue
		}
		key, def, hasDef := expr, "", false
		if k, d, ok := strings.Cut(expr, ","); ok {
			d = strings.TrimSpace(d)
			if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
				key, def, hasDef = strings.TrimSpace(k), d[1:len(d)-1], true
			}
		}
		vals, ok := ctx.lookup(key)
		switch {
		case ok && len(vals) == 1:
			b.WriteString(vals[0])
		case hasDef:
			b.WriteString(def)
		default:
			return "", false
		}
	}
}

func quoteList(v []string) string {
	if len(v) == 1 {
		return strconv.Quote(v[0])
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
