// Package demo implements the seven REST services of the shop
// (spec/upstreams.md): customers, orders, catalog, inventory, shipping,
// payments and notifications. The gateway starts them in-process when no
// upstream URL is configured, and tests and benchmarks use them as
// upstreams whose data, latency and failures they control.
//
// # Data
//
// New generates the data from Options.Seed: the same seed and the same UTC
// day of the clock give identical data (Data returns it). The ids with a known
// awkward shape are the same for every seed and are listed as constants
// (CustomerAddressNull, OrderDeclinedThenCaptured, UnknownSKU, ...). There
// are NumCustomers customers "c-0001"..., NumProducts products "SKU-0001"...,
// and orders "o-000001"...: 30 for CustomerMostOrders, 0 to 29 for each other
// customer, numbered customer by customer and, within a customer, in the
// order placed.
//
// Most orders were placed in the two years before ReferenceTime, a fixed
// instant, so the history does not move. About half the customers, and
// CustomerMostOrders always, also have orders placed in the last 30 days:
// those are placed a whole number of days (0 to 28) plus one to 21 hours
// before the start of the clock's UTC day at New. They are always in the
// past and within 30 days of the clock, so Customer.recentOrderCount is not
// trivial whenever the tests run. A few shipment etas are set relative to
// that day too (OrderETAYesterday, OrderETAToday).
//
// Catalog search lists products newest first, which here means by sku from
// the highest down (the catalog never changes). q matches a substring of the
// title or of any tag, case-insensitively.
//
// # Behaviour
//
// Every service checks X-Api-Key (401 {"error":"unauthorized"}), takes at
// most 100 keys in a batch parameter (400 {"error":"too_many_keys"}, counted
// as sent, duplicates included) and answers a key given twice once. Validation
// errors are 400 {"error":"bad_request","message":...}. Batch answers whose
// order the contract leaves open (customers and orders by ids) come in the
// reverse of the request's order, so a client that assumes request order is
// caught; orders by customer_ids come newest first across all the customers,
// so customers interleave.
//
// Each request is first counted and recorded, then delayed by the service's
// latency, then subjected to a matching Fault, then checked for its key, then
// answered.
//
// # Where upstreams.md is silent
//
//   - Error codes: a released reservation's commit is 409
//     "reservation_released", a committed one's release 409
//     "reservation_committed"; refunding a declined payment is 409
//     "not_refundable"; a payment without Idempotency-Key is 400
//     "missing_idempotency_key"; an unknown sparse field is 400
//     "unknown_field", a foreign cursor 400 "invalid_cursor", an unknown
//     template 400 "unknown_template"; an unknown path or method 404
//     "not_found".
//   - A sparse field set that is empty (?fields= or "fields": []) means every
//     field. Asked-for tags that a product lacks stay absent.
//   - limit below 1 or not a number is 400 (orders and catalog); above 100
//     counts as 100 for both.
//   - Reservations never expire by themselves; expires_at (15 minutes ahead)
//     is informational. Reserving is all or nothing, the same sku on two lines
//     counts once with the quantities added, and an absent sku has no stock.
//   - New shipments are label_created with shipped null and an eta five days
//     after the clock's day; shipping accepts any order id. Orders and
//     payments do not check that the customer or order exists either: the
//     services are independent.
//   - The same Idempotency-Key returns the first answer byte for byte (also
//     when the payment was refunded since), whatever the new body says;
//     a request refused as invalid (400) is not remembered.
//   - No answer carries Cache-Control, and X-User-Id and X-Request-Id are
//     recorded (Requests) but not checked.
package demo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Services are the service names, in the order of upstreams.md.
var Services = []string{"customers", "orders", "catalog", "inventory", "shipping", "payments", "notifications"}

// DefaultAPIKey is the X-Api-Key a service accepts unless Options.APIKeys
// says otherwise: "demo-<service>-key".
func DefaultAPIKey(service string) string { return "demo-" + service + "-key" }

// Options configure New. The zero value is useful: seed 1, default keys, no
// latency, the system clock, no logs.
type Options struct {
	// Seed chooses the data; 0 means 1.
	Seed int64
	// APIKeys holds the X-Api-Key per service; a service missing (or empty)
	// here accepts DefaultAPIKey(service).
	APIKeys map[string]string
	// Latency is added to every request of every service; SetLatency
	// overrides it per service.
	Latency time.Duration
	// Now is the clock; nil means time.Now. Recent orders are placed relative
	// to its value at New, and new orders, reservations and shipments use it.
	Now func() time.Time
	// Logger receives the services' logs; nil discards them.
	Logger *slog.Logger
	// MaxRecorded bounds how many requests Requests keeps per service (the
	// most recent ones); 0 means 4096, negative means none are kept.
	// Counters count every request regardless.
	MaxRecorded int
}

