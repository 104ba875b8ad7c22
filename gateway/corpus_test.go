package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/planner"
)

// The planner corpus: testdata/corpus/<NN-name>/ holds one operation each,
//
//	query.graphql   the operation
//	variables.json  its variables (optional)
//	setup.graphql   (optional) run first, uncounted, with the same token;
//	                the first pageInfo.endCursor of its answer becomes the
//	                variable "after" (for pagination cases)
//	expect.json     {"token", "calls", "depth", "why", "codes"}
//
// The numbers in expect.json are derived by hand from the rules of
// graphql-api.md ("How few upstream calls: the plan", rules 1-5) and the
// demo data (demo/data.go), never copied from a run: a failing case is a
// deviation of the gateway from those rules until the rules say otherwise.

const corpusDir = "../testdata/corpus"

// corpusLatency is added to every demo request in TestCorpus, so that
// calls that do not wait for each other overlap visibly: each starts
// before any of them has answered.
const corpusLatency = 50 * time.Millisecond

// corpusSettle is how long TestCorpus waits after an answer before it reads
// the counters, so that calls still being started are counted.
const corpusSettle = 20 * time.Millisecond

// corpusExpect is a case's expect.json.
type corpusExpect struct {
	// Token is "" (anonymous), "support" (staff-1 with scope support) or
	// the customer id the token is for.
	Token string `json:"token"`
	// Calls is the number of upstream HTTP requests per service.
	Calls map[string]int `json:"calls"`
	// Depth is the longest chain of dependent upstream calls.
	Depth int    `json:"depth"`
	Why   string `json:"why"`
	// Codes are the extensions.code of the errors the response must hold
	// (in any order); none when absent.
	Codes []string `json:"codes"`
	// PlanBound, when set, says why the plan (worked out from the
	// operation alone) can only bound what runs for this data: keys that
	// another point fetched already, or parents that turn out to have no
	// children. Every batch must then still be a step of the plan, with no
	// more batches per call than steps, and the plan's depth at least the
	// depth that ran.
	PlanBound string `json:"planBound"`
}

type corpusCase struct {
	name   string
	query  string
	setup  string
	vars   map[string]any
	expect corpusExpect
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	var cases []corpusCase
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		dir := filepath.Join(corpusDir, ent.Name())
		c := corpusCase{name: ent.Name()}
		q, err := os.ReadFile(filepath.Join(dir, "query.graphql"))
		if err != nil {
			t.Fatalf("%s: %v", ent.Name(), err)
		}
		c.query = string(q)
		if s, err := os.ReadFile(filepath.Join(dir, "setup.graphql")); err == nil {
			c.setup = string(s)
		}
		if v, err := os.ReadFile(filepath.Join(dir, "variables.json")); err == nil {
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&c.vars); err != nil {
				t.Fatalf("%s: variables.json: %v", ent.Name(), err)
			}
		}
		raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
		if err != nil {
			t.Fatalf("%s: %v", ent.Name(), err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.expect); err != nil {
			t.Fatalf("%s: expect.json: %v", ent.Name(), err)
		}
		if c.expect.Why == "" {
			t.Fatalf("%s: expect.json has no why", ent.Name())
		}
		maps.DeleteFunc(c.expect.Calls, func(_ string, n int) bool { return n == 0 })
		if c.expect.Calls == nil {
			c.expect.Calls = map[string]int{}
		}
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	if len(cases) < 32 {
		t.Fatalf("corpus has %d cases, want at least 32", len(cases))
	}
	return cases
}

// corpusToken turns expect.json's token into a bearer token.
func (e *env) corpusToken(who string) string {
	switch who {
	case "":
		return ""
	case "support":
		return e.token("staff-1", "support")
	default:
		return e.token(who)
	}
}

// planned sends the query as e.query does, with X-Tutti-Plan set to mode.
func (e *env) planned(mode, token, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(gateway.PlanHeader, mode)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

// prepare runs the case's setup (uncounted) and returns its variables.
func (e *env) prepare(t *testing.T, c corpusCase, token string) map[string]any {
	t.Helper()
	vars := maps.Clone(c.vars)
	if c.setup == "" {
		return vars
	}
	r := e.query(token, c.setup, c.vars).mustOK(t)
	var data any
	r.decode(t, &data)
	cursor, ok := findString(data, "endCursor")
	if !ok {
		t.Fatalf("setup answered no endCursor: %s", r.Data)
	}
	if vars == nil {
		vars = map[string]any{}
	}
	vars["after"] = cursor
	return vars
}

func findString(v any, key string) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x[key].(string); ok {
			return s, true
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if s, ok := findString(x[k], key); ok {
				return s, true
			}
		}
	case []any:
		for _, y := range x {
			if s, ok := findString(y, key); ok {
				return s, true
			}
		}
	}
	return "", false
}

