package decisionlog

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
)

// queryKeys are the query parameters ParseQuery reads.
var queryKeys = []string{"cloud", "service", "principal", "action", "resource", "effect", "request_id", "since"}

// ParseQuery reads a Filter from the admin API's query:
// cloud=&service=&principal=&action=&resource=&effect=&request_id=&since=SEQ. An
// unknown parameter, a repeated one, an unknown cloud or a since that is
// not a non-negative integer is an error naming it.
func ParseQuery(q url.Values) (Filter, error) {
	var f Filter
	for k, vs := range q {
		if !slices.Contains(queryKeys, k) {
			return f, fmt.Errorf("unknown parameter %q: want one of %v", k, queryKeys)
		}
		if len(vs) > 1 {
			return f, fmt.Errorf("parameter %q given %d times: give it once", k, len(vs))
		}
	}
	f = Filter{Cloud: q.Get("cloud"), Service: q.Get("service"), Principal: q.Get("principal"), Action: q.Get("action"), Resource: q.Get("resource"),
		Effect: q.Get("effect"), RequestID: q.Get("request_id")}
	if f.Cloud != "" && !slices.Contains([]string{AWS, Google, Azure}, f.Cloud) {
		return f, fmt.Errorf("cloud %q: want aws, google or azure", f.Cloud)
	}
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return f, fmt.Errorf("since %q: want the seq of a decision, a non-negative integer", s)
		}
		f.Since = n
	}
	return f, nil
}

// Query is the inverse of ParseQuery: the query parameters that select f.
func (f Filter) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("cloud", f.Cloud)
	set("service", f.Service)
	set("principal", f.Principal)
	set("action", f.Action)
	set("resource", f.Resource)
	set("effect", f.Effect)
	set("request_id", f.RequestID)
	if f.Since > 0 {
		q.Set("since", strconv.FormatInt(f.Since, 10))
	}
	return q
}