// Demo is the seven services with their data, counters and faults. All its
// methods are safe for concurrent use.
type Demo struct {
	opts    Options
	log     *slog.Logger
	st      atomic.Pointer[store]
	svcs    map[string]*service
	closing chan struct{}
	once    sync.Once

	faultMu sync.Mutex
	faults  map[string][]Fault
	rng     *rand.Rand

	callMu     sync.Mutex
	calls      map[string]int
	byEndpoint map[string]int
	recorded   map[string][]Request

	netMu   sync.Mutex
	started bool
	closed  bool
	nets    map[string]*netState

	// onRecord, when set (by tests), is called after each request is
	// recorded.
	onRecord func(Request)
}

// service is one of the seven: its routes and per-service settings.
type service struct {
	name    string
	key     string
	latency atomic.Int64 // nanoseconds
	mux     *http.ServeMux
}

// Request is one request a service received, as recorded for tests.
type Request struct {
	Service string
	// Endpoint is the endpoint pattern, as in CallsByEndpoint without the
	// service name, e.g. "GET /customers?ids".
	Endpoint string
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	// Keys is the number of keys a batch call carried, as sent (duplicates
	// included); 0 for other calls.
	Keys int
}

// New builds the data and the handlers. Nothing listens until Start or
// StartOn.
func New(opts Options) *Demo {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRecorded == 0 {
		opts.MaxRecorded = 4096
	}
	d := &Demo{
		opts:       opts,
		log:        opts.Logger.With("component", "demo"),
		svcs:       map[string]*service{},
		closing:    make(chan struct{}),
		faults:     map[string][]Fault{},
		rng:        rand.New(rand.NewPCG(uint64(opts.Seed), 0xfa017)),
		calls:      map[string]int{},
		byEndpoint: map[string]int{},
		recorded:   map[string][]Request{},
		nets:       map[string]*netState{},
	}
	d.st.Store(newStore(generate(opts.Seed, opts.Now()), opts.Now))
	for _, name := range Services {
		s := &service{name: name, key: opts.APIKeys[name], mux: http.NewServeMux()}
		if s.key == "" {
			s.key = DefaultAPIKey(name)
		}
		s.latency.Store(int64(opts.Latency))
		d.svcs[name] = s
	}
	for _, s := range d.svcs {
		// Anything else, wrong methods included, is a JSON 404.
		s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	}
	d.customerRoutes(d.svcs["customers"].mux)
	d.orderRoutes(d.svcs["orders"].mux)
	d.catalogRoutes(d.svcs["catalog"].mux)
	d.inventoryRoutes(d.svcs["inventory"].mux)
	d.shippingRoutes(d.svcs["shipping"].mux)
	d.paymentRoutes(d.svcs["payments"].mux)
	d.notificationRoutes(d.svcs["notifications"].mux)
	return d
}

func (d *Demo) current() *store { return d.st.Load() }

func (d *Demo) mustService(name string) *service {
	s, ok := d.svcs[name]
	if !ok {
		panic(fmt.Sprintf("demo: unknown service %q", name))
	}
	return s
}

// Data returns a deep copy of the current data, mutations included.
func (d *Demo) Data() *Dataset { return d.current().snapshot() }

// ResetData restores the data New generated (recent orders placed relative
// to the clock now). Counters, faults and latency are left alone.
func (d *Demo) ResetData() {
	d.st.Store(newStore(generate(d.opts.Seed, d.opts.Now()), d.opts.Now))
}

// Emails returns the e-mails accepted so far, in order.
func (d *Demo) Emails() []Email { return d.current().emailsCopy() }

// APIKey returns the X-Api-Key the service accepts. It panics for a name
// not in Services, as do the other methods taking a service name unless they
// say otherwise.
func (d *Demo) APIKey(service string) string { return d.mustService(service).key }

// Handler returns the service's handler, with counting, latency, faults and
// the key check. Mounting it elsewhere (httptest) works, except that a Down
// fault then resets connections instead of refusing them.
func (d *Demo) Handler(service string) http.Handler {
	s := d.mustService(service)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { d.serve(s, w, r) })
}