// extension decodes extensions[name] into v.
func (r response) extension(t *testing.T, name string, v any) {
	t.Helper()
	raw, ok := r.Extensions[name]
	if !ok {
		t.Fatalf("response has no extensions.%s: %v", name, r.Extensions)
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("extensions.%s: %v\n%s", name, err, b)
	}
}

// upstreamRecorder sits between the gateway and the demo services and
// records when each upstream request started and ended, so the test can
// tell which requests waited for which: a request that starts after
// another one ended is one round trip further down the chain.
type upstreamRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	demo   *demo.Demo
	start  time.Time
	events []*upstreamEvent
}

type upstreamEvent struct {
	Service string
	Path    string
	// End is -1 while the request is under way.
	Start, End time.Duration
}

func newUpstreamRecorder(t *testing.T) *upstreamRecorder {
	rec := &upstreamRecorder{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		svc, rest, _ := strings.Cut(strings.TrimPrefix(pr.In.URL.Path, "/"), "/")
		target, _ := url.Parse(rec.demo.URL(svc))
		pr.SetURL(target)
		pr.Out.URL.Path = strings.TrimSuffix(target.Path, "/") + "/" + rest
		pr.Out.URL.RawPath = ""
		pr.Out.Host = target.Host
	}}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		rec.mu.Lock()
		ev := &upstreamEvent{Service: svc, Path: r.URL.RequestURI(), Start: time.Since(rec.start), End: -1}
		rec.events = append(rec.events, ev)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
		rec.mu.Lock()
		ev.End = time.Since(rec.start)
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// env returns the setenv entries pointing every upstream at the recorder.
func (rec *upstreamRecorder) env() map[string]string {
	vars := map[string]string{}
	for _, s := range gateway.Services {
		vars["UPSTREAM_"+upper(s)+"_URL"] = rec.srv.URL + "/" + s
	}
	return vars
}

func (rec *upstreamRecorder) reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.start, rec.events = time.Now(), nil
}

