package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/resolvers"
	"github.com/tutti-gw/tutti/schema"
)

// dashboardQuery is the customer dashboard of the issue: a customer and 10
// orders with lines, products, shipments and payments (14 upstream calls).
const dashboardQuery = `query Dashboard($id: ID!) {
  customer(id: $id) {
    name
    tier
    orders(first: 10) {
      id
      status
      placedAt
      total { amount currency }
      lines { quantity unitPrice { amount } product { title price { amount } } }
      shipment { status carrier }
      payment { status }
    }
  }
}`

// threeLevelQuery is customer → orders → lines → product: customers and
// orders together, then one catalog batch.
const threeLevelQuery = `query ThreeLevels($id: ID!) {
  customer(id: $id) {
    name
    orders(first: 10) {
      id
      status
      lines { quantity product { title price { amount currency } } }
    }
  }
}`

// operation parses and validates query against the schema and returns the
// operation context gqlgen's executor would build for it.
func operation(tb testing.TB, sch *ast.Schema, query string, vars map[string]any) *graphql.OperationContext {
	tb.Helper()
	doc, errs := gqlparser.LoadQuery(sch, query)
	if len(errs) > 0 {
		tb.Fatalf("validate: %v", errs)
	}
	op := doc.Operations[0]
	v, err := validator.VariableValues(sch, op, vars)
	if err != nil {
		tb.Fatalf("variables: %v", err)
	}
	return &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: op, Variables: v}
}

// newPlanner builds the planner as gateway.New does.
func newPlanner(tb testing.TB) *planner.Planner {
	tb.Helper()
	sch, err := planner.LoadSchema(loaders.Names(), schema.Sources()...)
	if err != nil {
		tb.Fatalf("load schema: %v", err)
	}
	res := &resolvers.Resolver{}
	return planner.New(sch, res.Hooks())
}

// supportCtx carries a support agent, who may read any customer (the
// planner asks the resolvers' hooks which keys the caller may fetch).
func supportCtx() context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{Subject: "bench-support", Scopes: []string{auth.ScopeSupport}})
}

// BenchmarkPlan measures planning the customer dashboard: the plan of an
// operation already parsed and validated (gqlgen caches documents), and
// the same from the raw query, as for a document seen for the first time.
func BenchmarkPlan(b *testing.B) {
	p := newPlanner(b)
	vars := map[string]any{"id": demo.CustomerMostOrders}
	op := operation(b, p.Schema().AST, dashboardQuery, vars)
	ctx := supportCtx()
	if plan := p.Explain(ctx, op); plan.Depth != 2 || len(plan.Steps) != 5 {
		b.Fatalf("dashboard plan: depth %d, %d steps; want 2 and 5", plan.Depth, len(plan.Steps))
	}
	b.Run("explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Explain(ctx, op)
		}
	})
	b.Run("parse+validate+explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Explain(ctx, operation(b, p.Schema().AST, dashboardQuery, vars))
		}
	})
}

// benchGateway is a gateway over in-process demo services without latency,
// driven through its handler.
type benchGateway struct {
	demo    *demo.Demo
	handler http.Handler
	token   string
}

