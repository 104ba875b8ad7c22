// Package gateway wires Tutti together: configuration, the upstream
// clients (or the in-process demo services), authentication, the gqlgen
// server with its transports and limits, and the HTTP routes. server.go
// runs it; tests build it the same way.
package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/cache"
	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/gqlhttp"
	"github.com/tutti-gw/tutti/graph"
	"github.com/tutti-gw/tutti/limits"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/resolvers"
	"github.com/tutti-gw/tutti/schema"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/customers"
	"github.com/tutti-gw/tutti/upstream/inventory"
	"github.com/tutti-gw/tutti/upstream/orders"
	"github.com/tutti-gw/tutti/upstream/payments"
	"github.com/tutti-gw/tutti/upstream/shipping"
)

// DevSecret is the HS256 secret used when none is configured and every
// upstream is a demo service: the sample tokens printed at start-up are
// signed with it. It is never used in front of real services.
const DevSecret = "tutti-development-secret-do-not-use-in-production"

// Options are what the process gives the gateway besides its Config.
type Options struct {
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Demo, when set, serves the services whose URL is unset; when nil and
	// some URL is unset, New starts its own demo services.
	Demo *demo.Demo
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gateway is a wired gateway: an http.Handler plus what must be closed.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	demo     *demo.Demo
	ownDemo  bool
	verifier *auth.Verifier
	// DevSecret is the HS256 secret in use when the gateway made one up for
	// the demo services ("" otherwise).
	DevSecret string
	handler   http.Handler
	metrics   *metrics
	// upstreams are the clients by service, for readiness.
	upstreams map[string]*upstream.Client
	// cache is the shared entity cache (nil when off); redis its shared
	// tier (nil when in-process); apq holds persisted queries.
	cache *cache.Cache
	redis *cache.Redis
	apq   graphql.Cache[string]
}

// New builds the gateway from cfg. It starts the demo services for the
// upstreams that have no URL.
func New(ctx context.Context, cfg Config, o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{cfg: cfg, log: o.Logger, demo: o.Demo, metrics: newMetrics()}
	if err := g.startDemo(); err != nil {
		return nil, err
	}
	if err := g.startCache(); err != nil {
		g.Close()
		return nil, err
	}
	clients, err := g.clients()
	if err != nil {
		g.Close()
		return nil, err
	}
	if err := g.startAuth(ctx); err != nil {
		g.Close()
		return nil, err
	}
	sch, err := planner.LoadSchema(loaders.Names(), schema.Sources()...)
	if err != nil {
		g.Close()
		return nil, err
	}
	res := &resolvers.Resolver{
		Catalog: clients.Catalog,
		Cursors: resolvers.NewCursors(sha256Key(cfg.CursorSecret)),
		Now:     o.Now,
	}
	res.Planner = planner.New(sch, res.Hooks())
	res.Planner.Off = cfg.Mode != loaders.ModePlanned
	clients.Policies = sch.CachePolicies()
	if err := loaders.CheckPolicies(clients.Policies); err != nil {
		g.Close()
		return nil, fmt.Errorf("schema cache policies: %w", err)
	}
	g.handler = g.routes(g.graphQL(res, clients))
	return g, nil
}

// Handler serves every endpoint of config.md.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close stops what New started.
func (g *Gateway) Close() {
	if g.redis != nil {
		_ = g.redis.Close()
	}
	if g.verifier != nil {
		g.verifier.Close()
	}
	if g.ownDemo && g.demo != nil {
		_ = g.demo.Close()
	}
}

func (g *Gateway) startDemo() error {
	needed := false
	for _, s := range Services {
		if g.cfg.Upstreams[s].URL == "" {
			needed = true
		}
	}
	if !needed || g.demo != nil {
		return nil
	}
	g.demo = demo.New(demo.Options{Logger: g.log})
	if err := g.demo.Start(); err != nil {
		return fmt.Errorf("start demo services: %w", err)
	}
	g.ownDemo = true
	return nil
}

// upstreamOf returns where service s is: its configured URL and key, or
// the demo service's.
func (g *Gateway) upstreamOf(s string) Upstream {
	u := g.cfg.Upstreams[s]
	if u.URL == "" {
		u.URL = g.demo.URL(s)
	}
	if u.APIKey == "" {
		u.APIKey = demo.DefaultAPIKey(s)
	}
	return u
}