// depth returns the longest chain of upstream requests each of which
// started after the one before it had ended, with the timeline.
func (rec *upstreamRecorder) depth() (int, string) {
	rec.mu.Lock()
	evs := make([]upstreamEvent, len(rec.events))
	for i, ev := range rec.events {
		evs[i] = *ev
	}
	rec.mu.Unlock()
	sort.Slice(evs, func(i, j int) bool { return evs[i].Start < evs[j].Start })
	level := make([]int, len(evs))
	longest := 0
	var b strings.Builder
	for i, ev := range evs {
		level[i] = 1
		for j := range i {
			if evs[j].End >= 0 && evs[j].End <= ev.Start {
				level[i] = max(level[i], level[j]+1)
			}
		}
		longest = max(longest, level[i])
		fmt.Fprintf(&b, "\n    %d: %6.1f-%6.1fms %s %s", level[i], ms(ev.Start), ms(ev.End), ev.Service, ev.Path)
	}
	return longest, b.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TestCorpus runs every corpus operation with X-Tutti-Plan: 1 and checks
// (a) the upstream requests per service, (b) that the plan the gateway
// shows is what ran: one batch per step and call, keys within the step's
// maxKeys, and the plan's depth, (c) the errors, and (d) the chain of
// dependent upstream requests that actually ran, as timed between the
// gateway and the demo services.
func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	rec := newUpstreamRecorder(t)
	e := newEnv(t, rec.env())
	rec.demo = e.demo
	for _, s := range demo.Services {
		e.demo.SetLatency(s, corpusLatency)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := e.corpusToken(c.expect.Token)
			vars := e.prepare(t, c, token)
			e.demo.ResetCounters()
			rec.reset()
			r := e.planned("1", token, c.query, vars)
			// Calls the gateway starts after it answered count too.
			time.Sleep(corpusSettle)
			got := e.calls()
			ran, timeline := rec.depth()
			var plan planner.Plan
			var traced []loaders.TracedCall
			r.extension(t, "plan", &plan)
			r.extension(t, "calls", &traced)
			explain := func() string {
				p, _ := json.MarshalIndent(plan, "  ", "  ")
				tr, _ := json.Marshal(traced)
				return fmt.Sprintf("\n  why: %s\n  by endpoint: %v\n  plan: %s\n  calls: %s", c.expect.Why, e.demo.CallsByEndpoint(), p, tr)
			}

			// (c) errors.
			wantCodes := slices.Sorted(slices.Values(c.expect.Codes))
			gotCodes := slices.Sorted(slices.Values(r.codes()))
			if r.Status != http.StatusOK || !slices.Equal(gotCodes, wantCodes) {
				t.Errorf("(c) status %d, error codes %v, want 200 and %v: %+v", r.Status, gotCodes, wantCodes, r.Errors)
			}

			// (a) upstream requests per service.
			if !maps.Equal(got, c.expect.Calls) {
				t.Errorf("(a) upstream requests = %v, want %v%s", got, c.expect.Calls, explain())
			}

			// (b) the plan is what ran.
			steps := map[string][]*planner.Step{}
			for _, s := range plan.Steps {
				steps[s.Call] = append(steps[s.Call], s)
			}
			batches := map[string][]loaders.TracedCall{}
			for _, b := range traced {
				batches[b.Call] = append(batches[b.Call], b)
			}
			// (e) every batch was started by the plan, none gathered in
			// the dataloader's window by resolvers' loads.
			for _, b := range traced {
				if b.Loader {
					t.Errorf("(e) %s (%d keys at %.1f ms) was gathered by resolvers' loads in the batching window, not started by the plan%s", b.Call, b.Keys, b.StartMs, explain())
				}
			}
			names := slices.Sorted(maps.Keys(steps))
			for name := range batches {
				if _, ok := steps[name]; !ok {
					names = append(names, name)
				}
			}
			for _, name := range names {
				ss, bs := steps[name], batches[name]
				if c.expect.PlanBound != "" && len(bs) <= len(ss) {
					continue
				}
				if len(ss) != len(bs) {
					t.Errorf("(b) %s: plan has %d step(s), %d batch(es) ran%s", name, len(ss), len(bs), explain())
					continue
				}
				sort.Slice(ss, func(i, j int) bool { return ss[i].ID < ss[j].ID })
				sort.SliceStable(bs, func(i, j int) bool { return bs[i].StartMs < bs[j].StartMs })
				for i := range ss {
					if bs[i].Keys > ss[i].MaxKeys {
						t.Errorf("(b) %s: batch %d had %d keys, step %d allows %d%s", name, i+1, bs[i].Keys, ss[i].ID, ss[i].MaxKeys, explain())
					}
				}
			}
			if c.expect.PlanBound != "" {
				if plan.Depth < c.expect.Depth {
					t.Errorf("(b) plan depth = %d, below the %d that ran%s", plan.Depth, c.expect.Depth, explain())
				}
			} else if plan.Depth != c.expect.Depth {
				t.Errorf("(b) plan depth = %d, want %d%s", plan.Depth, c.expect.Depth, explain())
			}

			// (d) the chain that ran.
			if ran != c.expect.Depth {
				t.Errorf("(d) the upstream requests ran as a chain of %d, want depth %d%s\n  upstream timeline (level: start-end):%s", ran, c.expect.Depth, explain(), timeline)
			}
			if testing.Verbose() {
				p, _ := json.Marshal(plan.Steps)
				t.Logf("plan depth %d: %s\n  calls: %+v\n  timeline:%s", plan.Depth, p, traced, timeline)
			}
		})
	}
}

// TestCorpusDryRunMakesNoCall asks every corpus operation for its plan
// alone: no upstream request, a plan in extensions.
func TestCorpusDryRunMakesNoCall(t *testing.T) {
	cases := loadCorpus(t)
	e := newEnv(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token := e.corpusToken(c.expect.Token)
			vars := e.prepare(t, c, token)
			e.demo.ResetCounters()
			r := e.planned("dry-run", token, c.query, vars)
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("dry run: status %d, errors %+v", r.Status, r.Errors)
			}
			if got := e.calls(); len(got) > 0 {
				t.Errorf("dry run made upstream requests: %v", e.demo.CallsByEndpoint())
			}
			var plan planner.Plan
			r.extension(t, "plan", &plan)
			if plan.Steps == nil {
				t.Errorf("dry run: extensions.plan has no steps list: %v", r.Extensions["plan"])
			}
			if _, ok := r.Extensions["calls"]; ok {
				t.Errorf("dry run: extensions.calls present: %v", r.Extensions["calls"])
			}
			if !strings.EqualFold(strings.TrimSpace(string(r.Data)), "null") {
				t.Errorf("dry run: data = %s, want null", r.Data)
			}
		})
	}
}