// SetLatency sets the latency added to each request of the service,
// replacing Options.Latency for it.
func (d *Demo) SetLatency(service string, lat time.Duration) {
	d.mustService(service).latency.Store(int64(lat))
	d.log.Info("latency set", "service", service, "latency", lat)
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

func (d *Demo) serve(s *service, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	tooLarge := len(body) > maxBody
	if len(body) == 0 {
		body = nil
	}
	endpoint := s.endpoint(r)
	d.record(s.name, endpoint, r, body)
	d.log.Debug("request", "service", s.name, "endpoint", endpoint, "path", r.URL.Path,
		"request_id", r.Header.Get("X-Request-Id"))
	if err != nil {
		return // the client went away mid-body
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	ctx := r.Context()
	if !d.wait(ctx, time.Duration(s.latency.Load())) {
		panic(http.ErrAbortHandler)
	}
	if f, ok := d.pickFault(s.name, r); ok {
		if !d.wait(ctx, f.Latency) {
			panic(http.ErrAbortHandler)
		}
		switch {
		case f.Down || f.Reset:
			resetConn(w)
			return
		case f.Hang:
			select {
			case <-ctx.Done():
			case <-d.closing:
			}
			panic(http.ErrAbortHandler)
		case f.Status != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeError(w, f.Status, "injected")
			return
		case f.NonJSON:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
			return
		}
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Api-Key")), []byte(s.key)) != 1 {
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// wait waits for lat, and reports false if the request or the Demo ended
// first.
func (d *Demo) wait(ctx context.Context, lat time.Duration) bool {
	if lat <= 0 {
		return true
	}
	t := time.NewTimer(lat)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-d.closing:
		return false
	}
}

// endpoint names the endpoint a request is for: the route pattern, with the
// batch parameter for the routes that dispatch on one.
func (s *service) endpoint(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	switch pattern {
	case "", "/":
		return r.Method + " (unmatched)"
	case "GET /customers":
		return "GET /customers?ids"
	case "GET /orders":
		if r.URL.Query().Has("customer_ids") {
			return "GET /orders?customer_ids"
		}
		return "GET /orders?ids"
	case "GET /stock":
		return "GET /stock?skus"
	case "GET /payments":
		return "GET /payments?order_ids"
	}
	return pattern
}

// batchParam is the query parameter holding the keys of each batch endpoint.
var batchParam = map[string]string{
	"GET /customers?ids":       "ids",
	"GET /orders?ids":          "ids",
	"GET /orders?customer_ids": "customer_ids",
	"GET /stock?skus":          "skus",
	"GET /payments?order_ids":  "order_ids",
}

func (d *Demo) record(svc, endpoint string, r *http.Request, body []byte) {
	d.callMu.Lock()
	keep := d.opts.MaxRecorded > 0 || d.onRecord != nil
	if !keep {
		// Counting only (the load harness): no copy of the request.
		d.calls[svc]++
		d.byEndpoint[svc+" "+endpoint]++
		d.callMu.Unlock()
		return
	}
	d.callMu.Unlock()
	req := Request{
		Service:  svc,
		Endpoint: endpoint,
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	if p, ok := batchParam[endpoint]; ok {
		req.Keys = len(splitKeys(r.URL.Query()[p]))
	} else if endpoint == "POST /products:batchGet" {
		req.Keys = countBatchGetKeys(body)
	}
	d.callMu.Lock()
	d.calls[svc]++
	d.byEndpoint[svc+" "+endpoint]++
	if lim := d.opts.MaxRecorded; lim > 0 {
		rec := append(d.recorded[svc], req)
		if len(rec) >= 2*lim {
			rec = slices.Clone(rec[len(rec)-lim:])
		}
		d.recorded[svc] = rec
	}
	hook := d.onRecord
	d.callMu.Unlock()
	if hook != nil {
		hook(req)
	}
}

// Calls returns how many requests the service received since New or the
// last ResetCounters, faulted and refused ones included (0 for a name not in
// Services).
func (d *Demo) Calls(service string) int {
	d.callMu.Lock()
	defer d.callMu.Unlock()
	return d.calls[service]
}

// CallsByEndpoint returns the request counts keyed by service and endpoint,
// e.g. "customers GET /customers?ids", "customers GET /customers/{id}",
// "catalog POST /products:batchGet", "shipping GET
// /shipments/by-order/{order_id}". A request matching no route counts under
// "<service> <METHOD> (unmatched)".
func (d *Demo) CallsByEndpoint() map[string]int {
	d.callMu.Lock()
	defer d.callMu.Unlock()
	out := make(map[string]int, len(d.byEndpoint))
	for k, v := range d.byEndpoint {
		out[k] = v
	}
	return out
}

// Requests returns the service's recorded requests, oldest first (at most
// the last Options.MaxRecorded of them, and possibly up to twice as many).
func (d *Demo) Requests(service string) []Request {
	d.callMu.Lock()
	defer d.callMu.Unlock()
	rec := d.recorded[service]
	out := make([]Request, len(rec))
	for i, r := range rec {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ResetCounters zeroes the counters and forgets the recorded requests.
func (d *Demo) ResetCounters() {
	d.callMu.Lock()
	defer d.callMu.Unlock()
	clear(d.calls)
	clear(d.byEndpoint)
	clear(d.recorded)
}

// netState is one service's listener. srv is nil while the service is down.
type netState struct {
	addr string // host:port, fixed after the first listen
	srv  *http.Server
	done chan struct{} // closed when srv.Serve returned
}

// Start listens each service on its own free port of 127.0.0.1.
func (d *Demo) Start() error { return d.StartOn(nil) }

// StartOn listens each service on the address addrs gives for it
// (host:port); a service missing from addrs gets a free port of 127.0.0.1.
func (d *Demo) StartOn(addrs map[string]string) error {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	if d.closed {
		return errors.New("demo: start: closed")
	}
	if d.started {
		return errors.New("demo: start: already started")
	}
	for _, name := range Services {
		addr := addrs[name]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, ns := range d.nets {
				ns.stop()
			}
			clear(d.nets)
			return fmt.Errorf("demo: start %s: %w", name, err)
		}
		ns := &netState{addr: ln.Addr().String()}
		ns.serve(ln, d.Handler(name), d.log)
		d.nets[name] = ns
	}
	d.started = true
	for _, name := range Services {
		d.syncDownLocked(name)
	}
	for _, name := range Services {
		d.log.Info("demo service listening", "service", name, "url", d.urlLocked(name))
	}
	return nil
}

func (ns *netState) serve(ln net.Listener, h http.Handler, log *slog.Logger) {
	ns.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ns.done = make(chan struct{})
	srv, done := ns.srv, ns.done
	go func() {
		defer close(done)
		srv.Serve(ln) // returns when the listener is closed
	}()
}

// stop closes the listener and every connection, and waits for Serve to
// return. Handlers still running end promptly: their requests' contexts are
// cancelled with the connections.
func (ns *netState) stop() error {
	if ns.srv == nil {
		return nil
	}
	err := ns.srv.Close()
	<-ns.done
	ns.srv = nil
	return err
}

// URL returns the service's base URL, "http://127.0.0.1:port", or "" before
// Start.
func (d *Demo) URL(service string) string {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	return d.urlLocked(service)
}

func (d *Demo) urlLocked(service string) string {
	ns, ok := d.nets[service]
	if !ok {
		return ""
	}
	host, port, err := net.SplitHostPort(ns.addr)
	if err != nil {
		return "http://" + ns.addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// URLs returns every service's base URL, keyed by service; empty before
// Start.
func (d *Demo) URLs() map[string]string {
	d.netMu.Lock()
	defer d.netMu.Unlock()
	out := map[string]string{}
	for name := range d.nets {
		out[name] = d.urlLocked(name)
	}
	return out
}

// Close stops the listeners, closes every connection and ends hanging or
// delayed requests at once; it does not wait for handlers. Later calls do
// nothing.
func (d *Demo) Close() error {
	d.once.Do(func() { close(d.closing) })
	d.netMu.Lock()
	defer d.netMu.Unlock()
	d.closed = true
	var errs []error
	for _, name := range Services {
		if ns, ok := d.nets[name]; ok {
			if err := ns.stop(); err != nil {
				errs = append(errs, fmt.Errorf("demo: close %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// resetConn resets the request's TCP connection: hijack, linger 0, close.
// Where the connection cannot be hijacked it aborts the response instead.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// parseLimit reads an optional positive integer query parameter.
func parseLimit(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer", name)
	}
	return n, nil
}
