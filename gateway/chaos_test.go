package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
)

// Resilience ("chaos") tests: the demo services' fault switches are turned
// on while the gateway serves, and the tests check what graphql-api.md
// ("Errors") and upstreams.md ("Common rules") promise of a failing
// upstream: exactly the fields that need it are null, each with one error
// carrying the right code and extensions.service; the rest of the response is
// the healthy answer; the answer comes within the configured time; retries
// stay within the configured attempts; the circuit breaker opens and closes;
// a client that gives up ends the upstream work; and under a steady load with
// one service failing half the time and another hanging, every answer is
// still valid, partial only where it must be, in bounded time, with nothing
// left behind. errors_test.go covers one query per failure; these extend it
// with retry counts, time bounds, the breaker, cancellation and load.

// ---------------------------------------------------------------------------
// environment

// chaosOptions configure newChaosEnv.
type chaosOptions struct {
	// env overrides the gateway's environment.
	env map[string]string
	// demo configures the demo services.
	demo demo.Options
	// wrap serves the named services through an httptest server of their own
	// with the demo handler wrapped (a Down fault then resets connections
	// instead of refusing them).
	wrap map[string]func(http.Handler) http.Handler
}

// chaosEnv is an env plus the wrapped services' servers.
type chaosEnv struct {
	*env
	wrapped map[string]*httptest.Server
}

// newChaosEnv is newEnv with demo options and wrapped services. Cleanups
// run in this order: gateway server, gateway, demo (which ends hanging
// requests), wrapped servers.
func newChaosEnv(t *testing.T, o chaosOptions) *chaosEnv {
	t.Helper()
	d := demo.New(o.demo)
	if err := d.Start(); err != nil {
		t.Fatalf("start demo: %v", err)
	}
	ce := &chaosEnv{wrapped: map[string]*httptest.Server{}}
	t.Cleanup(func() {
		for _, s := range ce.wrapped {
			s.Close()
		}
	})
	t.Cleanup(func() {
		d.ClearFaults()
		_ = d.Close()
	})
	// Every query goes upstream, as in newEnv: the entity cache would
	// answer the faulted fields from the healthy reference run.
	vars := map[string]string{"JWT_HS256_SECRET": testSecret, "GATEWAY_CACHE": "false"}
	for _, s := range gateway.Services {
		vars["UPSTREAM_"+upper(s)+"_URL"] = d.URL(s)
	}
	for s, w := range o.wrap {
		srv := httptest.NewServer(w(d.Handler(s)))
		ce.wrapped[s] = srv
		vars["UPSTREAM_"+upper(s)+"_URL"] = srv.URL
	}
	maps.Copy(vars, o.env)
	cfg, err := gateway.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	gw, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	ce.env = &env{t: t, demo: d, gw: gw, srv: srv}
	return ce
}

// backendServices are the services a query can reach.
var backendServices = []string{"customers", "orders", "catalog", "inventory", "shipping", "payments"}

// policy sets UPSTREAM_<SVC>_<key> = value for every service and key.
func policy(services []string, kv map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range services {
		for k, v := range kv {
			out["UPSTREAM_"+upper(s)+"_"+k] = v
		}
	}
	return out
}

// queryID posts a query with the given X-Request-Id, so the upstream
// requests made for it can be told apart, and times the answer.
func (e *env) queryID(id, token, query string, vars map[string]any) (response, time.Duration) {
	e.t.Helper()
	h := map[string]string{"Content-Type": "application/json", "X-Request-Id": id}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	req := e.newRequest(http.MethodPost, "/graphql", requestJSON(query, vars), h)
	start := time.Now()
	r := e.send(req)
	return r, time.Since(start)
}

// requestsPerCall counts the requests the service received for the GraphQL
// request id, by distinct upstream call (method, path, query, body): a
// call's first attempt and its retries.
func (e *env) requestsPerCall(service, id string) map[string]int {
	out := map[string]int{}
	for _, r := range e.demo.Requests(service) {
		if r.Header.Get("X-Request-Id") != id {
			continue
		}
		k := r.Method + " " + r.Path
		if r.RawQuery != "" {
			k += "?" + r.RawQuery
		}
		if len(r.Body) > 0 {
			k += " " + string(r.Body)
		}
		out[k]++
	}
	return out
}

// getText fetches a plain endpoint of the gateway (/readyz, /metrics) with
// its own client, so that the pooled connections of the queries are not
// touched.
func (e *env) getText(path string) string {
	e.t.Helper()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	res, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("GET %s: read: %v", path, err)
	}
	return string(b)
}

// breakerState is the service's breaker as /readyz shows it.
func (e *env) breakerState(service string) string {
	e.t.Helper()
	for line := range strings.SplitSeq(e.getText("/readyz"), "\n") {
		if rest, ok := strings.CutPrefix(line, "upstream "+service+": breaker "); ok {
			return strings.TrimSpace(rest)
		}
	}
	e.t.Fatalf("/readyz lists no breaker for %s", service)
	return ""
}

// metric returns the value of the sample named exactly series (name and
// labels as Prometheus writes them) in /metrics, and whether it is there.
func (e *env) metric(series string) (float64, bool) {
	e.t.Helper()
	sc := bufio.NewScanner(strings.NewReader(e.getText("/metrics")))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				e.t.Fatalf("metric %s: %q is not a number", series, rest)
			}
			return v, true
		}
	}
	return 0, false
}

