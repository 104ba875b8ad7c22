package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
	"github.com/tutti-gw/tutti/internal/redistest"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/schema"
)

// The shared cache end to end (graphql-api.md, rule 5 of "How few upstream
// calls" and "Security"; config.md, REDIS_URL): the gateway is driven over
// HTTP as a client does, with the cache on, over the demo services and a
// real Redis (internal/redistest). Upstream calls are counted by the demo
// services; Redis round trips by the private server's INFO commandstats.
//
// Every test that uses Redis has a redis-server of its own (a private
// redistest.Start or a cluster): its keys cannot meet another test's, and
// its command counters count this test's gateway alone.

// ---------------------------------------------------------------------------
// Harness.

// cacheDemo starts demo services of the test's own.
func cacheDemo(t *testing.T) *demo.Demo {
	t.Helper()
	d := demo.New(demo.Options{})
	if err := d.Start(); err != nil {
		t.Fatalf("start demo: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// cacheGateway starts a gateway over d with the cache on (newEnv turns it
// off) and setenv on top. Several gateways over one d are replicas sharing
// the upstreams and their counters; each has its own in-process tier.
// stop closes the gateway (also done at cleanup).
func cacheGateway(t *testing.T, d *demo.Demo, setenv map[string]string) (*env, func()) {
	t.Helper()
	vars := map[string]string{"JWT_HS256_SECRET": testSecret, "GATEWAY_CACHE": "true"}
	for _, s := range gateway.Services {
		vars["UPSTREAM_"+upper(s)+"_URL"] = d.URL(s)
	}
	maps.Copy(vars, setenv)
	cfg, err := gateway.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	gw, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	srv := httptest.NewServer(gw.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			gw.Close()
		})
	}
	t.Cleanup(stop)
	return &env{t: t, demo: d, gw: gw, srv: srv}, stop
}

// cacheFor returns e reporting to t (a subtest).
func cacheFor(e *env, t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// cacheClient sends requests from any goroutine without failing the test
// itself, over a transport of the test's own (closed at cleanup).
type cacheClient struct{ hc *http.Client }

func newCacheClient(t *testing.T) *cacheClient {
	tr := &http.Transport{MaxIdleConns: 400, MaxIdleConnsPerHost: 200, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &cacheClient{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// post sends body as a GraphQL POST to the gateway at base.
func (c *cacheClient) post(base, token string, body map[string]any, header map[string]string) (response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return response{}, err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(b))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.do(req)
}

// get sends a GraphQL GET with params in the URL.
func (c *cacheClient) get(base string, params url.Values) (response, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/graphql?"+params.Encode(), nil)
	if err != nil {
		return response{}, err
	}
	return c.do(req)
}

func (c *cacheClient) do(req *http.Request) (response, error) {
	res, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return response{}, fmt.Errorf("status %d, body is not JSON: %w: %.300s", res.StatusCode, err, raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	_, r.HasData = keys["data"]
	r.Status, r.Header = res.StatusCode, res.Header
	return r, nil
}

// cacheInBothModes runs test in parallel subtests over a gateway of its own
// with the in-process cache ("memory") and with a Redis of its own behind
// it ("redis"), each over demo services of its own.
func cacheInBothModes(t *testing.T, test func(t *testing.T, d *demo.Demo, e *env)) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			d := cacheDemo(t)
			setenv := map[string]string{}
			if mode == "redis" {
				setenv["REDIS_URL"] = redistest.Start(t).URL()
			}
			e, _ := cacheGateway(t, d, setenv)
			test(t, d, e)
		})
	}
}

// readyz answers GET /readyz: status and body.
func (c *cacheClient) readyz(base string) (int, string, error) {
	res, err := c.hc.Get(base + "/readyz")
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// cacheRedisStats reads a Redis server's counters: "cmd:<name>" is the
// calls of that command (INFO commandstats; the commands of a pipeline
// count one each), plus INFO stats' numeric fields (keyspace_hits,
// total_commands_processed, ...) and "dbsize".
func cacheRedisStats(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "commandstats", "stats").Result()
	if err != nil {
		t.Fatalf("INFO on %s: %v", addr, err)
	}
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE on %s: %v", addr, err)
	}
	out := map[string]int64{"dbsize": n}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, val, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if cmd, found := strings.CutPrefix(name, "cmdstat_"); found {
			for _, kv := range strings.Split(val, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					out["cmd:"+cmd], _ = strconv.ParseInt(v, 10, 64)
				}
			}
			continue
		}
		if v, err := strconv.ParseInt(val, 10, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// cacheRedisSum adds up cacheRedisStats over several servers (a cluster).
func cacheRedisSum(t *testing.T, addrs []string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, a := range addrs {
		for k, v := range cacheRedisStats(t, a) {
			out[k] += v
		}
	}
	return out
}

// cacheRedisKeys counts the keys of a server matching pattern.
func cacheRedisKeys(t *testing.T, addr, pattern string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n := 0
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s on %s: %v", pattern, addr, err)
	}
	return n
}

// cacheDiff lists where got (raw JSON) differs from want.
func cacheDiff(t *testing.T, got, want any) []string {
	t.Helper()
	var diffs []string
	jsonDiff("data", normalize(t, got), normalize(t, want), &diffs)
	return diffs
}

// cacheTraced decodes extensions.calls (X-Tutti-Plan: 1).
func cacheTraced(t *testing.T, r response) []loaders.TracedCall {
	t.Helper()
	var traced []loaders.TracedCall
	r.extension(t, "calls", &traced)
	return traced
}

// cacheEntriesPerKey returns, per call of r's plan, how many cache
// entries one key reads: one per sparse field for the catalog (cached a
// field per entry), one otherwise.
func cacheEntriesPerKey(t *testing.T, r response) func(call string) int64 {
	t.Helper()
	var plan planner.Plan
	r.extension(t, "plan", &plan)
	per := map[string]int64{}
	for _, s := range plan.Steps {
		if len(s.SparseFields) > 0 {
			per[s.Call] = int64(len(s.SparseFields))
		}
	}
	return func(call string) int64 { return max(per[call], 1) }
}

// cacheSearch is the traced name of a catalog search page, the one call
// the cache does not serve (graphql-api.md leaves Query.products out of
// the cached entities; planner.CachePolicies skips it).
const cacheSearch = "catalog.search"

// cacheSearchEndpoint is the demo endpoint of a catalog search page.
const cacheSearchEndpoint = "catalog GET /products"

// cacheUncached lists the upstream requests (by endpoint) that a warm
// query may still make: catalog search pages always, and inventory when
// the 1 s stock entries may have expired (stockMayBeStale).
func cacheUncached(byEndpoint map[string]int, stockMayBeStale bool) map[string]int {
	out := map[string]int{}
	for k, n := range byEndpoint {
		switch {
		case n == 0, k == cacheSearchEndpoint:
		case stockMayBeStale && strings.HasPrefix(k, "inventory "):
		default:
			out[k] = n
		}
	}
	return out
}

func cacheSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// ---------------------------------------------------------------------------
// 1. Rule 5 over the whole corpus, with Redis.

