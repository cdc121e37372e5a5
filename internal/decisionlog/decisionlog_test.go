package decisionlog

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sample is a log of five decisions, all at the same instant (as a frozen
// or advanced lab clock makes them): only Seq orders them.
func sample() *Log {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Log{}
	for _, e := range []Entry{
		{Cloud: AWS, Service: "iam", Principal: "arn:aws:sts::1:assumed-role/app-a/s1", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Effect: Allow, RequestID: "r1"},
		{Cloud: AWS, Service: "iam", Principal: "arn:aws:sts::1:assumed-role/app-b/s2", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Effect: "ImplicitDeny", RequestID: "r2"},
		{Cloud: AWS, Service: "iam", Principal: "https://issuer/x", Action: "sts:AssumeRoleWithWebIdentity", Resource: "arn:aws:iam::1:role/r", Effect: "Rejected", RequestID: "r3"},
		{Cloud: Google, Service: "gcpiam", Principal: "serviceAccount:a@p.iam.gserviceaccount.com", Action: "storage.objects.get", Resource: "projects/_/buckets/b", Effect: Deny},
		{Cloud: Azure, Service: "entra", Principal: "system:serviceaccount:ns:app", Action: "entra:token", Resource: "https://storage.azure.com", Effect: Allow, RequestID: "r5"},
	} {
		e.Time = at
		l.Add(e)
	}
	return l
}

func seqs(es []Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"zero filter: all", Filter{}, []int64{1, 2, 3, 4, 5}},
		{"cloud", Filter{Cloud: AWS}, []int64{1, 2, 3}},
		{"service", Filter{Service: "entra"}, []int64{5}},
		{"principal is a substring", Filter{Principal: ":assumed-role/app-a/"}, []int64{1}},
		{"principal nowhere", Filter{Principal: "app-c"}, []int64{}},
		{"action ignores case", Filter{Action: "S3:getobject"}, []int64{1, 2}},
		{"resource is exact", Filter{Resource: "arn:aws:s3:::b/k"}, []int64{1, 2}},
		{"resource prefix is not enough", Filter{Resource: "arn:aws:s3:::b"}, []int64{}},
		{"effect exact", Filter{Effect: "ImplicitDeny"}, []int64{2}},
		{"effect Deny is every denial", Filter{Effect: Deny}, []int64{2, 3, 4}},
		{"effect Allow", Filter{Effect: Allow}, []int64{1, 5}},
		{"request id", Filter{RequestID: "r3"}, []int64{3}},
		{"since", Filter{Since: 3}, []int64{4, 5}},
		{"since the newest", Filter{Since: 5}, []int64{}},
		{"cloud and effect", Filter{Cloud: AWS, Effect: Deny}, []int64{2, 3}},
		{"action, resource and since", Filter{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Since: 1}, []int64{2}},
		{"principal and request id disagree", Filter{Principal: "app-a", RequestID: "r2"}, []int64{}},
	}
	l := sample()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, seqs(l.Entries(tc.f)))
		})
	}
}

// TestSincePages pages through decisions that share one instant, two at a
// time, while more are written: none is lost or read twice.
func TestSincePages(t *testing.T) {
	l := sample()
	var got []int64
	var cursor int64
	for page := 0; page < 10; page++ {
		es := l.Entries(Filter{Since: cursor})
		if len(es) > 2 {
			es = es[:2]
		}
		for _, e := range es {
			got = append(got, e.Seq)
			cursor = e.Seq
		}
		if page == 1 {
			l.Add(Entry{Cloud: AWS, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, got)
}

func TestLogKeepsTheNewestAndNumbersOn(t *testing.T) {
	l := &Log{Max: 3}
	for range 5 {
		l.Add(Entry{Cloud: AWS})
	}
	require.Equal(t, []int64{3, 4, 5}, seqs(l.Entries(Filter{})))
	got := l.Entries(Filter{})
	got[0].Cloud = "changed"
	require.Equal(t, AWS, l.Entries(Filter{})[0].Cloud, "Entries returns a copy")
	l.Add(Entry{Cloud: Google})
	l.Reset(Filter{Cloud: AWS})
	require.Equal(t, []int64{6}, seqs(l.Entries(Filter{})), "Reset drops what the filter selects")
	require.Equal(t, int64(7), l.Add(Entry{Seq: 99}).Seq, "Seq keeps increasing after a reset, whatever the entry held")
	l.Reset(Filter{})
	require.Empty(t, l.Entries(Filter{}))
	var zero Log
	require.Equal(t, int64(1), zero.Add(Entry{}).Seq, "the zero value works")
}

func TestConcurrentAddsGetDistinctSeqs(t *testing.T) {
	var l Log
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				l.Add(Entry{})
			}
		}()
	}
	wg.Wait()
	es := l.Entries(Filter{})
	require.Len(t, es, 800)
	for i, e := range es {
		require.Equal(t, int64(i+1), e.Seq)
	}
}