// mustMetric is metric for a series that must exist.
func (e *env) mustMetric(series string) float64 {
	e.t.Helper()
	v, ok := e.metric(series)
	if !ok {
		e.t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// eventually polls cond every 5ms until it holds or within passes; it
// reports whether it held.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// settledGoroutines waits until runtime.NumGoroutine stops changing (the
// same count in 10 samples 10ms apart, at most 3s) and returns it.
func settledGoroutines() int {
	last, same := runtime.NumGoroutine(), 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(3 * time.Second)
	for same < 10 && time.Now().Before(deadline) {
		<-tick.C
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return last
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// dropUpstreamConns closes every keep-alive connection between the gateway
// and the demo services (taking each one down and up again), so that
// goroutine counts compare leaks, not pooled connections.
func (e *env) dropUpstreamConns() {
	for _, s := range backendServices {
		e.demo.SetFault(s, demo.Fault{Down: true})
		e.demo.ClearFault(s)
	}
}

// checkNoLeaks registers, before anything of the test starts, a cleanup
// that runs after every other one (cleanups run last-in first-out), once the
// gateway and the services are closed, and fails the test when goroutines
// started since are still running.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutines left behind once the gateway and the services closed:\n%v", err)
		}
		t.Logf("goroutines before the gateway started: %d; after it closed: %d", before, settledGoroutines())
	})
}

// ---------------------------------------------------------------------------
// the dashboard

// dashboardQuery reaches every service behind a query: customers (me),
// orders, payments, shipping (one call per order), catalog (the lines'
// products) and inventory (their stock).
const dashboardQuery = `query Dashboard($n: Int!) {
  me {
    id name email tier memberSince
    totalSpent { cents currency }
    recentOrderCount(days: 365)
    orders(first: $n) {
      id status placedAt
      total { cents currency amount }
      payment { id status method amount { cents currency } }
      shipment { carrier status trackingNumber shippedOn estimatedDelivery }
      lines { sku quantity unitPrice { cents } product { sku title price { cents } stock } }
    }
  }
}`

// dashOrders is how much of the dashboard references need.
type dashOrders struct {
	Me struct {
		Orders []struct {
			ID       string
			Shipment any
			Lines    []struct {
				SKU     string
				Product any
			}
		}
	}
}

// dashPaths lists the paths of the reference answer that come from one
// service: "shipment" (each order's shipment), "payment", "product" (each
// line's product) or "stock" (each known product's stock).
func dashPaths(t *testing.T, ref response, what string) []string {
	t.Helper()
	var d dashOrders
	ref.decode(t, &d)
	var out []string
	for i, o := range d.Me.Orders {
		switch what {
		case "shipment", "payment":
			out = append(out, fmt.Sprintf("me.orders.%d.%s", i, what))
		}
		for j, l := range o.Lines {
			switch {
			case what == "product":
				out = append(out, fmt.Sprintf("me.orders.%d.lines.%d.product", i, j))
			case what == "stock" && l.Product != nil:
				out = append(out, fmt.Sprintf("me.orders.%d.lines.%d.product.stock", i, j))
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("the reference answer has no %s paths: %s", what, ref.Data)
	}
	return out
}

// mustPartial checks r against the healthy reference: exactly the errors
// at paths (sorted), each with code and extensions.service = service, null
// there, and everything else equal to the reference.
func mustPartial(t *testing.T, r, ref response, service, code string, paths []string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Errorf("HTTP status = %d, want 200 with partial data", r.Status)
	}
	if got := r.errorPaths(); !slices.Equal(got, paths) {
		t.Errorf("error paths = %v\nwant %v", got, paths)
	}
	for _, err := range r.Errors {
		c, _ := err.Extensions["code"].(string)
		s, _ := err.Extensions["service"].(string)
		if c != code || s != service {
			t.Errorf("error at %s: code %q service %q, want %q %q (%s)", dotted(err.Path), c, s, code, service, err.Message)
		}
	}
	mustNotLeak(t, r)
	expect := ref.tree(t)
	for _, p := range paths {
		setNull(t, expect, p)
	}
	if got := r.tree(t); !reflect.DeepEqual(got, expect) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(expect)
		t.Errorf("the data differs from the healthy answer with %d fields nulled:\ngot  %s\nwant %s", len(paths), g, w)
	}
}

// ---------------------------------------------------------------------------
// 1. one fault of each kind

// Policy of TestChaosFaultKinds, the same for every service.
const (
	kindAttemptTimeout = 250 * time.Millisecond
	kindOverallTimeout = 600 * time.Millisecond
	kindRetries        = 2
	kindAttempts       = kindRetries + 1
	// kindSlack is what the gateway may add to an upstream bound: planning,
	// the calls before the faulted one, encoding, loopback.
	kindSlack = 150 * time.Millisecond
)