// startCache builds the cache tiers: an in-process LRU alone, or in front
// of Redis (REDIS_URL) with a short lifetime so that other replicas'
// invalidations are seen soon. Persisted queries go to Redis too, or to a
// memory of their own.
func (g *Gateway) startCache() error {
	mem := func(maxTTL time.Duration) *cache.Memory {
		return cache.NewMemory(cache.MemoryOptions{MaxEntries: 50_000, MaxTTL: maxTTL})
	}
	// tier is the in-process cache of the entities; with Redis it sits in
	// front of it with a short lifetime.
	var tier *cache.Memory
	var store cache.Store
	if g.cfg.RedisURL == "" {
		g.apq = cache.NewAPQ(mem(0), 24*time.Hour)
		tier = mem(0)
		store = tier
	} else {
		redis.SetLogger(cache.RedisLogger{L: g.log})
		r, err := cache.NewRedis(cache.RedisOptions{URL: g.cfg.RedisURL, Logger: g.log})
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		g.redis = r
		g.metrics.reg.MustRegister(r.Collectors()...)
		g.apq = cache.NewAPQ(r, 24*time.Hour)
		tier = mem(2 * time.Second)
		store = cache.NewTiered(tier, r)
	}
	if g.cfg.Cache {
		g.cache = cache.New(cache.Options{Store: store, Logger: g.log})
		g.metrics.reg.MustRegister(tier.Collectors()...)
		g.metrics.reg.MustRegister(g.cache.Collectors()...)
	}
	return nil
}

func (g *Gateway) clients() (loaders.Clients, error) {
	transport := upstream.NewTransport()
	um := upstream.NewMetrics(g.metrics.reg)
	g.upstreams = map[string]*upstream.Client{}
	mk := func(s string) (*upstream.Client, error) {
		u := g.upstreamOf(s)
		o := upstream.Options{
			Service:        s,
			BaseURL:        u.URL,
			APIKey:         u.APIKey,
			Transport:      transport,
			AttemptTimeout: g.cfg.UpstreamTimeout,
			// Catalog and inventory data is the same for everyone: they
			// never learn who asked.
			SendUserID: loaders.SendsUser(s),
			Logger:     g.log.With("component", "upstream"),
			Metrics:    um,
		}
		// Per-service settings win over the gateway-wide ones.
		u.Policy.Apply(&o)
		cl, err := upstream.NewClient(o)
		if err == nil {
			g.upstreams[s] = cl
		}
		return cl, err
	}
	c := loaders.Clients{Cache: g.cache}
	var errs []error
	for _, u := range []struct {
		name string
		set  func(*upstream.Client)
	}{
		{"customers", func(cl *upstream.Client) { c.Customers = customers.New(cl) }},
		{"orders", func(cl *upstream.Client) { c.Orders = orders.New(cl) }},
		{"catalog", func(cl *upstream.Client) { c.Catalog = catalog.New(cl) }},
		{"inventory", func(cl *upstream.Client) { c.Inventory = inventory.New(cl) }},
		{"shipping", func(cl *upstream.Client) { c.Shipping = shipping.New(cl) }},
		{"payments", func(cl *upstream.Client) { c.Payments = payments.New(cl) }},
	} {
		cl, err := mk(u.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", u.name, err))
			continue
		}
		u.set(cl)
	}
	return c, errors.Join(errs...)
}

func (g *Gateway) startAuth(ctx context.Context) error {
	secret := g.cfg.JWTSecret
	if secret == "" && g.cfg.JWKSURL == "" && g.cfg.DemoUpstreams() {
		secret = DevSecret
		g.DevSecret = DevSecret
	}
	if secret == "" && g.cfg.JWKSURL == "" {
		// No way to verify a token: every request is anonymous, and one
		// that brings a token is refused.
		g.log.Warn("no JWT_HS256_SECRET or JWT_JWKS_URL: requests with a token are refused")
		return nil
	}
	v, err := auth.NewVerifier(ctx, auth.Options{HS256Secret: []byte(secret), JWKSURL: g.cfg.JWKSURL})
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	g.verifier = v
	return nil
}

// authenticate is the transport's token step: no header is anonymous, a
// bad token refuses the whole request.
func (g *Gateway) authenticate(r *http.Request) (context.Context, error) {
	ctx := r.Context()
	if g.verifier == nil {
		if r.Header.Get("Authorization") != "" {
			return nil, auth.ErrInvalidToken
		}
		return ctx, nil
	}
	p, err := g.verifier.FromRequest(r)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return ctx, nil
	}
	ctx = auth.WithPrincipal(ctx, p)
	return upstream.WithUserID(ctx, p.Subject), nil
}