// TestCacheWarmCorpus runs every corpus operation cold, then warm on a
// fresh gateway over the same Redis (its in-process tier is empty, so
// every batch must be answered by Redis): the warm run makes no upstream
// call for cacheable data (everything but catalog search pages, and stock
// once its 1 s has passed), answers exactly as the cold run did, and reads
// Redis once per batch: one MGET per batch extensions.calls reports.
//
// Each case has a Redis database of its own and runs cold and then warm at
// once, so stock entries (1 s) are normally still fresh: inventory is
// excused only when more than 1 s has passed since the case began.
func TestCacheWarmCorpus(t *testing.T) {
	cases := loadCorpus(t)
	pol := cachePolicies(t)
	// One database per case, so that each case starts cold and every entry
	// its warm run reads was stored by its own cold run.
	rs := redistest.Start(t, "--databases", strconv.Itoa(len(cases)+1))
	d := cacheDemo(t)

	var tot struct {
		coldCalls, warmCalls, warmNotSearch, stockExcused int
		batches, uncached, mget, get, set, keys           int64
		coldTime, warmTime                                time.Duration
		upstreamBatches                                   map[string]int
	}
	tot.upstreamBatches = map[string]int{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withRedis := map[string]string{"REDIS_URL": fmt.Sprintf("redis://%s/%d", rs.Addr, i+1)}
			cold, stopCold := cacheGateway(t, d, withRedis)
			defer stopCold()
			began := time.Now() // no entry of this case is older
			token := cold.corpusToken(c.expect.Token)
			vars := cold.prepare(t, c, token)

			d.ResetCounters()
			cs := time.Now()
			rc := cold.planned("1", token, c.query, vars)
			tot.coldTime += time.Since(cs)
			time.Sleep(corpusSettle) // calls started after the answer count too
			coldCalls := cold.calls()
			// Batches still pending at the answer finish on their own
			// time (slower under -race on a busy machine): wait for them.
			for deadline := time.Now().Add(2 * time.Second); !maps.Equal(coldCalls, c.expect.Calls) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
				coldCalls = cold.calls()
			}
			tot.coldCalls += cacheSum(coldCalls)
			// A batch the plan started finishes even when the answer did
			// not need it (gateway: pendingGrace), so the cold run makes
			// exactly the corpus's calls, timing aside.
			if !maps.Equal(coldCalls, c.expect.Calls) {
				t.Errorf("cold run over an empty cache made %v, the corpus expects %v", coldCalls, c.expect.Calls)
			}

			warm, stopWarm := cacheGateway(t, d, withRedis)
			defer stopWarm()
			before := cacheRedisStats(t, rs.Addr)
			d.ResetCounters()
			ws := time.Now()
			rw := warm.planned("1", token, c.query, vars)
			we := time.Now()
			tot.warmTime += we.Sub(ws)
			time.Sleep(corpusSettle)
			after := cacheRedisStats(t, rs.Addr)
			byEndpoint := d.CallsByEndpoint()
			stockMayBeStale := we.Sub(began) >= time.Second

			// The warm answer is the cold one.
			wantCodes := slices.Sorted(slices.Values(c.expect.Codes))
			if rw.Status != rc.Status || !slices.Equal(slices.Sorted(slices.Values(rw.codes())), wantCodes) {
				t.Errorf("warm: status %d, codes %v; cold: status %d, codes %v; want codes %v", rw.Status, rw.codes(), rc.Status, rc.codes(), wantCodes)
			}
			if diffs := cacheDiff(t, rw.Data, rc.Data); len(diffs) > 0 {
				t.Errorf("the warm answer differs from the cold one:\n  %s", strings.Join(diffs, "\n  "))
			}

			// No upstream call for cacheable data (rule 5).
			if extra := cacheUncached(byEndpoint, stockMayBeStale); len(extra) > 0 {
				t.Errorf("warm run made upstream calls for cached data: %v (all: %v)", extra, byEndpoint)
			}
			for k, v := range byEndpoint {
				tot.warmCalls += v
				if k != cacheSearchEndpoint {
					tot.warmNotSearch += v
				}
			}
			if stockMayBeStale && byEndpoint["inventory GET /stock?skus"] > 0 {
				tot.stockExcused++
			}

			// extensions.calls agrees; each batch of a cached call read
			// Redis once (one MGET), none other read it.
			var batches, finished, uncached, keys int64
			for _, b := range cacheTraced(t, rw) {
				if b.Call == cacheSearch {
					continue
				}
				excused := b.Call == loaders.StockBySKU && stockMayBeStale
				if b.Upstream {
					tot.upstreamBatches[b.Call]++
					if !excused {
						t.Errorf("warm batch %s went upstream: %d keys, %d cache hits", b.Call, b.Keys, b.CacheHits)
					}
				}
				if pol[b.Call].MaxAge <= 0 {
					uncached++ // reported by cachePolicies and above
					continue
				}
				batches++
				if !b.Pending {
					finished++
				}
				keys += int64(b.Keys)
			}
			mget := after["cmd:mget"] - before["cmd:mget"]
			get := after["cmd:get"] - before["cmd:get"]
			set := after["cmd:set"] - before["cmd:set"]
			// A batch still pending when the answer was written (an unknown
			// order's shipment, started from the argument) may have read
			// Redis by now or not: its request ended. Every finished batch
			// read exactly once.
			if mget > batches || mget < finished {
				t.Errorf("Redis MGETs = %d for %d batches of cached calls (%d finished when the answer was written), want one read per batch", mget, batches, finished)
			}
			if get != 0 {
				t.Errorf("Redis GETs = %d on a single server, want reads as MGET only", get)
			}
			tot.batches += batches
			tot.uncached += uncached
			tot.keys += keys
			tot.mget += mget
			tot.get += get
			tot.set += set
		})
	}
	t.Run("foreign-order-repeated", func(t *testing.T) {
		cacheForeignOrderRepeated(t, rs, d)
	})
	t.Logf("corpus of %d cases: upstream requests cold %d, warm %d (%d not catalog search; expired stock excused in %d cases); warm batches that went upstream, by call: %v",
		len(cases), tot.coldCalls, tot.warmCalls, tot.warmNotSearch, tot.stockExcused, tot.upstreamBatches)
	t.Logf("warm Redis reads: %d batches of cached calls (%d keys): %d MGET, %d GET (%.2f round trips per batch), %d SET; %d batches of calls the gateway does not cache (no read); time cold %v, warm %v",
		tot.batches, tot.keys, tot.mget, tot.get, float64(tot.mget+tot.get)/float64(max(tot.batches, 1)), tot.set, tot.uncached,
		tot.coldTime.Round(time.Millisecond), tot.warmTime.Round(time.Millisecond))
}

// cacheForeignOrderRepeated repeats corpus case 45 (another customer's
// order: null once the order shows its owner, while the shipment and
// payment reads, started from the argument, are still under way) warm, on
// fresh replicas over a warm Redis. The answer comes before those reads
// end; none of them may go upstream, since their entries are in Redis.
// One run shows a late call only sometimes (the request's end has to
// cancel a read in flight), so it is repeated.
func cacheForeignOrderRepeated(t *testing.T, rs *redistest.Server, d *demo.Demo) {
	const (
		runs  = 30
		query = `{ order(id: "o-000001") { status customer { name } shipment { carrier } payment { status } } }`
	)
	withRedis := map[string]string{"REDIS_URL": fmt.Sprintf("redis://%s/0", rs.Addr)}
	cold, _ := cacheGateway(t, d, withRedis)
	token := cold.token("c-0003")
	if r := cold.query(token, query, nil).mustOK(t); strings.TrimSpace(string(r.Data)) != `{"order":null}` {
		t.Fatalf("c-0003 reading c-0001's order: %s, want null", r.Data)
	}
	time.Sleep(corpusSettle) // the shipment and payment reads end and fill
	late := map[string]int{}
	bad := 0
	for range runs {
		warm, stop := cacheGateway(t, d, withRedis)
		d.ResetCounters()
		warm.query(token, query, nil).mustOK(t)
		time.Sleep(2 * corpusSettle)
		if got := d.CallsByEndpoint(); len(got) > 0 {
			bad++
			for k, v := range got {
				late[k] += v
			}
		}
		stop()
	}
	// The cold request may end before its own shipment/payment reads do;
	// those reads then stop (nobody waits for them) and fill nothing, so
	// a warm run may still fetch what the cold run never needed — each of
	// the two once, in one run or in two (one read may be cut short again
	// while the other goes on). After that every read must be a hit.
	for endpoint, n := range late {
		if n > 1 {
			t.Errorf("%s: %d upstream calls in %d of %d warm runs (%v), want at most 1: cached shipment/payment reads cut short by the end of the request went upstream instead",
				endpoint, n, bad, runs, late)
		}
	}
}