// TestChaosFaultKinds turns on one fault of each kind and checks, against
// the healthy answer of the same query: the exact fields nulled and their
// errors (code, path, service), that the other services' data is complete,
// the time of the answer, and how many requests each upstream call cost the
// service (first attempt plus retries, MaxAttempts = 1 + UPSTREAM_*_RETRIES
// at most; none for answers that are not retried). The breaker is off and
// the retry budget wide open here so that the counts depend on the retry
// rules alone; TestChaosBreakerOpensAndCloses covers the breaker.
func TestChaosFaultKinds(t *testing.T) {
	pol := policy(backendServices, map[string]string{
		"TIMEOUT":                  kindAttemptTimeout.String(),
		"OVERALL_TIMEOUT":          kindOverallTimeout.String(),
		"RETRIES":                  strconv.Itoa(kindRetries),
		"RETRY_BUDGET_MIN_PER_SEC": "10000",
		"BREAKER_ENABLED":          "false",
	})
	vars := map[string]any{"n": 8}

	type calls struct{ lo, hi int } // requests per upstream call
	tests := []struct {
		name    string
		faults  map[string]demo.Fault
		service string // whose fields fail, and whose calls are counted
		code    string // "" for no error
		paths   string // dashPaths' what
		// perCall bounds the requests of each distinct upstream call of
		// the service; zero means the service must receive none at all.
		perCall calls
		minTime time.Duration
		maxTime time.Duration
		// rate: the fault hits some requests only; checkErrorRate repeats
		// the query until it has seen both outcomes.
		rate bool
	}{
		{
			// Retried within its attempts; a shipment failing all of them
			// is null, the others are served.
			name:    "error-rate-shipping-503",
			faults:  map[string]demo.Fault{"shipping": {Status: 503, Rate: 0.5}},
			service: "shipping", code: "UPSTREAM_UNAVAILABLE", paths: "shipment",
			rate: true,
		},
		{
			// Costs at most the overall timeout; every line's product null.
			name:    "hang-catalog",
			faults:  map[string]demo.Fault{"catalog": {Hang: true}},
			service: "catalog", code: "UPSTREAM_UNAVAILABLE", paths: "product",
			perCall: calls{2, kindAttempts},
			minTime: kindAttemptTimeout, maxTime: kindOverallTimeout + kindSlack,
		},
		{
			// Retried to its attempts, and no further: a request that
			// net/http replays by itself on a reused connection is one more
			// request the service sees. Every payment null.
			name:    "reset-payments",
			faults:  map[string]demo.Fault{"payments": {Reset: true}},
			service: "payments", code: "UPSTREAM_UNAVAILABLE", paths: "payment",
			perCall: calls{kindAttempts, kindAttempts},
			maxTime: kindAttemptTimeout,
		},
		{
			// An answer, so UPSTREAM_ERROR and never retried; every stock
			// null.
			name:    "non-json-inventory",
			faults:  map[string]demo.Fault{"inventory": {NonJSON: true}},
			service: "inventory", code: "UPSTREAM_ERROR", paths: "stock",
			perCall: calls{1, 1},
			maxTime: kindAttemptTimeout,
		},
		{
			// Refused connections fail fast, before any timeout; every
			// shipment null, no request reaches the service.
			name:    "down-shipping",
			faults:  map[string]demo.Fault{"shipping": {Down: true}},
			service: "shipping", code: "UPSTREAM_UNAVAILABLE", paths: "shipment",
			maxTime: kindAttemptTimeout,
		},
		{
			// Slower than usual but within the timeout: the full answer,
			// each call made once.
			name: "slow-catalog-and-shipping",
			faults: map[string]demo.Fault{
				"catalog":  {Latency: 150 * time.Millisecond},
				"shipping": {Latency: 150 * time.Millisecond},
			},
			service: "shipping",
			perCall: calls{1, 1},
			minTime: 150 * time.Millisecond, maxTime: kindAttemptTimeout + kindSlack,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChaosEnv(t, chaosOptions{env: pol})
			token := e.token(demo.CustomerMostOrders)
			ref, _ := e.queryID("ref", token, dashboardQuery, vars)
			ref.mustOK(t)
			var want []string
			if tt.code != "" {
				want = dashPaths(t, ref, tt.paths)
			}
			for s, f := range tt.faults {
				e.demo.SetFault(s, f)
			}
			before := e.demo.Calls(tt.service)

			if tt.rate {
				checkErrorRate(t, e.env, token, ref, want)
				return
			}
			r, took := e.queryID("chaos", token, dashboardQuery, vars)
			t.Logf("answered in %v with %d errors", took.Round(time.Millisecond), len(r.Errors))
			if tt.code == "" {
				r.mustOK(t)
			}
			mustPartial(t, r, ref, tt.service, tt.code, want)
			if took < tt.minTime || took > tt.maxTime {
				t.Errorf("answered in %v, want %v to %v", took, tt.minTime, tt.maxTime)
			}
			per := e.requestsPerCall(tt.service, "chaos")
			if tt.perCall == (calls{}) {
				if n := e.demo.Calls(tt.service) - before; n != 0 {
					t.Errorf("%s received %d requests, want none (connections refused)", tt.service, n)
				}
				return
			}
			if len(per) == 0 {
				t.Fatalf("%s received no request for the query", tt.service)
			}
			retries, _ := e.metric(`tutti_upstream_retries_total{service="` + tt.service + `"}`)
			for k, n := range per {
				if n < tt.perCall.lo || n > tt.perCall.hi {
					t.Errorf("%s received %s %d times, want %d to %d (MaxAttempts %d; the gateway reports %v retries in all)",
						tt.service, k, n, tt.perCall.lo, tt.perCall.hi, kindAttempts, retries)
				}
			}
		})
	}
}

