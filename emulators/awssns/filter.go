package awssns

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// filterPolicy is a subscription's FilterPolicy: every key must match one
// of its rules. Rules are exact strings, exact numbers, and the operators
// exists, prefix and anything-but.
type filterPolicy map[string][]any

func parseFilterPolicy(s string) (filterPolicy, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, errors.New("failed to parse JSON")
	}
	if len(raw) == 0 {
		return nil, errors.New("Filter policy can not be empty")
	}
	f := filterPolicy{}
	for k, v := range raw {
		var rules []any
		if err := json.Unmarshal(v, &rules); err != nil {
			return nil, fmt.Errorf("Filter policy value of %q must be an array", k)
		}
		if len(rules) == 0 {
			return nil, fmt.Errorf("Empty arrays are not allowed (key %q)", k)
		}
		for _, r := range rules {
			if err := checkRule(r); err != nil {
				return nil, err
			}
		}
		f[k] = rules
	}
	return f, nil
}

func checkRule(r any) error {
	switch r := r.(type) {
	case string, float64, nil:
		return nil
	case map[string]any:
		if len(r) != 1 {
			return errors.New("Only one key allowed in match expression")
		}
		for op, v := range r {
			switch op {
			case "exists":
				if _, ok := v.(bool); !ok {
					return errors.New("exists match pattern must be either true or false.")
				}
			case "prefix":
				if _, ok := v.(string); !ok {
					return errors.New("prefix match pattern must be a string")
				}
			case "anything-but":
			default:
				return fmt.Errorf("Unrecognized match type %s", op)
			}
		}
		return nil
	}
	return errors.New("Match value must be String, number, true, false, or null")
}

// matches reports whether a message with these attributes (or body fields,
// for FilterPolicyScope MessageBody) passes the policy.
func (f filterPolicy) matches(attrs map[string]MessageAttribute) bool {
	for key, rules := range f {
		a, present := attrs[key]
		ok := false
		for _, r := range rules {
			if m, isOp := r.(map[string]any); isOp {
				if e, has := m["exists"]; has {
					if e.(bool) == present {
						ok = true
					}
					continue
				}
			}
			if present && ruleMatches(r, candidates(a)) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// candidates are an attribute's values: the elements of a String.Array,
// else its one value (float64 for Number, string otherwise).
func candidates(a MessageAttribute) []any {
	switch {
	case strings.HasPrefix(a.DataType, "String.Array"):
		var arr []any
		if json.Unmarshal([]byte(a.StringValue), &arr) == nil {
			return arr
		}
		return nil
	case strings.HasPrefix(a.DataType, "Number"):
		n, err := strconv.ParseFloat(a.StringValue, 64)
		if err != nil {
			return nil
		}
		return []any{n}
	case strings.HasPrefix(a.DataType, "String"):
		return []any{a.StringValue}
	}
	return nil
}

func ruleMatches(r any, cands []any) bool {
	for _, c := range cands {
		switch r := r.(type) {
		case string, float64:
			if r == c {
				return true
			}
		case map[string]any:
			if p, ok := r["prefix"].(string); ok {
				if s, ok := c.(string); ok && strings.HasPrefix(s, p) {
					return true
				}
			}
			if ab, ok := r["anything-but"]; ok {
				list, isList := ab.([]any)
				if !isList {
					list = []any{ab}
				}
				hit := false
				for _, x := range list {
					if x == c {
						hit = true
					}
				}
				if !hit {
					return true
				}
			}
		}
	}
	return false
}

// bodyFields turns the top level of a JSON message body into attributes,
// for FilterPolicyScope MessageBody.
func bodyFields(message string) map[string]MessageAttribute {
	var m map[string]any
	if json.Unmarshal([]byte(message), &m) != nil {
		return nil
	}
	out := map[string]MessageAttribute{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = MessageAttribute{DataType: "String", StringValue: v}
		case float64:
			out[k] = MessageAttribute{DataType: "Number", StringValue: strconv.FormatFloat(v, 'f', -1, 64)}
		case []any:
			b, _ := json.Marshal(v)
			out[k] = MessageAttribute{DataType: "String.Array", StringValue: string(b)}
		case bool:
			out[k] = MessageAttribute{DataType: "String", StringValue: strconv.FormatBool(v)}
		}
	}
	return out
}