// cachePolicies returns the cache policies the gateway derives from the
// schema (gateway.New does the same), after checking them against the
// @cacheControl of the types each call fetches: every call's records are
// cacheable, Customer 60 s, Order 30 s (by id and by customer alike),
// Product 300 s, stock 1 s, Shipment 10 s, Payment 30 s.
func cachePolicies(t *testing.T) map[string]loaders.Policy {
	t.Helper()
	sch, err := planner.LoadSchema(loaders.Names(), schema.Sources()...)
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	got := sch.CachePolicies()
	want := map[string]loaders.Policy{
		loaders.CustomersByID:    {MaxAge: 60 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.OrdersByID:       {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.OrdersByCustomer: {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.ProductsBySKU:    {MaxAge: 300 * time.Second, MaxStale: 5 * time.Minute},
		loaders.StockBySKU:       {MaxAge: time.Second},
		loaders.ShipmentByOrder:  {MaxAge: 10 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.PaymentsByOrder:  {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
	}
	for _, call := range loaders.Names() {
		if got[call] != want[call] {
			t.Errorf("cache policy of %s = %+v, want %+v (from @cacheControl of the type it fetches)", call, got[call], want[call])
		}
	}
	return got
}

// ---------------------------------------------------------------------------
// 2. Lifetimes.

// TestCacheTTLs: stock (1 s) is fetched again once its second has passed
// and not before; the product (300 s) stays cached meanwhile; an unknown
// sku is asked for once however often it is queried, until NotFoundFor
// (5 s) has passed. Both with the in-process cache alone and with Redis
// behind it. The test polls; it waits only as long as the lifetimes need.
func TestCacheTTLs(t *testing.T) {
	cacheInBothModes(t, func(t *testing.T, d *demo.Demo, e *env) {
		ds := d.Data()
		count := func(service, path string) int {
			n := 0
			for _, r := range d.Requests(service) {
				if r.Path == path {
					n++
				}
			}
			return n
		}
		const (
			stockQ = `{ product(sku: "SKU-0042") { sku title stock } }`
			nfQ    = `{ product(sku: "SKU-9999") { sku title } }`
			poll   = 25 * time.Millisecond
			slack  = 300 * time.Millisecond
		)
		p, _ := ds.Product("SKU-0042")
		wantStock := map[string]any{"product": map[string]any{"sku": "SKU-0042", "title": p.Title, "stock": ds.Stock["SKU-0042"]}}
		wantNull := map[string]any{"product": nil}
		check := func(r response, want any) {
			t.Helper()
			r.mustOK(t)
			if diffs := cacheDiff(t, r.Data, want); len(diffs) > 0 {
				t.Fatalf("answer:\n  %s", strings.Join(diffs, "\n  "))
			}
		}

		s0 := time.Now()
		check(e.query("", stockQ, nil), wantStock)
		s1 := time.Now()
		if n := d.Calls("inventory"); n != 1 {
			t.Fatalf("first stock query: %d inventory requests, want 1", n)
		}
		n0 := time.Now()
		check(e.query("", nfQ, nil), wantNull)
		n1 := time.Now()
		check(e.query("", nfQ, nil), wantNull)
		if n := count("catalog", "/products/SKU-9999"); n != 1 {
			t.Errorf("an unknown sku queried twice: %d catalog requests, want 1 (not-found answers are cached)", n)
		}

		var stockAt, stockStart, nfAt, nfStart time.Time
		deadline := time.Now().Add(loaders.NotFoundFor + 3*time.Second)
		for (stockAt.IsZero() || nfAt.IsZero()) && time.Now().Before(deadline) {
			if stockAt.IsZero() {
				qs := time.Now()
				check(e.query("", stockQ, nil), wantStock)
				if d.Calls("inventory") > 1 {
					stockStart, stockAt = qs, time.Now()
					// The new answer is cached at once.
					check(e.query("", stockQ, nil), wantStock)
					if n := d.Calls("inventory"); n != 2 {
						t.Errorf("stock right after its refetch: %d inventory requests, want 2 (the new answer cached)", n)
					}
				}
			}
			if nfAt.IsZero() {
				qs := time.Now()
				check(e.query("", nfQ, nil), wantNull)
				if count("catalog", "/products/SKU-9999") > 1 {
					nfStart, nfAt = qs, time.Now()
					check(e.query("", nfQ, nil), wantNull)
					if n := count("catalog", "/products/SKU-9999"); n != 2 {
						t.Errorf("unknown sku right after its refetch: %d catalog requests, want 2 (the new answer cached)", n)
					}
				}
			}
			time.Sleep(poll)
		}
		if stockAt.IsZero() || nfAt.IsZero() {
			t.Fatalf("within %v: stock fetched again %v, unknown sku fetched again %v (inventory %d, catalog %v)",
				loaders.NotFoundFor+3*time.Second, !stockAt.IsZero(), !nfAt.IsZero(), d.Calls("inventory"), d.CallsByEndpoint())
		}
		// The entry was stored between s0 and s1: the refetch must come
		// after s0+1s, and the first query starting after s1+1s must
		// make it.
		const stockTTL = time.Second
		if got := stockAt.Sub(s0); got < stockTTL {
			t.Errorf("stock fetched again %v after it was cached, want >= %v", got, stockTTL)
		}
		if got := stockStart.Sub(s1); got > stockTTL+slack {
			t.Errorf("stock still served from the cache %v after it was cached, want it fetched again after %v", got, stockTTL)
		}
		if got := nfAt.Sub(n0); got < loaders.NotFoundFor {
			t.Errorf("unknown sku fetched again %v after the first answer, want >= %v (NotFoundFor)", got, loaders.NotFoundFor)
		}
		if got := nfStart.Sub(n1); got > loaders.NotFoundFor+slack {
			t.Errorf("unknown sku still cached %v after the first answer, want it fetched again after %v", got, loaders.NotFoundFor)
		}
		if n := count("catalog", "/products/SKU-0042"); n != 1 {
			t.Errorf("the product (cached 300 s) was requested %d times in %v, want once", n, time.Since(s0).Round(time.Millisecond))
		}
		t.Logf("%s: stock fetched again %v after first cached (%v after the query that did it began); unknown sku fetched again after %v",
			t.Name(), stockAt.Sub(s1).Round(time.Millisecond), stockStart.Sub(s1).Round(time.Millisecond), nfAt.Sub(n1).Round(time.Millisecond))
	})
}

// ---------------------------------------------------------------------------
// 3. Privacy.

// cachePrivacyFragment is the customer selection of the privacy test.
const cachePrivacyFragment = ` fragment C on Customer { id name email orders(first: 5) { id total { amount } payment { id status } shipment { trackingNumber carrier } } }`

const (
	cacheQMe       = `{ me { ...C } }` + cachePrivacyFragment
	cacheQCustomer = `query($id: ID!) { customer(id: $id) { ...C } }` + cachePrivacyFragment
	cacheQOrder    = `query($id: ID!) { order(id: $id) { id status customer { id name } payment { id status amount { amount } } shipment { trackingNumber status } } }`
)

func cachePaymentView(ds *demo.Dataset, orderID string, withAmount bool) any {
	p, ok := lastPayment(ds, orderID)
	if !ok {
		return nil
	}
	v := map[string]any{"id": p.ID, "status": strings.ToUpper(p.Status)}
	if withAmount {
		v["amount"] = map[string]any{"amount": amountString(p.Amount.Value)}
	}
	return v
}

// cacheCustomerView is what cachePrivacyFragment shows of customer id.
func cacheCustomerView(t *testing.T, ds *demo.Dataset, id string) any {
	c, ok := ds.Customer(id)
	if !ok {
		t.Fatalf("no customer %s", id)
	}
	orders := []any{}
	for _, o := range selectedOrders(ds, id, 5, false) {
		var ship any
		if s, ok := ds.Shipments[o.ID]; ok {
			ship = map[string]any{"trackingNumber": s.TrackingNo, "carrier": s.Carrier}
		}
		orders = append(orders, map[string]any{
			"id":       o.ID,
			"total":    map[string]any{"amount": amountString(lineTotal(o))},
			"payment":  cachePaymentView(ds, o.ID, false),
			"shipment": ship,
		})
	}
	return map[string]any{"id": c.ID, "name": c.FullName, "email": c.Email, "orders": orders}
}

// cacheOrderView is what cacheQOrder shows of order id.
func cacheOrderView(t *testing.T, ds *demo.Dataset, id string) any {
	o, ok := ds.Order(id)
	if !ok {
		t.Fatalf("no order %s", id)
	}
	c, _ := ds.Customer(o.CustomerID)
	var ship any
	if s, ok := ds.Shipments[o.ID]; ok {
		ship = map[string]any{"trackingNumber": s.TrackingNo, "status": strings.ToUpper(s.State)}
	}
	return map[string]any{
		"id":       o.ID,
		"status":   strings.ToUpper(o.Status),
		"customer": map[string]any{"id": c.ID, "name": c.FullName},
		"payment":  cachePaymentView(ds, o.ID, true),
		"shipment": ship,
	}
}

// cachePrivacyParties picks the customers and orders of the privacy test:
// c-0001 and another customer with at least three orders, and for each an
// order with a payment and a shipment.
func cachePrivacyParties(t *testing.T, ds *demo.Dataset) (a, b, orderA, orderB string) {
	t.Helper()
	withBoth := func(cid string) string {
		for _, o := range newestOrders(ds, cid) {
			_, paid := lastPayment(ds, o.ID)
			if _, shipped := ds.Shipments[o.ID]; paid && shipped {
				return o.ID
			}
		}
		return ""
	}
	a = demo.CustomerMostOrders
	orderA = withBoth(a)
	for _, c := range ds.Customers {
		if c.ID != a && len(newestOrders(ds, c.ID)) >= 3 && withBoth(c.ID) != "" {
			b, orderB = c.ID, withBoth(c.ID)
			break
		}
	}
	if orderA == "" || b == "" {
		t.Fatalf("demo data has no second customer with a paid and shipped order")
	}
	return a, b, orderA, orderB
}

// cachePrivacyRequest is one caller's query and what that caller may see.
type cachePrivacyRequest struct {
	who, token, what, query string
	vars                    map[string]any
	want                    any
	codes                   []string
}

func (q cachePrivacyRequest) check(t *testing.T, r response, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s %s: %v", q.who, q.what, err)
		return
	}
	codes := r.codes()
	if r.Status != http.StatusOK || !slices.Equal(codes, q.codes) {
		t.Errorf("%s %s: status %d, codes %v, want 200 and %v: %+v", q.who, q.what, r.Status, codes, q.codes, r.Errors)
	}
	if diffs := cacheDiff(t, r.Data, q.want); len(diffs) > 0 {
		t.Errorf("%s %s: the answer is not what %s may see:\n  %s", q.who, q.what, q.who, strings.Join(diffs, "\n  "))
	}
}

// TestCachePrivacy: two customers and a support user interleave the same
// queries (me, customer(id), order(id), with orders, payments and
// shipments) against a warm cache, in-process and with Redis, in turn and
// all at once: every answer is exactly what that caller may see, from the
// demo data. Then, on a cold cache, that private entries are kept per
// X-User-Id: support's read of a customer or order does not answer the
// customer's own read, and the other customer's read of an order fetches
// it under their own key (and gets null).
func TestCachePrivacy(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var rs *redistest.Server
			d := cacheDemo(t)
			setenv := map[string]string{}
			if mode == "redis" {
				rs = redistest.Start(t)
				setenv["REDIS_URL"] = rs.URL()
			}
			ds := d.Data()
			a, b, orderA, orderB := cachePrivacyParties(t, ds)

			t.Run("interleaved", func(t *testing.T) {
				e, _ := cacheGateway(t, d, setenv)
				cl := newCacheClient(t)
				callers := []struct{ who, token string }{
					{a, e.token(a)}, {b, e.token(b)}, {"support", e.token("staff-1", "support")},
				}
				var reqs []cachePrivacyRequest
				for _, c := range callers {
					support := c.who == "support"
					me := cachePrivacyRequest{who: c.who, token: c.token, what: "me", query: cacheQMe, want: map[string]any{"me": nil}}
					if !support {
						me.want = map[string]any{"me": cacheCustomerView(t, ds, c.who)}
					}
					reqs = append(reqs, me)
					for _, id := range []string{a, b} {
						q := cachePrivacyRequest{who: c.who, token: c.token, what: "customer(" + id + ")", query: cacheQCustomer,
							vars: map[string]any{"id": id}, want: map[string]any{"customer": nil}, codes: []string{"FORBIDDEN"}}
						if support || c.who == id {
							q.want, q.codes = map[string]any{"customer": cacheCustomerView(t, ds, id)}, nil
						}
						reqs = append(reqs, q)
					}
					for _, id := range []string{orderA, orderB} {
						o, _ := ds.Order(id)
						q := cachePrivacyRequest{who: c.who, token: c.token, what: "order(" + id + ")", query: cacheQOrder,
							vars: map[string]any{"id": id}, want: map[string]any{"order": nil}}
						if support || c.who == o.CustomerID {
							q.want = map[string]any{"order": cacheOrderView(t, ds, id)}
						}
						reqs = append(reqs, q)
					}
				}
				send := func(q cachePrivacyRequest) (response, error) {
					return cl.post(e.srv.URL, q.token, map[string]any{"query": q.query, "variables": q.vars}, map[string]string{gateway.PlanHeader: "1"})
				}
				rng := rand.New(rand.NewPCG(1, 2))
				for round := range 3 {
					d.ResetCounters()
					// Services with a batch still running when its answer
					// was written: the plan started it from an argument
					// (another customer's order's shipment) and nothing
					// waited for it, so an earlier round may have cut it
					// short before it was fetched and cached.
					pending := map[string]bool{}
					for _, i := range rng.Perm(len(reqs)) {
						r, err := send(reqs[i])
						reqs[i].check(t, r, err)
						if err == nil {
							for _, b := range cacheTraced(t, r) {
								if b.Pending {
									svc, _, _ := strings.Cut(b.Call, ".")
									pending[svc] = true
								}
							}
						}
					}
					if round > 0 {
						time.Sleep(corpusSettle) // late calls count too
						for k, n := range d.CallsByEndpoint() {
							if svc, _, _ := strings.Cut(k, " "); n > 0 && !pending[svc] {
								t.Errorf("round %d with the cache warm made upstream calls: %v (services with a batch pending at an answer: %v)", round+1, d.CallsByEndpoint(), pending)
								break
							}
						}
					}
				}
				for range 3 {
					var wg sync.WaitGroup
					for _, i := range rng.Perm(len(reqs)) {
						wg.Add(1)
						go func() {
							defer wg.Done()
							r, err := send(reqs[i])
							reqs[i].check(t, r, err)
						}()
					}
					wg.Wait()
				}
			})

			t.Run("keys-per-user", func(t *testing.T) {
				if rs != nil {
					// A cold Redis for this part: the keys are counted.
					rs.Restart()
				}
				e, _ := cacheGateway(t, d, setenv)
				sup, ta, tb := e.token("staff-1", "support"), e.token(a), e.token(b)
				const (
					qCust  = `query($id: ID!) { customer(id: $id) { id name } }`
					qMe    = `{ me { id name } }`
					qOrder = `query($id: ID!) { order(id: $id) { id status } }`
				)
				ca, _ := ds.Customer(a)
				oa, _ := ds.Order(orderA)
				custA := map[string]any{"id": a, "name": ca.FullName}
				ordA := map[string]any{"id": orderA, "status": strings.ToUpper(oa.Status)}
				d.ResetCounters()
				step := func(who, token, query string, vars map[string]any, want any, codes []string, service string, wantCalls int) {
					t.Helper()
					r := cacheFor(e, t).query(token, query, vars)
					if r.Status != http.StatusOK || !slices.Equal(r.codes(), codes) {
						t.Errorf("%s: status %d, codes %v, want 200 and %v", who, r.Status, r.codes(), codes)
					}
					if diffs := cacheDiff(t, r.Data, want); len(diffs) > 0 {
						t.Errorf("%s:\n  %s", who, strings.Join(diffs, "\n  "))
					}
					if got := d.Calls(service); got != wantCalls {
						t.Errorf("%s: %s requests so far = %d, want %d", who, service, got, wantCalls)
					}
				}
				vA := map[string]any{"id": a}
				step("support reads customer "+a, sup, qCust, vA, map[string]any{"customer": custA}, nil, "customers", 1)
				step(a+" reads itself (its own key, not support's entry)", ta, qCust, vA, map[string]any{"customer": custA}, nil, "customers", 2)
				step(a+" reads me (the same key as its customer(id))", ta, qMe, nil, map[string]any{"me": custA}, nil, "customers", 2)
				step("support reads customer "+a+" again (cached for support)", sup, qCust, vA, map[string]any{"customer": custA}, nil, "customers", 2)
				step(b+" reads customer "+a+" (forbidden, no call)", tb, qCust, vA, map[string]any{"customer": nil}, []string{"FORBIDDEN"}, "customers", 2)

				vO := map[string]any{"id": orderA}
				step("support reads order "+orderA, sup, qOrder, vO, map[string]any{"order": ordA}, nil, "orders", 1)
				step(a+" reads its order (its own key)", ta, qOrder, vO, map[string]any{"order": ordA}, nil, "orders", 2)
				step(b+" reads "+a+"'s order (fetched under "+b+"'s key, null)", tb, qOrder, vO, map[string]any{"order": nil}, nil, "orders", 3)
				step(a+" reads its order again (cached)", ta, qOrder, vO, map[string]any{"order": ordA}, nil, "orders", 3)
				step(b+" reads "+a+"'s order again (cached under "+b+"'s key, still null)", tb, qOrder, vO, map[string]any{"order": nil}, nil, "orders", 3)

				var users []string
				for _, r := range d.Requests("customers") {
					users = append(users, r.Header.Get("X-User-Id"))
				}
				for _, r := range d.Requests("orders") {
					users = append(users, r.Header.Get("X-User-Id"))
				}
				if want := []string{"staff-1", a, "staff-1", a, b}; !slices.Equal(users, want) {
					t.Errorf("X-User-Id of the customers then orders requests = %v, want %v", users, want)
				}
				if rs != nil {
					nc := cacheRedisKeys(t, rs.Addr, "tutti:v1:customers:*")
					no := cacheRedisKeys(t, rs.Addr, "tutti:v1:orders:*")
					if nc != 2 || no != 3 {
						t.Errorf("Redis holds %d customers and %d orders entries, want 2 (support, %s) and 3 (support, %s, %s)", nc, no, a, a, b)
					}
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Stampede.

// TestCacheReadinessAsksRedis: an idle replica whose Redis is gone is not
// ready — /readyz asks Redis itself rather than waiting for a request to
// find out — and is ready again once Redis is back.
func TestCacheReadinessAsksRedis(t *testing.T) {
	t.Parallel()
	d := cacheDemo(t)
	rs := redistest.Start(t)
	e, _ := cacheGateway(t, d, map[string]string{"REDIS_URL": rs.URL()})
	cl := &cacheClient{hc: &http.Client{Timeout: 5 * time.Second}}
	if st, body, err := cl.readyz(e.srv.URL); err != nil || st != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d %q %v", st, body, err)
	}
	rs.Stop()
	// Idle: nothing asks Redis but the probe, once the last answer is
	// older than a second.
	time.Sleep(1200 * time.Millisecond)
	if st, body, err := cl.readyz(e.srv.URL); err != nil || st != http.StatusServiceUnavailable {
		t.Errorf("/readyz of an idle replica with Redis gone: %d %q %v, want 503", st, body, err)
	}
	rs.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, body, err := cl.readyz(e.srv.URL)
		if err == nil && st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after Redis came back: %d %q %v, want 200", st, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCacheSparseFieldsAnswerSubsets: the catalog is asked for just the
// fields an operation selects, and what it answered is cached a field per
// entry, so a later operation selecting any of those fields makes no call
// (rule 5), and one selecting more asks again for its own field set.
func TestCacheSparseFieldsAnswerSubsets(t *testing.T) {
	cacheInBothModes(t, func(t *testing.T, d *demo.Demo, e *env) {
		plain := newEnv(t, nil)
		steps := []struct {
			query string
			calls int    // catalog requests this query adds
			asked string // the fields those ask for
		}{
			{`{ product(sku: "SKU-0042") { title price { amount } description tags } }`, 1, "description,price,tags,title"},
			{`{ product(sku: "SKU-0042") { title } }`, 0, ""},
			{`{ product(sku: "SKU-0042") { sku tags price { currency } } }`, 0, ""},
			{`{ productsBySku(skus: ["SKU-0042", "SKU-0043"]) { title } }`, 1, "title"},
			{`{ productsBySku(skus: ["SKU-0042", "SKU-0043"]) { title tags } }`, 1, "tags,title"},
			{`{ productsBySku(skus: ["SKU-0043", "SKU-0042"]) { tags title sku } }`, 0, ""},
		}
		for _, st := range steps {
			before := len(d.Requests("catalog"))
			r := e.query("", st.query, nil).mustOK(t)
			if want := plain.query("", st.query, nil).mustOK(t); string(r.Data) != string(want.Data) {
				t.Errorf("%s: answer %s, without cache %s", st.query, r.Data, want.Data)
			}
			reqs := d.Requests("catalog")[before:]
			if len(reqs) != st.calls {
				t.Errorf("%s: %d catalog requests, want %d", st.query, len(reqs), st.calls)
				continue
			}
			for _, rq := range reqs {
				got := rq.RawQuery + string(rq.Body)
				if !strings.Contains(got, st.asked) && !strings.Contains(got, strings.ReplaceAll(st.asked, ",", `","`)) {
					t.Errorf("%s: asked the catalog %s %s, want the fields %s", st.query, rq.Path, got, st.asked)
				}
			}
		}
	})
}

// TestCacheOrdersListAnswersOrderByID: reading a customer's orders caches
// each of them by id too (rule 5: data already fetched is not fetched
// again), for that caller only — another customer asking for one of them
// goes upstream and gets null, as if it did not exist.
func TestCacheOrdersListAnswersOrderByID(t *testing.T) {
	cacheInBothModes(t, func(t *testing.T, d *demo.Demo, e *env) {
		owner := demo.CustomerMostOrders
		all := ordersOf(d.Data(), owner)
		if len(all) < 11 {
			t.Fatalf("%s has %d orders", owner, len(all))
		}
		e.query(e.token(owner), `{ me { orders(first: 2) { id } } }`, nil).mustOK(t)
		if n := d.Calls("orders"); n != 1 {
			t.Fatalf("the customer's orders: %d orders requests, want 1", n)
		}
		// An order the first answer did not show, from the same list
		// (among the 20 newest, which the list caches by id).
		o := all[10]
		const q = `query($id: ID!) { order(id: $id) { id status } }`
		r := e.query(e.token(owner), q, map[string]any{"id": o.ID}).mustOK(t)
		if want := fmt.Sprintf(`{"order":{"id":%q,"status":%q}}`, o.ID, strings.ToUpper(o.Status)); string(r.Data) != want {
			t.Errorf("order by id: %s, want %s", r.Data, want)
		}
		if n := d.Calls("orders"); n != 1 {
			t.Errorf("an order of a list already read: %d orders requests in all, want 1 (by endpoint %v)", n, d.CallsByEndpoint())
		}
		r = e.query(e.token("c-0002"), q, map[string]any{"id": o.ID}).mustOK(t)
		if string(r.Data) != `{"order":null}` {
			t.Errorf("another customer: %s, want null", r.Data)
		}
		if n := d.Calls("orders"); n != 2 {
			t.Errorf("another customer asking for it: %d orders requests in all, want 2 (its own read)", n)
		}
	})
}

// TestCacheStampede: 100 concurrent requests for the same cold product,
// with the catalog slow enough that they all overlap, cost one catalog
// request (cache.Group), with the in-process cache and with Redis.
func TestCacheStampede(t *testing.T) {
	cacheInBothModes(t, func(t *testing.T, d *demo.Demo, e *env) {
		const latency = 250 * time.Millisecond
		d.SetLatency("catalog", latency)
		cl := newCacheClient(t)
		ds := d.Data()
		p, _ := ds.Product(demo.SKUEngine)
		want := map[string]any{"product": map[string]any{"sku": p.SKU, "title": p.Title, "price": map[string]any{"amount": amountString(priceCents(t, p.Price.Amount))}}}
		body := map[string]any{"query": `query($sku: ID!) { product(sku: $sku) { sku title price { amount } } }`, "variables": map[string]any{"sku": p.SKU}}

		const n = 100
		got := make([]response, n)
		errs := make([]error, n)
		durs := make([]time.Duration, n)
		var ready, wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-start
				t0 := time.Now()
				got[i], errs[i] = cl.post(e.srv.URL, "", body, nil)
				durs[i] = time.Since(t0)
			}()
		}
		ready.Wait()
		began := time.Now()
		close(start)
		wg.Wait()
		took := time.Since(began)
		for i := range n {
			if errs[i] != nil {
				t.Errorf("request %d: %v", i, errs[i])
				continue
			}
			if got[i].Status != http.StatusOK || len(got[i].Errors) > 0 {
				t.Errorf("request %d: status %d, errors %+v", i, got[i].Status, got[i].Errors)
				continue
			}
			if diffs := cacheDiff(t, got[i].Data, want); len(diffs) > 0 {
				t.Errorf("request %d:\n  %s", i, strings.Join(diffs, "\n  "))
			}
		}
		if c := d.Calls("catalog"); c != 1 {
			t.Errorf("%d concurrent requests for one cold product made %d catalog requests, want 1 (%v)", n, c, d.CallsByEndpoint())
		}
		slices.Sort(durs)
		t.Logf("%s: %d requests in %v, catalog requests %d; latency p50 %v, max %v (catalog latency %v)",
			t.Name(), n, took.Round(time.Millisecond), d.Calls("catalog"), durs[n/2].Round(time.Millisecond), durs[n-1].Round(time.Millisecond), latency)
	})
}

// ---------------------------------------------------------------------------
// 5. Redis killed under load.

// cacheLoadQuery is one query of the load mix.
type cacheLoadQuery struct {
	name, token, query string
	vars               map[string]any
}

// cacheLatencies summarises a phase's request latencies.
type cacheLatencies struct {
	n                        int
	p50, p90, p99, max, mean time.Duration
}

func cacheSummarise(ds []time.Duration) cacheLatencies {
	if len(ds) == 0 {
		return cacheLatencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return cacheLatencies{n: len(s), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

func (l cacheLatencies) String() string {
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s mean=%s", l.n, r(l.p50), r(l.p90), r(l.p99), r(l.max), r(l.mean))
}

// TestCacheRedisKilledDuringLoad: 20 workers send a mix of queries for 6 s
// through a gateway whose Redis is killed at 2 s and restarted (empty, on
// the same port) at 4 s. Every answer is a clean 200 with the full data
// (fail-open); /readyz says "not ready: redis down" while the breaker is
// open and ready again after the restart; the cache is used again after
// the restart (keys written to the new Redis, and a fresh replica is
// answered from them). The added latency while Redis is down is reported.
func TestCacheRedisKilledDuringLoad(t *testing.T) {
	rs := redistest.Start(t)
	d := cacheDemo(t)
	withRedis := map[string]string{"REDIS_URL": rs.URL()}
	e, _ := cacheGateway(t, d, withRedis)
	cl := newCacheClient(t)
	ds := d.Data()
	a, b, orderA, _ := cachePrivacyParties(t, ds)
	skuList := skus(20)
	queries := []cacheLoadQuery{
		{"me with orders", e.token(a), cacheQMe, nil},
		{"customer by support", e.token("staff-1", "support"), cacheQCustomer, map[string]any{"id": b}},
		{"order", e.token(a), cacheQOrder, map[string]any{"id": orderA}},
		{"product", "", `{ product(sku: "SKU-0042") { sku title price { amount } stock } }`, nil},
		{"productsBySku", "", `query($s: [ID!]!) { productsBySku(skus: $s) { sku title inStock } }`, map[string]any{"s": skuList}},
	}
	baseline := make([]any, len(queries))
	for i, q := range queries {
		r := e.query(q.token, q.query, q.vars).mustOK(t)
		baseline[i] = normalize(t, r.Data)
	}
	if st, body, err := cl.readyz(e.srv.URL); err != nil || st != http.StatusOK {
		t.Fatalf("/readyz before the load: %d %q %v", st, body, err)
	}

	const (
		workers   = 20
		total     = 6 * time.Second
		stopAt    = 2 * time.Second
		restartAt = 4 * time.Second
	)
	type sample struct {
		at, dur time.Duration
		failure string
	}
	type probe struct {
		at     time.Duration
		status int
		body   string
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), total)
	defer cancel()
	results := make([][]sample, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				qi := i % len(queries)
				q := queries[qi]
				t0 := time.Now()
				r, err := cl.post(e.srv.URL, q.token, map[string]any{"query": q.query, "variables": q.vars}, nil)
				s := sample{at: t0.Sub(began), dur: time.Since(t0)}
				switch {
				case err != nil:
					s.failure = fmt.Sprintf("%s: %v", q.name, err)
				case r.Status != http.StatusOK || len(r.Errors) > 0:
					s.failure = fmt.Sprintf("%s: status %d, errors %+v", q.name, r.Status, r.Errors)
				default:
					var diffs []string
					jsonDiff("data", normalize(t, r.Data), baseline[qi], &diffs)
					if len(diffs) > 0 {
						s.failure = fmt.Sprintf("%s: %s", q.name, strings.Join(diffs, "; "))
					}
				}
				results[w] = append(results[w], s)
			}
		}()
	}
	var probes []probe
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			st, body, err := cl.readyz(e.srv.URL)
			if err != nil {
				body = err.Error()
			}
			probes = append(probes, probe{at: time.Since(began), status: st, body: strings.TrimSpace(body)})
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()

	time.Sleep(time.Until(began.Add(stopAt)))
	rs.Stop()
	stopped := time.Since(began)
	time.Sleep(time.Until(began.Add(restartAt)))
	rs.Restart()
	restarted := time.Since(began)
	keysAtRestart := cacheRedisStats(t, rs.Addr)["dbsize"]
	wg.Wait()
	end := time.Since(began)

	// Every answer was a clean 200 with the full data.
	var all []sample
	for _, s := range results {
		all = append(all, s...)
	}
	var failures []string
	var up, down, downBeforeOpen, after []time.Duration
	firstDown := time.Duration(-1)
	for _, p := range probes {
		if p.at >= stopped && p.at < restarted && p.status == http.StatusServiceUnavailable {
			firstDown = p.at
			break
		}
	}
	for _, s := range all {
		if s.failure != "" {
			failures = append(failures, fmt.Sprintf("at %v: %s", s.at.Round(time.Millisecond), s.failure))
		}
		switch {
		case s.at < stopped:
			up = append(up, s.dur)
		case s.at < restarted:
			down = append(down, s.dur)
			if firstDown < 0 || s.at < firstDown {
				downBeforeOpen = append(downBeforeOpen, s.dur)
			}
		default:
			after = append(after, s.dur)
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed while Redis was killed and restarted; first ones:\n  %s",
			len(failures), len(all), strings.Join(failures[:min(5, len(failures))], "\n  "))
	}

	// Readiness: ready before, not ready while down, ready again after.
	var timeline []string
	last := -1
	for _, p := range probes {
		if p.status != last {
			timeline = append(timeline, fmt.Sprintf("%v %d %q", p.at.Round(time.Millisecond), p.status, p.body))
			last = p.status
		}
	}
	var readyAgain time.Duration = -1
	for _, p := range probes {
		switch {
		case p.at < stopped:
			if p.status != http.StatusOK {
				t.Errorf("/readyz at %v (Redis up) = %d %q, want 200", p.at.Round(time.Millisecond), p.status, p.body)
			}
		case p.at < restarted:
			if firstDown >= 0 && p.at > firstDown && p.status != http.StatusServiceUnavailable {
				t.Errorf("/readyz at %v (Redis down, breaker open since %v) = %d %q, want 503", p.at.Round(time.Millisecond), firstDown.Round(time.Millisecond), p.status, p.body)
			}
		default:
			if readyAgain < 0 && p.status == http.StatusOK {
				readyAgain = p.at
			}
			if readyAgain >= 0 && p.status != http.StatusOK {
				t.Errorf("/readyz at %v (ready again since %v) = %d %q", p.at.Round(time.Millisecond), readyAgain.Round(time.Millisecond), p.status, p.body)
			}
		}
	}
	if firstDown < 0 {
		t.Errorf("/readyz never said not ready while Redis was down (%v to %v): %v", stopped.Round(time.Millisecond), restarted.Round(time.Millisecond), timeline)
	} else {
		for _, p := range probes {
			if p.at == firstDown && !strings.Contains(p.body, "not ready: redis down") {
				t.Errorf("/readyz while Redis is down says %q, want %q", p.body, "not ready: redis down")
			}
		}
	}
	if readyAgain < 0 {
		t.Errorf("/readyz not ready again within %v of the restart: %v", (end - restarted).Round(time.Millisecond), timeline)
	}

	// The cache is used again: the new (empty) Redis fills, and a fresh
	// replica (empty in-process tier) is answered from it.
	st := cacheRedisStats(t, rs.Addr)
	if st["dbsize"] <= keysAtRestart || st["cmd:set"] == 0 || st["cmd:mget"] == 0 {
		t.Errorf("after the restart Redis got %d MGET, %d SET; keys %d at restart, %d at the end: the cache did not use it again",
			st["cmd:mget"], st["cmd:set"], keysAtRestart, st["dbsize"])
	}
	fresh, _ := cacheGateway(t, d, withRedis)
	var hits, batches int
	for _, q := range queries {
		r := cacheFor(fresh, t).planned("1", q.token, q.query, q.vars).mustOK(t)
		for _, c := range cacheTraced(t, r) {
			batches++
			hits += c.CacheHits
		}
	}
	if hits == 0 {
		t.Errorf("a fresh replica after the restart had no cache hit in %d batches: Redis holds no entries", batches)
	}

	upL, downL, openL, afterL := cacheSummarise(up), cacheSummarise(down), cacheSummarise(downBeforeOpen), cacheSummarise(after)
	t.Logf("Redis killed at %v, restarted at %v (load %v, %d workers, %d requests, %d failed)",
		stopped.Round(time.Millisecond), restarted.Round(time.Millisecond), end.Round(time.Millisecond), workers, len(all), len(failures))
	t.Logf("readiness: %s", strings.Join(timeline, " | "))
	if firstDown >= 0 {
		t.Logf("breaker open (503) %v after the kill; ready %v after the restart", (firstDown - stopped).Round(time.Millisecond), (readyAgain - restarted).Round(time.Millisecond))
	}
	t.Logf("latency Redis up:        %s", upL)
	t.Logf("latency Redis down:      %s (added p50 %+v, p99 %+v)", downL, downL.p50-upL.p50, downL.p99-upL.p99)
	t.Logf("  before breaker opened: %s", openL)
	t.Logf("latency after restart:   %s", afterL)
	t.Logf("after restart Redis: %d MGET, %d SET, %d keyspace hits, %d keys; a fresh replica: %d cache hits in %d batches",
		st["cmd:mget"], st["cmd:set"], st["keyspace_hits"], st["dbsize"], hits, batches)
}

// ---------------------------------------------------------------------------
// 6. Stale if error.

// TestCacheStaleIfError: a product is warmed through a proxy that adds
// Cache-Control: max-age=1 to the catalog's answers (so its entry is fresh
// one second, not the schema's five minutes), left to expire, and the
// catalog then fails (503): the expired product is served (within its
// 5 min maxStale) with no error, and extensions.cache.stale names
// catalog.bySku. Stock (maxStale 0: never over one second) is not served
// stale: it fails. A product never cached fails as usual.
func TestCacheStaleIfError(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			d := cacheDemo(t)
			target, err := url.Parse(d.URL("catalog"))
			if err != nil {
				t.Fatal(err)
			}
			rp := httputil.NewSingleHostReverseProxy(target)
			rp.ModifyResponse = func(res *http.Response) error {
				if res.StatusCode == http.StatusOK {
					res.Header.Set("Cache-Control", "max-age=1")
				}
				return nil
			}
			proxy := httptest.NewServer(rp)
			t.Cleanup(proxy.Close)
			setenv := map[string]string{"UPSTREAM_CATALOG_URL": proxy.URL}
			if mode == "redis" {
				setenv["REDIS_URL"] = redistest.Start(t).URL()
			}
			e, _ := cacheGateway(t, d, setenv)
			const q = `{ product(sku: "SKU-0042") { sku title } }`
			want := map[string]any{"product": map[string]any{"sku": "SKU-0042", "title": "Brass Difference Engine"}}
			// Warm the product (fields sku, title: the same catalog entry q
			// reads) and its stock.
			e.query("", `{ product(sku: "SKU-0042") { sku title stock } }`, nil).mustOK(t)
			warmed := time.Now()
			// The only wait: until the 1 s entries are no longer fresh.
			time.Sleep(time.Until(warmed.Add(time.Second + 50*time.Millisecond)))
			d.SetFault("catalog", demo.Fault{Status: http.StatusServiceUnavailable})
			d.SetFault("inventory", demo.Fault{Status: http.StatusServiceUnavailable})
			defer d.ClearFaults()
			d.ResetCounters()

			r := e.planned("1", "", q, nil)
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("catalog failing, product expired but within maxStale: status %d, errors %+v; want the stale product and no error", r.Status, r.Errors)
			}
			if diffs := cacheDiff(t, r.Data, want); len(diffs) > 0 {
				t.Errorf("stale answer:\n  %s", strings.Join(diffs, "\n  "))
			}
			var marker struct {
				Stale map[string]int `json:"stale"`
			}
			if _, ok := r.Extensions["cache"]; !ok {
				t.Errorf("no extensions.cache on an answer that used a stale entry: %v", r.Extensions)
			} else {
				r.extension(t, "cache", &marker)
				if !maps.Equal(marker.Stale, map[string]int{loaders.ProductsBySKU: 1}) {
					t.Errorf("extensions.cache.stale = %v, want {%s: 1}", marker.Stale, loaders.ProductsBySKU)
				}
			}
			for _, c := range cacheTraced(t, r) {
				if c.Call == loaders.ProductsBySKU && c.Stale != 1 {
					t.Errorf("extensions.calls %s: stale %d, want 1", c.Call, c.Stale)
				}
			}
			if d.Calls("catalog") == 0 {
				t.Errorf("the stale product was served without asking the catalog (it is expired: stale-if-error, not stale-while-revalidate)")
			}

			// Stock is never served over one second old, not even stale.
			r = e.query("", `{ product(sku: "SKU-0042") { sku stock } }`, nil)
			if !slices.Contains(r.codes(), "UPSTREAM_UNAVAILABLE") {
				t.Errorf("expired stock with the inventory failing: codes %v, want UPSTREAM_UNAVAILABLE (stock has no stale window)", r.codes())
			}

			// Control: a product never cached has nothing to fall back on.
			r = e.query("", `{ product(sku: "SKU-0043") { sku title } }`, nil)
			if !slices.Contains(r.codes(), "UPSTREAM_UNAVAILABLE") {
				t.Errorf("uncached product with the catalog failing: codes %v, want UPSTREAM_UNAVAILABLE", r.codes())
			}
			if _, ok := r.Extensions["cache"]; ok {
				t.Errorf("extensions.cache on an answer that used no stale entry: %v", r.Extensions["cache"])
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 7. Redis Cluster.

// TestCacheCluster: REDIS_URL is the three seeds of a 3-node cluster. A
// few queries, cold, answer as a gateway without cache does; warm, each on
// a fresh replica (empty in-process tier), they make no upstream call for
// cacheable data, read the cluster with pipelined GETs (no MGET, which a
// cluster refuses across slots) and answer the same. The entries spread
// over the nodes.
func TestCacheCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	pol := cachePolicies(t)
	d := cacheDemo(t)
	seeds := map[string]string{"REDIS_URL": strings.Join(addrs, ",")}
	plain, _ := cacheGateway(t, d, map[string]string{"GATEWAY_CACHE": "false"})
	cold, _ := cacheGateway(t, d, seeds)
	ds := d.Data()
	a, b, orderA, orderB := cachePrivacyParties(t, ds)
	queries := []cacheLoadQuery{
		{"me with orders, payments, shipments", plain.token(a), cacheQMe, nil},
		{"support: customer with orders", plain.token("staff-1", "support"), cacheQCustomer, map[string]any{"id": b}},
		{"support: order", plain.token("staff-1", "support"), cacheQOrder, map[string]any{"id": orderB}},
		{"own order with lines", plain.token(a), `query($id: ID!) { order(id: $id) { id lines { sku product { title price { amount } stock } } } }`, map[string]any{"id": orderA}},
		{"40 products with stock", "", `query($s: [ID!]!) { productsBySku(skus: $s) { sku title stock } }`, map[string]any{"s": skus(40)}},
		{"unknown ids", plain.token("staff-1", "support"), `{ customer(id: "c-9999") { name } order(id: "o-999999") { status shipment { carrier } } product(sku: "SKU-9999") { title } }`, nil},
	}
	var coldCalls, warmCalls int
	var gets, mgets, keys int64
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			want := cacheFor(plain, t).query(q.token, q.query, q.vars)
			d.ResetCounters()
			began := time.Now()
			rc := cacheFor(cold, t).query(q.token, q.query, q.vars)
			coldCalls += cacheSum(cold.calls())
			if rc.Status != want.Status || !slices.Equal(rc.codes(), want.codes()) {
				t.Errorf("cold: status %d codes %v, without cache %d %v", rc.Status, rc.codes(), want.Status, want.codes())
			}
			if diffs := cacheDiff(t, rc.Data, want.Data); len(diffs) > 0 {
				t.Errorf("cold answer over the cluster differs from the uncached one:\n  %s", strings.Join(diffs, "\n  "))
			}

			warm, stopWarm := cacheGateway(t, d, seeds)
			defer stopWarm()
			before := cacheRedisSum(t, addrs)
			d.ResetCounters()
			rw := cacheFor(warm, t).planned("1", q.token, q.query, q.vars)
			we := time.Now()
			time.Sleep(corpusSettle)
			after := cacheRedisSum(t, addrs)
			byEndpoint := d.CallsByEndpoint()
			warmCalls += cacheSum(byEndpoint)
			stockMayBeStale := we.Sub(began) >= time.Second
			if rw.Status != want.Status || !slices.Equal(rw.codes(), want.codes()) {
				t.Errorf("warm: status %d codes %v, without cache %d %v", rw.Status, rw.codes(), want.Status, want.codes())
			}
			if diffs := cacheDiff(t, rw.Data, want.Data); len(diffs) > 0 {
				t.Errorf("warm answer over the cluster differs from the uncached one:\n  %s", strings.Join(diffs, "\n  "))
			}
			if extra := cacheUncached(byEndpoint, stockMayBeStale); len(extra) > 0 {
				t.Errorf("warm run over the cluster made upstream calls for cached data: %v", extra)
			}
			var k, kFinished int64
			per := cacheEntriesPerKey(t, rw)
			for _, c := range cacheTraced(t, rw) {
				if pol[c.Call].MaxAge > 0 {
					n := int64(c.Keys) * per(c.Call) // a cached call's batch reads its keys' entries
					k += n
					if !c.Pending {
						kFinished += n
					}
				}
			}
			g, m := after["cmd:get"]-before["cmd:get"], after["cmd:mget"]-before["cmd:mget"]
			if m != 0 {
				t.Errorf("%d MGETs on a cluster, want pipelined GETs", m)
			}
			// Keys of a batch still pending when the answer was written may
			// or may not have been read: their request ended.
			if g > k || g < kFinished {
				t.Errorf("%d GETs on the cluster for %d entries of the keys in batches of cached calls (%d in finished batches), want one per entry", g, k, kFinished)
			}
			gets, mgets, keys = gets+g, mgets+m, keys+k
		})
	}
	holding := 0
	var perNode []string
	for _, a := range addrs {
		n := cacheRedisStats(t, a)["dbsize"]
		perNode = append(perNode, fmt.Sprintf("%s: %d", a, n))
		if n > 0 {
			holding++
		}
	}
	if holding < 2 {
		t.Errorf("entries on %d of 3 nodes (%v), want them spread over the slots", holding, perNode)
	}
	t.Logf("cluster: upstream requests cold %d, warm %d; warm reads: %d GETs (pipelined) for %d keys, %d MGETs; keys per node %v",
		coldCalls, warmCalls, gets, keys, mgets, perNode)
}

// ---------------------------------------------------------------------------
// 8. Automatic persisted queries.

// TestCacheAPQ: a hash the gateway does not know answers
// PERSISTED_QUERY_NOT_FOUND with HTTP 200 (what Apollo's clients expect);
// after the query is sent once with its hash, the hash alone runs it, on
// this replica and on another one over the same Redis, by POST and by GET.
func TestCacheAPQ(t *testing.T) {
	rs := redistest.Start(t)
	d := cacheDemo(t)
	withRedis := map[string]string{"REDIS_URL": rs.URL()}
	g1, _ := cacheGateway(t, d, withRedis)
	g2, _ := cacheGateway(t, d, withRedis)
	cl := newCacheClient(t)
	ds := d.Data()
	p, _ := ds.Product(demo.SKUEngine)
	const q = `query Card($sku: ID!) { product(sku: $sku) { sku title } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	vars := map[string]any{"sku": p.SKU}
	want := map[string]any{"product": map[string]any{"sku": p.SKU, "title": p.Title}}

	post := func(e *env, body map[string]any) response {
		t.Helper()
		r, err := cl.post(e.srv.URL, "", body, nil)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		return r
	}
	getByHash := func(e *env) response {
		t.Helper()
		extJSON, _ := json.Marshal(ext)
		varsJSON, _ := json.Marshal(vars)
		r, err := cl.get(e.srv.URL, url.Values{"extensions": {string(extJSON)}, "variables": {string(varsJSON)}})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		return r
	}
	notFound := func(what string, r response) {
		t.Helper()
		if !slices.Equal(r.codes(), []string{"PERSISTED_QUERY_NOT_FOUND"}) {
			t.Errorf("%s: codes %v, want [PERSISTED_QUERY_NOT_FOUND]: %+v", what, r.codes(), r.Errors)
		}
		if r.Status != http.StatusOK {
			t.Errorf("%s: HTTP %d for PERSISTED_QUERY_NOT_FOUND, want 200 (Apollo clients resend the query only on 200)", what, r.Status)
		}
		if r.HasData && strings.TrimSpace(string(r.Data)) != "null" {
			t.Errorf("%s: data %s with PERSISTED_QUERY_NOT_FOUND", what, r.Data)
		}
	}
	works := func(what string, r response) {
		t.Helper()
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Errorf("%s: status %d, errors %+v", what, r.Status, r.Errors)
			return
		}
		if diffs := cacheDiff(t, r.Data, want); len(diffs) > 0 {
			t.Errorf("%s:\n  %s", what, strings.Join(diffs, "\n  "))
		}
	}

	notFound("hash alone, unknown, POST", post(g1, map[string]any{"extensions": ext, "variables": vars}))
	notFound("hash alone, unknown, GET on the other replica", getByHash(g2))
	if n := cacheSum(g1.calls()); n != 0 {
		t.Errorf("an unknown persisted query made %d upstream requests", n)
	}
	works("query with its hash (registers it)", post(g1, map[string]any{"query": q, "extensions": ext, "variables": vars}))
	works("hash alone after registering, same replica", post(g1, map[string]any{"extensions": ext, "variables": vars}))
	works("hash alone, other replica over the same Redis, POST", post(g2, map[string]any{"extensions": ext, "variables": vars}))
	works("hash alone, other replica over the same Redis, GET", getByHash(g2))
	if n := cacheRedisKeys(t, rs.Addr, "tutti:apq:"+hash); n != 1 {
		t.Errorf("Redis holds %d entries for the persisted query, want 1 (tutti:apq:<hash>)", n)
	}

	// A query whose hash does not match is refused and not stored.
	wrong := strings.Repeat("0", 64)
	r := post(g1, map[string]any{"query": q, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": wrong}}, "variables": vars})
	if len(r.Errors) == 0 || slices.Contains(r.codes(), "PERSISTED_QUERY_NOT_FOUND") {
		t.Errorf("a query with a hash that does not match: status %d, codes %v; want it refused", r.Status, r.codes())
	}
	notFound("the mismatched hash alone", post(g2, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": wrong}}, "variables": vars}))
	t.Logf("PERSISTED_QUERY_NOT_FOUND answered with HTTP %d; mismatched hash: HTTP %d %v", post(g1, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("1", 64)}}}).Status, r.Status, r.codes())
}