// checkErrorRate runs the dashboard while shipping fails half its requests
// until it has seen a shipment fail and a shipment succeed after a retry.
// Every time: the shipments that failed are null with UPSTREAM_UNAVAILABLE
// and cost exactly MaxAttempts requests (each one failed, the budget is open);
// the others equal the reference and cost at most MaxAttempts; all other
// data is the reference's.
func checkErrorRate(t *testing.T, e *env, token string, ref response, shipments []string) {
	t.Helper()
	var d dashOrders
	ref.decode(t, &d)
	failed, retriedOK := 0, 0
	for run := 0; run < 12 && (failed == 0 || retriedOK == 0); run++ {
		id := fmt.Sprintf("rate-%d", run)
		r, took := e.queryID(id, token, dashboardQuery, map[string]any{"n": 8})
		if took > kindOverallTimeout {
			t.Errorf("run %d answered in %v, want under the overall timeout %v", run, took, kindOverallTimeout)
		}
		nulled := r.errorPaths()
		for _, p := range nulled {
			if !slices.Contains(shipments, p) {
				t.Errorf("run %d: error at %s, want errors at shipments only", run, p)
			}
		}
		mustPartial(t, r, ref, "shipping", "UPSTREAM_UNAVAILABLE", nulled)
		per := e.requestsPerCall("shipping", id)
		for i, o := range d.Me.Orders {
			n := per["GET /shipments/by-order/"+o.ID]
			bad := slices.Contains(nulled, fmt.Sprintf("me.orders.%d.shipment", i))
			switch {
			case bad && n != kindAttempts:
				t.Errorf("run %d: the failed shipment of %s cost %d requests, want all %d attempts", run, o.ID, n, kindAttempts)
			case !bad && (n < 1 || n > kindAttempts):
				t.Errorf("run %d: the shipment of %s cost %d requests, want 1 to %d", run, o.ID, n, kindAttempts)
			case bad:
				failed++
			case n > 1:
				retriedOK++
			}
		}
		if len(per) != len(d.Me.Orders) {
			t.Errorf("run %d: shipping calls %v, want one per order (%d)", run, per, len(d.Me.Orders))
		}
	}
	t.Logf("shipments failed after all attempts: %d; succeeded after a retry: %d", failed, retriedOK)
	if failed == 0 || retriedOK == 0 {
		t.Errorf("never saw both a shipment fail (%d) and one succeed on a retry (%d)", failed, retriedOK)
	}
}

// ---------------------------------------------------------------------------
// 2. the circuit breaker

// TestChaosBreakerOpensAndCloses makes shipping fail until its breaker
// opens (three failed attempts in a row), checks that while open the
// gateway makes no shipping request at all and answers at once, then heals
// shipping, waits for the breaker to turn half-open after its open
// duration, and checks that two successful probes close it and shipments
// come back.
func TestChaosBreakerOpensAndCloses(t *testing.T) {
	const openFor = 300 * time.Millisecond
	e := newChaosEnv(t, chaosOptions{env: map[string]string{
		"UPSTREAM_SHIPPING_RETRIES":                      "1",
		"UPSTREAM_SHIPPING_RETRY_BUDGET_MIN_PER_SEC":     "1000",
		"UPSTREAM_SHIPPING_BREAKER_CONSECUTIVE_FAILURES": "3",
		"UPSTREAM_SHIPPING_BREAKER_MIN_REQUESTS":         "1000",
		"UPSTREAM_SHIPPING_BREAKER_OPEN_DURATION":        openFor.String(),
		"UPSTREAM_SHIPPING_BREAKER_HALF_OPEN_PROBES":     "2",
	}})
	token := e.token(demo.CustomerMostOrders)
	const q = `{ order(id: "` + demo.OrderDelayed + `") { id status total { cents } payment { status } shipment { carrier status } } }`
	ref := e.query(token, q, nil).mustOK(t)
	mustValue(t, ref.tree(t), "order.shipment")
	shipment := []string{"order.shipment"}
	const stateSeries = `tutti_upstream_breaker_state{service="shipping"}`
	transitions := func(state string) float64 {
		v, _ := e.metric(`tutti_upstream_breaker_transitions_total{service="shipping",state="` + state + `"}`)
		return v
	}
	if s := e.breakerState("shipping"); s != "closed" {
		t.Fatalf("breaker %s before any failure, want closed", s)
	}

	// Fail shipping until the breaker opens.
	e.demo.SetFault("shipping", demo.Fault{Status: 503})
	failStart := e.demo.Calls("shipping")
	var tripStart time.Time
	queries := 0
	for queries < 10 && e.breakerState("shipping") != "open" {
		tripStart = time.Now()
		r := e.query(token, q, nil)
		queries++
		mustPartial(t, r, ref, "shipping", "UPSTREAM_UNAVAILABLE", shipment)
	}
	if st := e.breakerState("shipping"); st != "open" {
		t.Fatalf("breaker %s after %d failing queries (%d requests), want open", st, queries, e.demo.Calls("shipping"))
	}
	// 3 failed attempts in a row at 2 attempts a query: the second query's
	// first attempt trips it, and the breaker refuses that call's retry.
	if n := e.demo.Calls("shipping") - failStart; queries != 2 || n != 3 {
		t.Errorf("breaker opened after %d queries and %d shipping requests, want 2 and 3 (3 consecutive failures, 2 attempts a call, no retry once open)", queries, n)
	}
	if v := e.mustMetric(stateSeries); v != 2 {
		t.Errorf("%s = %v while open, want 2", stateSeries, v)
	}
	t.Logf("breaker open after %d queries, %d shipping requests", queries, e.demo.Calls("shipping")-failStart)

	// Open: no request reaches shipping, the answer comes at once.
	flat := e.demo.Calls("shipping")
	for i := range 5 {
		start := time.Now()
		r := e.query(token, q, nil)
		took := time.Since(start)
		mustPartial(t, r, ref, "shipping", "UPSTREAM_UNAVAILABLE", shipment)
		if took > 50*time.Millisecond {
			t.Errorf("query %d with the breaker open took %v, want under 50ms", i, took)
		}
		if e.breakerState("shipping") != "open" {
			break // the open duration passed; what follows checks half-open
		}
	}
	if n := e.demo.Calls("shipping"); n != flat {
		t.Errorf("shipping received %d requests while the breaker was open, want none", n-flat)
	}

	// Heal shipping; the breaker turns half-open after its open duration.
	e.demo.ClearFaults()
	if !eventually(2*time.Second, func() bool { return e.breakerState("shipping") == "half-open" }) {
		t.Fatalf("breaker %s 2s after opening, want half-open after %v", e.breakerState("shipping"), openFor)
	}
	if d := time.Since(tripStart); d < openFor {
		t.Errorf("breaker half-open %v after the query that opened it started, want at least the open duration %v", d, openFor)
	}
	if v := e.mustMetric(stateSeries); v != 1 {
		t.Errorf("%s = %v while half-open, want 1", stateSeries, v)
	}

	// Two successful probes close it; each query makes one shipping request.
	for i := range 2 {
		before := e.demo.Calls("shipping")
		r := e.query(token, q, nil).mustOK(t)
		if !reflect.DeepEqual(r.tree(t), ref.tree(t)) {
			t.Errorf("probe %d: data %s, want %s", i, r.Data, ref.Data)
		}
		if n := e.demo.Calls("shipping") - before; n != 1 {
			t.Errorf("probe %d made %d shipping requests, want 1", i, n)
		}
		want := "half-open"
		if i == 1 {
			want = "closed"
		}
		if st := e.breakerState("shipping"); st != want {
			t.Errorf("breaker %s after %d successful probes, want %s", st, i+1, want)
		}
	}
	if v := e.mustMetric(stateSeries); v != 0 {
		t.Errorf("%s = %v once closed, want 0", stateSeries, v)
	}
	for state, want := range map[string]float64{"open": 1, "half-open": 1, "closed": 1} {
		if got := transitions(state); got != want {
			t.Errorf("breaker transitions into %s = %v, want %v", state, got, want)
		}
	}
	// Closed again: shipments are served as before.
	before := e.demo.Calls("shipping")
	e.query(token, q, nil).mustOK(t)
	if n := e.demo.Calls("shipping") - before; n != 1 {
		t.Errorf("a query after the breaker closed made %d shipping requests, want 1", n)
	}
}