func TestEntry(t *testing.T) {
	require.True(t, Entry{Effect: Allow}.Allowed())
	require.False(t, Entry{Effect: "ImplicitDeny"}.Allowed())
	require.Equal(t, "many lines", Entry{Effect: Deny, Detail: map[string]string{"explanation": "many lines"}}.Explanation())
	require.Equal(t, "Deny: no role", Entry{Effect: Deny, Reason: "no role"}.Explanation())
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		query string
		want  Filter
		err   string
	}{
		{query: "", want: Filter{}},
		{query: "cloud=aws&service=iam&principal=app-a&action=s3:GetObject&resource=arn:aws:s3:::b/k&effect=Deny&request_id=r1&since=7",
			want: Filter{Cloud: AWS, Service: "iam", Principal: "app-a", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Effect: Deny, RequestID: "r1", Since: 7}},
		{query: "since=0", want: Filter{}},
		{query: "since=-1", err: `since "-1": want the seq of a decision, a non-negative integer`},
		{query: "since=2026-01-01T00:00:00Z", err: `since "2026-01-01T00:00:00Z": want the seq`},
		{query: "since=abc", err: `since "abc"`},
		{query: "cloud=moon", err: `cloud "moon": want aws, google or azure`},
		{query: "requestId=r1", err: `unknown parameter "requestId"`},
		{query: "action=a&action=b", err: `parameter "action" given 2 times`},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			f, err := ParseQuery(q)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f)
			back, err := ParseQuery(f.Query())
			require.NoError(t, err)
			require.Equal(t, f, back, "Query is ParseQuery's inverse")
		})
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(sample()))
	defer srv.Close()
	tests := []struct {
		name, method, query string
		status              int
		seqs                []int64
		message             string
	}{
		{name: "all", method: "GET", status: 200, seqs: []int64{1, 2, 3, 4, 5}},
		{name: "filtered", method: "GET", query: "cloud=aws&effect=Deny&since=2", status: 200, seqs: []int64{3}},
		{name: "none is an empty array", method: "GET", query: "request_id=nope", status: 200, seqs: []int64{}},
		{name: "bad since", method: "GET", query: "since=yesterday", status: 400, message: `since "yesterday": want the seq of a decision`},
		{name: "bad cloud", method: "GET", query: "cloud=moon", status: 400, message: `cloud "moon"`},
		{name: "unknown parameter", method: "GET", query: "member=x", status: 400, message: `unknown parameter "member"`},
		{name: "not GET", method: "DELETE", status: 405, message: "GET the decisions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+"?"+tc.query, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			if tc.status != 200 {
				var e map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
				require.Contains(t, e["message"], tc.message)
				return
			}
			var es []Entry
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&es))
			require.Equal(t, tc.seqs, seqs(es))
		})
	}
}

// TestRing: the log keeps the newest Max entries in order through wraps,
// resets between wraps and Max changing under it.
func TestRing(t *testing.T) {
	span := func(a, b int64) []int64 {
		var out []int64
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name string
		run  func(l *Log)
		want []int64
	}{
		{"under the limit", func(l *Log) { add(l, 2) }, span(1, 2)},
		{"exactly full", func(l *Log) { add(l, 4) }, span(1, 4)},
		{"wrapped once", func(l *Log) { add(l, 6) }, span(3, 6)},
		{"wrapped many times", func(l *Log) { add(l, 4*7+3) }, span(28, 31)},
		{"reset half while wrapped, then refill", func(l *Log) {
			add(l, 6)                 // 3..6
			l.Reset(Filter{Since: 4}) // drops 5, 6
			add(l, 3)                 // 7..9
		}, []int64{4, 7, 8, 9}},
		{"Max lowered while wrapped", func(l *Log) { add(l, 6); l.Max = 2; add(l, 1) }, span(6, 7)},
		{"Max raised while wrapped", func(l *Log) { add(l, 6); l.Max = 6; add(l, 3) }, span(4, 9)},
		{"Max raised then wrapped again", func(l *Log) { add(l, 6); l.Max = 5; add(l, 7) }, span(9, 13)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &Log{Max: 4}
			tc.run(l)
			require.Equal(t, tc.want, seqs(l.Entries(Filter{})))
		})
	}
}

func add(l *Log, n int) {
	for range n {
		l.Add(Entry{Cloud: AWS})
	}
}

// TestFullLogAddsWithoutCopying: a full log overwrites in place; the old
// code copied every entry on every Add once full.
func TestFullLogAddsWithoutCopying(t *testing.T) {
	var l Log
	add(&l, DefaultMax+10)
	e := Entry{Cloud: AWS, Principal: "p"}
	allocs := testing.AllocsPerRun(100, func() { l.Add(e) })
	require.Zero(t, allocs)
	require.Len(t, l.Entries(Filter{}), DefaultMax)
}

// DetailFunc runs when the entry is first read, once, and never when
// nobody reads the log.
func TestDetailFuncRunsOnRead(t *testing.T) {
	l := &Log{}
	calls := 0
	l.Add(Entry{Cloud: AWS, Effect: Allow, DetailFunc: func() map[string]string {
		calls++
		return map[string]string{"explanation": "ALLOWED: because"}
	}})
	require.Equal(t, 0, calls, "adding renders nothing")
	for range 2 {
		got := l.Entries(Filter{})
		require.Len(t, got, 1)
		require.Equal(t, "ALLOWED: because", got[0].Explanation())
		require.Nil(t, got[0].DetailFunc)
	}
	require.Equal(t, 1, calls, "rendered once, then kept")
	require.Empty(t, l.Entries(Filter{Cloud: Google}))
	raw, err := json.Marshal(l.Entries(Filter{})[0])
	require.NoError(t, err)
	require.Contains(t, string(raw), `"detail":{"explanation":"ALLOWED: because"}`)
}