func (g *Gateway) graphQL(res *resolvers.Resolver, clients loaders.Clients) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	lim := limits.New(g.cfg.Limits)
	opts := gqlhttp.Options{
		MaxBodyBytes: g.cfg.MaxBodyBytes,
		Authenticate: g.authenticate,
		Logger:       g.log.With("component", "http"),
	}
	srv.AddTransport(gqlhttp.GET{Options: opts})
	srv.AddTransport(gqlhttp.POST{Options: opts})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if g.cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
		srv.Use(noIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: g.apq})
	srv.Use(lim)
	srv.SetErrorPresenter(presenter(g.log, g.cfg.Introspection))
	srv.SetRecoverFunc(recoverFunc(g.log))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx)
		prepared := res.Planner.Prepare(op)
		lo := loaders.Options{Mode: g.cfg.Mode, Fields: prepared.Fields()}
		mode := planMode(op)
		if mode == "dry-run" {
			plan := res.Planner.Explain(ctx, op)
			return graphql.OneShot(&graphql.Response{Data: []byte("null"), Extensions: map[string]any{"plan": plan}})
		}
		var plan *planner.Plan
		if mode == "explain" {
			lo.Trace = loaders.NewTrace()
			plan = res.Planner.Explain(ctx, op)
		}
		// The operation runs on a context with the request's values that
		// ends when the client goes away, but not when the answer has been
		// written: then a batch the plan started from an argument that the
		// answer turned out not to need (an unknown customer's orders,
		// another customer's order's shipment) still finishes and fills the
		// cache, so what a query calls does not depend on timing. Such
		// batches get pendingGrace at most; without any, the context ends
		// with the answer.
		octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopWatchingClient := context.AfterFunc(ctx, cancel)
		l := loaders.New(clients, lo)
		octx = loaders.With(octx, l)
		octx = res.Planner.Start(octx, prepared)
		handle := next(octx)
		return func(ctx context.Context) *graphql.Response {
			resp := handle(ctx)
			if stopWatchingClient() { // the client did not go away first
				// Nothing left running: end now, keeping nothing of the
				// request alive; else give the pending batches their time.
				if l.InFlight() == 0 {
					cancel()
				} else {
					time.AfterFunc(pendingGrace, cancel)
				}
			}
			if resp == nil {
				return nil
			}
			stale := l.Stale()
			if plan == nil && stale == nil {
				return resp
			}
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			if plan != nil {
				resp.Extensions["plan"] = plan
				resp.Extensions["calls"] = visibleCalls(lo.Trace.Calls(), clients.Policies, auth.FromContext(ctx))
			}
			if stale != nil {
				// Some data is an expired cache entry served because its
				// service failed (stale-if-error): keys per call.
				resp.Extensions["cache"] = map[string]any{"stale": stale}
			}
			return resp
		}
	})
	return srv
}

// visibleCalls is what extensions.calls shows p. "An unknown order and
// another customer's order get the same answer": for private data only
// support staff, who may read any of it, see how many keys a service did
// not know — an unknown order's orders.byId (and its shipment) would say
// notFound where another customer's would not. (How long either answer is
// cached is the same: loaders keeps private not-found answers as long as
// found ones.)
func visibleCalls(calls []loaders.TracedCall, policies map[string]loaders.Policy, p *auth.Principal) []loaders.TracedCall {
	if p.HasScope(auth.ScopeSupport) {
		return calls
	}
	for i := range calls {
		if policies[calls[i].Call].Private {
			calls[i].NotFound = 0
		}
	}
	return calls
}

// pendingGrace bounds how long the batches of an answered operation may go
// on (each is bounded by its service's timeouts too).
const pendingGrace = 2 * time.Second

// PlanHeader asks for the plan of a query: "1" adds extensions.plan and
// extensions.calls to the answer; "dry-run" answers the plan alone and
// makes no upstream call.
const PlanHeader = "X-Tutti-Plan"

func planMode(op *graphql.OperationContext) string {
	if op == nil || op.Headers == nil {
		return ""
	}
	switch v := op.Headers.Get(PlanHeader); v {
	case "1", "true", "explain":
		return "explain"
	case "dry-run":
		return "dry-run"
	}
	return ""
}

func (g *Gateway) routes(gql http.Handler) http.Handler {
	mux := http.NewServeMux()
	gql = g.metrics.instrument("/graphql", gql)
	mux.Handle("GET /graphql", gql)
	mux.Handle("POST /graphql", gql)
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, POST")
		gqlhttp.WriteError(w, r, http.StatusMethodNotAllowed, gqlerr.New(gqlerr.BadRequest, "use GET or POST"))
	})
	mux.Handle("GET /{$}", playground.Handler("Tutti", "/graphql"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.ready)
	mux.Handle("GET /metrics", g.metrics.handler())
	return gqlhttp.Recover(g.log, requestID(mux))
}

func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	cacheState := "cache: in-process"
	if g.redis != nil {
		// Ready means the cache is reachable (config.md): recent round
		// trips say so, or, on an idle replica, a PING. Requests still
		// succeed while it is not (fail-open); readiness tells.
		ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
		err := g.redis.Reachable(ctx, readyRecent)
		cancel()
		if st := g.redis.State(); err != nil || st == cache.StateDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: redis %s\n", cache.StateDown)
			return
		} else {
			cacheState = "cache: redis " + string(st)
		}
	}
	if g.verifier != nil {
		if err := g.verifier.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: token keys: %v\n", err)
			return
		}
	}
	_, _ = fmt.Fprintf(w, "ready: %s\n", cacheState)
	// An open breaker does not make the gateway unready: failing every
	// replica's readiness over one service would drain them all, and the
	// breaker already answers at once.
	for _, s := range Services {
		if c := g.upstreams[s]; c != nil {
			_, _ = fmt.Fprintf(w, "upstream %s: breaker %s\n", s, c.State())
		}
	}
}

// readyPingTimeout bounds the Redis PING of a readiness probe, and
// readyRecent is how recent a round trip's answer must be to spare it.
const (
	readyPingTimeout = 500 * time.Millisecond
	readyRecent      = time.Second
)

func sha256Key(s string) []byte {
	k := sha256.Sum256([]byte(s))
	return k[:]
}