// ---------------------------------------------------------------------------
// 3. a client that gives up

// inflight wraps a service handler and tracks its requests: how many are
// running, how many came, and when the last one ended.
type inflight struct {
	running atomic.Int64
	total   atomic.Int64
	started chan struct{}
	ended   chan time.Time
}

func newInflight() *inflight {
	return &inflight{started: make(chan struct{}, 64), ended: make(chan time.Time, 64)}
}

func (f *inflight) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.running.Add(1)
		f.total.Add(1)
		f.started <- struct{}{}
		defer func() {
			f.running.Add(-1)
			f.ended <- time.Now()
		}()
		next.ServeHTTP(w, r) // a hang ends by panicking http.ErrAbortHandler
	})
}

// TestChaosClientDisconnectCancelsUpstream has catalog hang with timeouts
// far away (10s an attempt), sends a query from a client that gives up
// after 100ms, and checks that the gateway ends its catalog request at once
// (the hanging handler returns), makes no retry, holds no bulkhead slot,
// leaves its breaker closed (a cancellation is not the service's failure)
// and returns to its goroutine count from before the query.
func TestChaosClientDisconnectCancelsUpstream(t *testing.T) {
	checkNoLeaks(t)
	rec := newInflight()
	e := newChaosEnv(t, chaosOptions{
		env: map[string]string{
			"UPSTREAM_CATALOG_TIMEOUT":         "10s",
			"UPSTREAM_CATALOG_OVERALL_TIMEOUT": "20s",
		},
		wrap: map[string]func(http.Handler) http.Handler{"catalog": rec.wrap},
	})
	const q = `{ product(sku: "SKU-0001") { sku title price { cents } } }`
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	post := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(requestJSON(q, nil))))
		req.Header.Set("Content-Type", "application/json")
		return client.Do(req)
	}

	// Warm up (the query cache, the connections), then drop every pooled
	// connection and take the baseline.
	res, err := post(context.Background())
	if err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	<-rec.started
	<-rec.ended
	client.CloseIdleConnections()
	e.wrapped["catalog"].CloseClientConnections()
	baseline := settledGoroutines()

	e.demo.SetFault("catalog", demo.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err = post(ctx)
	gaveUp := time.Now()
	if err == nil {
		res.Body.Close()
		t.Fatalf("the query answered %d while catalog hangs, want the client to give up", res.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client error %v, want its deadline", err)
	}
	select {
	case <-rec.started:
	default:
		t.Fatalf("catalog never received the request")
	}
	select {
	case end := <-rec.ended:
		lag := end.Sub(gaveUp)
		t.Logf("client gave up after %v; catalog's hanging request ended %v later", gaveUp.Sub(start).Round(time.Millisecond), lag.Round(time.Microsecond))
		if lag > 200*time.Millisecond {
			t.Errorf("catalog's request ended %v after the client gave up, want under 200ms", lag)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("catalog's request still running 2s after the client gave up (attempt timeout 10s)")
	}
	if n := rec.running.Load(); n != 0 {
		t.Errorf("catalog requests running = %d, want 0", n)
	}
	if !eventually(time.Second, func() bool { return e.mustMetric(`tutti_upstream_in_flight{service="catalog"}`) == 0 }) {
		t.Errorf("tutti_upstream_in_flight{service=\"catalog\"} = %v, want 0", e.mustMetric(`tutti_upstream_in_flight{service="catalog"}`))
	}
	client.CloseIdleConnections()
	var now int
	if !eventually(3*time.Second, func() bool { now = runtime.NumGoroutine(); return now <= baseline }) {
		t.Errorf("goroutines = %d 3s after the client gave up, want back to the baseline %d", now, baseline)
	}
	t.Logf("goroutines: baseline %d, after the cancelled query %d", baseline, now)
	// Only now: a later retry would have shown by now.
	if n := rec.total.Load(); n != 2 {
		t.Errorf("catalog received %d requests (warm-up included), want 2: no retry after the client left", n)
	}
	if st := e.breakerState("catalog"); st != "closed" {
		t.Errorf("catalog breaker %s, want closed: a client leaving is not the service failing", st)
	}
	e.demo.ClearFaults()
	res, err = post(context.Background())
	if err != nil {
		t.Fatalf("query after the fault cleared: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("query after the fault cleared: status %d", res.StatusCode)
	}
}

// ---------------------------------------------------------------------------
// 4. load

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

// loadRate is the requests a second the load run starts on a clock: 50, or
// 20 under the race detector, which makes the gateway and the demo services
// (one process) several times slower on the same CPUs.
func loadRate() int {
	if raceEnabled {
		return 10
	}
	return 50
}

// The load run.
const (
	loadDuration = 30 * time.Second
	loadWorkers  = 32
	loadHangAt   = 10 * time.Second
	loadHangFor  = 5 * time.Second
	// Every service: one attempt 200ms, the whole call 400ms; the catalog
	// breaker probes again 1s after opening.
	loadAttemptTimeout = 200 * time.Millisecond
	loadOverallTimeout = 400 * time.Millisecond
	loadCatalogOpen    = time.Second
)

var (
	shipmentPath = regexp.MustCompile(`^me\.orders\.\d+\.shipment$`)
	productPath  = regexp.MustCompile(`^me\.orders\.\d+\.lines\.\d+\.product$`)
)

// loadResult is what a worker keeps of one request.
type loadResult struct {
	start    time.Duration // since the run began
	took     time.Duration
	shipErrs int
	prodErrs int
	problem  string
}

// checkLoadAnswer checks one answer of the load run against the healthy
// reference of the same customer: a valid GraphQL response, HTTP 200, errors
// only at shipments (shipping, UPSTREAM_UNAVAILABLE) and line products
// (catalog, UPSTREAM_UNAVAILABLE), null there, and everything else, the
// customer, its orders and payments and the other shipments and products,
// equal to the reference. It must not touch testing.T: workers call it.
func checkLoadAnswer(status int, ctype string, raw, ref []byte) (ship, prod int, problem string) {
	if status != http.StatusOK {
		return 0, 0, fmt.Sprintf("HTTP status %d: %.300s", status, raw)
	}
	if !strings.HasPrefix(ctype, "application/json") && !strings.HasPrefix(ctype, "application/graphql-response+json") {
		return 0, 0, fmt.Sprintf("Content-Type %q", ctype)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return 0, 0, fmt.Sprintf("not a JSON object: %v: %.300s", err, raw)
	}
	for k := range top {
		if k != "data" && k != "errors" && k != "extensions" {
			return 0, 0, fmt.Sprintf("unexpected top-level entry %q", k)
		}
	}
	if _, ok := top["data"]; !ok {
		return 0, 0, "no data entry"
	}
	var errs []gqlError
	if e, ok := top["errors"]; ok {
		if err := json.Unmarshal(e, &errs); err != nil || len(errs) == 0 {
			return 0, 0, fmt.Sprintf("errors is not a non-empty list of errors: %.300s", e)
		}
	}
	var got, want any
	if err := json.Unmarshal(top["data"], &got); err != nil {
		return 0, 0, fmt.Sprintf("data: %v", err)
	}
	if err := json.Unmarshal(ref, &want); err != nil {
		return 0, 0, fmt.Sprintf("reference: %v", err)
	}
	for _, e := range errs {
		p := dotted(e.Path)
		code, _ := e.Extensions["code"].(string)
		svc, _ := e.Extensions["service"].(string)
		switch {
		case e.Message == "":
			return 0, 0, fmt.Sprintf("error at %s without a message", p)
		case shipmentPath.MatchString(p) && code == "UPSTREAM_UNAVAILABLE" && svc == "shipping":
			ship++
		case productPath.MatchString(p) && code == "UPSTREAM_UNAVAILABLE" && svc == "catalog":
			prod++
		default:
			return 0, 0, fmt.Sprintf("unexpected error at %s: code %q service %q: %s", p, code, svc, e.Message)
		}
		if v, ok := lookup(got, p); !ok || v != nil {
			return 0, 0, fmt.Sprintf("error at %s but the field is %v (present %v)", p, v, ok)
		}
		if err := nullAt(want, p); err != nil {
			return 0, 0, err.Error()
		}
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		return 0, 0, fmt.Sprintf("data differs from the healthy answer beyond the failed fields: %.600s", g)
	}
	return ship, prod, ""
}

// nullAt sets the value at a dotted path to null (setNull without a T).
func nullAt(v any, path string) error {
	i := strings.LastIndex(path, ".")
	parent, ok := lookup(v, path[:max(i, 0)])
	if i < 0 {
		parent, ok = v, true
	}
	if !ok {
		return fmt.Errorf("no %s in the reference", path)
	}
	last := path[i+1:]
	switch x := parent.(type) {
	case map[string]any:
		if _, ok := x[last]; ok {
			x[last] = nil
			return nil
		}
	case []any:
		if n, err := strconv.Atoi(last); err == nil && n < len(x) {
			x[n] = nil
			return nil
		}
	}
	return fmt.Errorf("no %s in the reference", path)
}

// percentile is the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// loadGen sends the dashboard for several customers at a steady rate and
// checks every answer against the customer's healthy reference.
type loadGen struct {
	client *http.Client
	url    string
	body   []byte
	tokens []string
	refs   [][]byte
	rate   int
}

// newLoadGen picks customers with orders and takes their healthy answers.
func newLoadGen(t *testing.T, e *env, rate int) *loadGen {
	t.Helper()
	data := e.demo.Data()
	count := map[string]int{}
	for _, o := range data.Orders {
		count[o.CustomerID]++
	}
	who := []string{demo.CustomerMostOrders}
	for _, c := range data.Customers {
		if c.ID != demo.CustomerMostOrders && count[c.ID] >= 3 && len(who) < 6 {
			who = append(who, c.ID)
		}
	}
	vars := map[string]any{"n": 5}
	g := &loadGen{
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadWorkers}},
		url:    e.srv.URL + "/graphql",
		body:   requestJSON(dashboardQuery, vars),
		rate:   rate,
	}
	for _, c := range who {
		tok := e.token(c)
		r := e.query(tok, dashboardQuery, vars).mustOK(t)
		g.tokens = append(g.tokens, tok)
		g.refs = append(g.refs, r.Data)
	}
	return g
}

// send sends request i (customer i mod n) and checks its answer.
func (g *loadGen) send(i int, start time.Time) loadResult {
	k := i % len(g.tokens)
	req, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(string(g.body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.tokens[k])
	t0 := time.Now()
	res, err := g.client.Do(req)
	if err != nil {
		return loadResult{start: t0.Sub(start), took: time.Since(t0), problem: "transport: " + err.Error()}
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	took := time.Since(t0)
	if err != nil {
		return loadResult{start: t0.Sub(start), took: took, problem: "read: " + err.Error()}
	}
	ship, prod, problem := checkLoadAnswer(res.StatusCode, res.Header.Get("Content-Type"), raw, g.refs[k])
	return loadResult{start: t0.Sub(start), took: took, shipErrs: ship, prodErrs: prod, problem: problem}
}

// run sends g.rate requests a second for d from loadWorkers workers, and
// calls onStart as the clock starts. A tick that finds every worker busy
// and the queue full is dropped (counted, not sent).
func (g *loadGen) run(d time.Duration, onStart func()) (results []loadResult, dropped int) {
	jobs := make(chan int, loadWorkers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range loadWorkers {
		wg.Go(func() {
			for i := range jobs {
				r := g.send(i, start)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	if onStart != nil {
		onStart()
	}
	tick := time.NewTicker(time.Second / time.Duration(g.rate))
	total := int(d.Seconds() * float64(g.rate))
	for i := 0; i < total; i++ {
		<-tick.C
		select {
		case jobs <- i:
		default:
			dropped++
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	return results, dropped
}

// TestChaosLoadRun sends the dashboard at a steady 50 requests a second (20
// under the race detector) for 30 s from a bounded pool of workers, for several customers, while
// shipping fails half its requests the whole time and catalog hangs from
// 10 s to 15 s. Every answer must be valid GraphQL with HTTP 200, complete
// and equal to the healthy answer but for failed shipments and products,
// and p99 must stay under the overall timeout plus 100ms. Afterwards the
// goroutines and the heap must return to their levels from before the run,
// and once the gateway is closed no goroutine of it may remain.
//
// The shipping breaker is set not to trip at 50% (ratio 0.9, 50 in a row)
// so that the run exercises retries, back-off and the retry budget under
// load; the catalog breaker keeps its defaults but probes again after 1s.
func TestChaosLoadRun(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s load run; skipped with -short")
	}
	checkNoLeaks(t)
	goroutinesBefore := runtime.NumGoroutine()
	pol := policy(backendServices, map[string]string{
		"TIMEOUT":         loadAttemptTimeout.String(),
		"OVERALL_TIMEOUT": loadOverallTimeout.String(),
	})
	pol["UPSTREAM_CATALOG_BREAKER_OPEN_DURATION"] = loadCatalogOpen.String()
	pol["UPSTREAM_SHIPPING_BREAKER_FAILURE_RATIO"] = "0.9"
	pol["UPSTREAM_SHIPPING_BREAKER_CONSECUTIVE_FAILURES"] = "50"
	e := newChaosEnv(t, chaosOptions{env: pol, demo: demo.Options{MaxRecorded: -1}})

	g := newLoadGen(t, e.env, loadRate())
	defer g.client.CloseIdleConnections()

	// Warm up healthy, drop pooled connections, take the baselines.
	warm, _ := g.run(time.Second, nil)
	for _, r := range warm {
		if r.problem != "" || r.shipErrs+r.prodErrs > 0 {
			t.Fatalf("healthy warm-up answer: %+v", r)
		}
	}
	g.client.CloseIdleConnections()
	e.dropUpstreamConns()
	baseGoroutines := settledGoroutines()
	baseHeap := heapAlloc()

	// The run: shipping fails half the time throughout; catalog hangs
	// from 10s to 15s.
	e.demo.SetFault("shipping", demo.Fault{Status: 503, Rate: 0.5})
	var timers []*time.Timer
	results, dropped := g.run(loadDuration, func() {
		timers = append(timers,
			time.AfterFunc(loadHangAt, func() { e.demo.SetFault("catalog", demo.Fault{Hang: true}) }),
			time.AfterFunc(loadHangAt+loadHangFor, func() { e.demo.ClearFault("catalog") }))
	})
	for _, tm := range timers {
		tm.Stop()
	}
	e.demo.ClearFaults()

	// Every answer.
	lat := make([]time.Duration, len(results))
	var problems []string
	shipResp, prodResp, ship, prod := 0, 0, 0, 0
	var prodFirst, prodLast time.Duration = -1, -1
	for i, r := range results {
		lat[i] = r.took
		if r.problem != "" {
			problems = append(problems, fmt.Sprintf("request at %v: %s", r.start.Round(time.Millisecond), r.problem))
			continue
		}
		ship += r.shipErrs
		prod += r.prodErrs
		if r.shipErrs > 0 {
			shipResp++
		}
		if r.prodErrs > 0 {
			prodResp++
			if prodFirst < 0 || r.start < prodFirst {
				prodFirst = r.start
			}
			prodLast = max(prodLast, r.start)
		}
	}
	slices.Sort(lat)
	p50, p90, p99, worst := percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), lat[len(lat)-1]
	t.Logf("load: %d requests in %v (%.1f/s, %d workers), %d dropped ticks, %d invalid answers",
		len(results), loadDuration, float64(len(results))/loadDuration.Seconds(), loadWorkers, dropped, len(problems))
	t.Logf("latency: p50 %v  p90 %v  p99 %v  max %v (bound p99 < %v)",
		p50.Round(time.Microsecond), p90.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond), loadOverallTimeout+100*time.Millisecond)
	t.Logf("partial answers: %d with failed shipments (%d shipments), %d with failed products (%d products), sent from %v to %v",
		shipResp, ship, prodResp, prod, prodFirst.Round(time.Millisecond), prodLast.Round(time.Millisecond))
	for _, s := range []string{"shipping", "catalog"} {
		retries, _ := e.metric(`tutti_upstream_retries_total{service="` + s + `"}`)
		denied, _ := e.metric(`tutti_upstream_retries_denied_total{service="` + s + `"}`)
		opened, _ := e.metric(`tutti_upstream_breaker_transitions_total{service="` + s + `",state="open"}`)
		t.Logf("%s: %d requests received, %v retries, %v denied by the budget, breaker opened %v times", s, e.demo.Calls(s), retries, denied, opened)
	}

	for i, p := range problems {
		if i == 10 {
			t.Errorf("... and %d more invalid answers", len(problems)-10)
			break
		}
		t.Errorf("%s", p)
	}
	if want := int(loadDuration.Seconds()) * g.rate; len(results)+dropped != want || dropped > want/100 {
		t.Errorf("sent %d of %d requests (%d ticks dropped: every worker busy)", len(results), want, dropped)
	}
	if bound := loadOverallTimeout + 100*time.Millisecond; p99 >= bound {
		t.Errorf("p99 latency %v, want under the overall timeout plus 100ms, %v", p99, bound)
	}
	if shipResp == 0 {
		t.Errorf("no answer had a failed shipment: the shipping fault did not show")
	}
	if prodResp == 0 {
		t.Errorf("no answer had a failed product: the catalog hang did not show")
	}
	// Products fail only around the hang: from its start (less a request's
	// time) to its end plus the breaker's open time and a request's time.
	lo, hi := loadHangAt-loadOverallTimeout, loadHangAt+loadHangFor+loadCatalogOpen+2*loadOverallTimeout
	if prodResp > 0 && (prodFirst < lo || prodLast > hi) {
		t.Errorf("failed products in requests sent from %v to %v, want within %v to %v", prodFirst, prodLast, lo, hi)
	}

	// Back to the baselines once the pooled connections are gone.
	results, lat = nil, nil
	g.client.CloseIdleConnections()
	e.dropUpstreamConns()
	var goroutinesAfter int
	if !eventually(5*time.Second, func() bool { goroutinesAfter = runtime.NumGoroutine(); return goroutinesAfter <= baseGoroutines+3 }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines = %d 5s after the run, want within 3 of the baseline %d\n%s", goroutinesAfter, baseGoroutines, buf)
	}
	heapAfter := heapAlloc()
	t.Logf("goroutines: before the gateway %d, baseline %d, after the run %d; heap: baseline %.1f MiB, after %.1f MiB",
		goroutinesBefore, baseGoroutines, goroutinesAfter, float64(baseHeap)/(1<<20), float64(heapAfter)/(1<<20))
	if heapAfter > baseHeap+16<<20 {
		t.Errorf("heap %.1f MiB after the run, want within 16 MiB of the baseline %.1f MiB", float64(heapAfter)/(1<<20), float64(baseHeap)/(1<<20))
	}
}