func newBenchGateway(tb testing.TB) *benchGateway {
	tb.Helper()
	d := demo.New(demo.Options{})
	if err := d.Start(); err != nil {
		tb.Fatalf("start demo: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	const secret = "bench-secret-of-at-least-32-bytes-for-hs256"
	vars := map[string]string{"JWT_HS256_SECRET": secret}
	for _, s := range gateway.Services {
		vars["UPSTREAM_"+strings.ToUpper(s)+"_URL"] = d.URL(s)
	}
	for _, kv := range coldCacheEnv {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := gateway.Load(func(k string) string { return vars[k] })
	if err != nil {
		tb.Fatalf("load config: %v", err)
	}
	gw, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	tb.Cleanup(gw.Close)
	tok, err := auth.SignHS256([]byte(secret), "bench-support", []string{auth.ScopeSupport}, time.Hour)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return &benchGateway{demo: d, handler: gw.Handler(), token: tok}
}

// post sends the query to the handler and returns the answer, failing on
// anything but a clean one.
func (g *benchGateway) post(tb testing.TB, body []byte) []byte {
	rec := g.serve(body)
	if msg := checkAnswer(rec.Code, rec.Body.Bytes(), nil); msg != "" {
		tb.Fatalf("answer: %s\n%s", msg, truncate(rec.Body.Bytes(), 400))
	}
	return rec.Body.Bytes()
}

func (g *benchGateway) serve(body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.token)
	rec := httptest.NewRecorder()
	g.handler.ServeHTTP(rec, req)
	return rec
}

// run checks that one query costs want upstream calls, then measures the
// query, every answer compared with the first (cheaper than decoding it,
// so the figures are the gateway's), and reports the calls per query.
func (g *benchGateway) run(b *testing.B, query string, want map[string]int) []demo.Request {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"id": demo.CustomerMostOrders}})
	g.demo.ResetCounters()
	ref := g.post(b, body)
	var upstream []demo.Request
	for _, s := range demo.Services {
		if got := g.demo.Calls(s); got != want[s] {
			b.Fatalf("%s: %d calls, want %d (all: %v)", s, got, want[s], g.demo.CallsByEndpoint())
		}
		upstream = append(upstream, g.demo.Requests(s)...)
	}
	b.Run("gateway", func(b *testing.B) {
		b.ReportAllocs()
		g.demo.ResetCounters()
		cpu0 := selfCPU()
		for b.Loop() {
			if rec := g.serve(body); rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), ref) {
				b.Fatalf("answer changed (status %d):\n%s", rec.Code, truncate(rec.Body.Bytes(), 400))
			}
		}
		n := 0
		for _, s := range demo.Services {
			n += g.demo.Calls(s)
		}
		b.ReportMetric(float64(n)/float64(b.N), "calls/op")
		// CPU time of the whole process (gateway, demo services, this
		// loop) per query: unlike ns/op, it counts both cores.
		b.ReportMetric(float64(selfCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	// A 404 (an order without a shipment) is an answer like any other.
	b.Run("upstreams-only", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := selfCPU()
		for b.Loop() {
			for _, r := range upstream {
				req := httptest.NewRequest(r.Method, r.Path+"?"+r.RawQuery, bytes.NewReader(r.Body))
				req.Header = r.Header.Clone()
				rec := httptest.NewRecorder()
				g.demo.Handler(r.Service).ServeHTTP(rec, req)
				if rec.Code >= 500 {
					b.Fatalf("replay %s %s: status %d", r.Service, r.Endpoint, rec.Code)
				}
			}
		}
		b.ReportMetric(float64(selfCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	return upstream
}

// BenchmarkExecuteThreeLevels measures the real gateway handler answering
// customer → orders → lines → product over the demo services, on loopback
// with no added latency: 3 upstream calls a query (customers, orders,
// catalog). Allocations and time include the demo services' side of those
// calls, which run in this process; the upstreams-only sub-benchmark
// replays the same upstream requests straight into the demo handlers to
// show how much of it is theirs.
func BenchmarkExecuteThreeLevels(b *testing.B) {
	g := newBenchGateway(b)
	g.run(b, threeLevelQuery, map[string]int{"customers": 1, "orders": 1, "catalog": 1})
}

// BenchmarkExecuteDashboard is the same for the customer dashboard (14
// upstream calls), whose gateway CPU time per query has a target (1 ms).
func BenchmarkExecuteDashboard(b *testing.B) {
	g := newBenchGateway(b)
	g.run(b, dashboardQuery, map[string]int{"customers": 1, "orders": 1, "catalog": 1, "shipping": 10, "payments": 1})
}

// TestCorpusLoads checks that the harness reads every case of the corpus:
// expect.json in the format it knows, a query it can send. Mutations are
// the only cases it may leave out.
func TestCorpusLoads(t *testing.T) {
	dir, cases, skipped, err := loadCorpus("..", "", regexp.MustCompile(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range skipped {
		if !strings.HasSuffix(s, errMutation.Error()) {
			t.Errorf("left out: %s", s)
		}
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no case", dir)
	}
	for _, c := range cases {
		if !c.HasExpect || c.Expect.Calls == nil || c.Expect.Depth == nil {
			t.Errorf("%s: expect.json without calls or depth", c.Name)
		}
		if !json.Valid(c.Body) {
			t.Errorf("%s: request body is not JSON", c.Name)
		}
	}
}

func TestQuantileIsNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := quantile(s, tt.q); got != tt.want {
			t.Errorf("quantile(1..100, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestWriteMarkdownKeepsWhatIsOutsideTheMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.md")
	if err := writeMarkdown(path, "", beginMarker+"\none\n"+endMarker+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := appendFile(path, "\n## Reading\nkept\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(path, "", beginMarker+"\ntwo\n"+endMarker+"\n"); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	want := "# Benchmarks\n\n" + beginMarker + "\ntwo\n" + endMarker + "\n\n## Reading\nkept\n"
	if got != want {
		t.Errorf("file is\n%q\nwant\n%q", got, want)
	}
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The targets table shows, next to the overhead, the overhead beyond the
// hop floor: p50 − depth × (latency + floor at c=16).
func TestTargetsShowOverheadBeyondTheHopFloor(t *testing.T) {
	rep := &Report{
		Latency:     20 * time.Millisecond,
		Modes:       []string{"planned"},
		Concurrency: []int{16},
		HopFloor:    map[int]time.Duration{16: time.Millisecond},
		Cases: []*CaseResult{{
			Name: "08-order", Depth: 2, Critical: 40 * time.Millisecond, Ideal: 4,
			Runs: []*Run{{Mode: "planned", Concurrency: 16, Queries: 10, Elapsed: time.Second, P50: 45 * time.Millisecond}},
		}},
	}
	md := rep.markdown()
	// 45 − 2 × (20 + 1) = 3 ms beyond the floor; 5 ms plain overhead.
	if !strings.Contains(md, "| 5.00 ms ✗ | 3.00 ms |") {
		t.Errorf("targets row lacks the overhead beyond the hop floor:\n%s", md)
	}
	if !strings.Contains(md, "1.00 ms at c=16") {
		t.Errorf("report does not say the hop floor:\n%s", md)
	}
}
