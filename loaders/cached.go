package loaders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/tutti-gw/tutti/cache"
	"github.com/tutti-gw/tutti/upstream"
)

// Policy is how long a call's records may be cached, and for whom.
type Policy struct {
	// MaxAge is how long an entry is fresh; 0 means not cached. An
	// upstream's Cache-Control max-age caps it.
	MaxAge time.Duration
	// Private entries are kept per caller: the X-User-Id the call sends is
	// part of the key.
	Private bool
	// MaxStale is how long after it expires an entry may still answer when
	// the upstream fails (stale-if-error); 0 never (stock).
	MaxStale time.Duration
}

// NotFoundFor caps how long a not-found answer of public data is kept
// (graphql-api.md is silent on the number).
const NotFoundFor = 5 * time.Second

// notFoundFor is how long a not-found answer is kept. Private ones are kept
// as long as found ones (fresh): "an unknown order and another customer's
// order get the same answer, so ids cannot be probed", and a shorter life
// for the unknown one would tell them apart — by the answer's time, or by
// cacheHits in the explained calls — once it had gone while the other was
// still cached.
func notFoundFor(pol Policy, fresh time.Duration) time.Duration {
	if pol.Private {
		return fresh
	}
	return min(fresh, NotFoundFor)
}

// Request describes a call in REST terms, once: the cache derives entry
// keys from its one-key request (so an entity from a batch answer sits under
// the key of the request that would have fetched it alone), the explain
// output shows its templates, and the gateway tells the services that get
// the caller's identity from it.
type Request struct {
	Service string
	// SendsUser: the service gets X-User-Id (upstreams.md).
	SendsUser bool
	// One and Many are the request templates for one key and for several;
	// Batch is false where the service has no batch call (one request per
	// key, or no keys at all).
	One, Many string
	Batch     bool
	// path is the one-key request, for cache keys; nil for calls that are
	// not cached.
	path func(key string, fields []string) (string, url.Values)
}

// SearchProducts is the catalog search, made by its resolver rather than a
// batch call.
const SearchProducts = "catalog.search"

var requests = map[string]Request{
	CustomersByID: {"customers", true, "GET /customers/{id}", "GET /customers?ids={ids}", true,
		func(k string, _ []string) (string, url.Values) { return "/customers/" + url.PathEscape(k), nil }},
	OrdersByID: {"orders", true, "GET /orders/{id}", "GET /orders?ids={ids}", true,
		func(k string, _ []string) (string, url.Values) { return "/orders/" + url.PathEscape(k), nil }},
	OrdersByCustomer: {"orders", true, "GET /orders?customer_ids={ids}&limit=100", "GET /orders?customer_ids={ids}&limit=100", true,
		func(k string, _ []string) (string, url.Values) {
			return "/orders", url.Values{"customer_ids": {k}, "limit": {fmt.Sprint(OrdersPerCustomer)}}
		}},
	ProductsBySKU: {"catalog", false, "GET /products/{sku}", "POST /products:batchGet", true,
		func(k string, fields []string) (string, url.Values) {
			var q url.Values
			if len(fields) > 0 {
				q = url.Values{"fields": {strings.Join(fields, ",")}}
			}
			return "/products/" + url.PathEscape(k), q
		}},
	StockBySKU: {"inventory", false, "GET /stock?skus={skus}", "GET /stock?skus={skus}", true,
		func(k string, _ []string) (string, url.Values) { return "/stock", url.Values{"skus": {k}} }},
	ShipmentByOrder: {"shipping", true, "GET /shipments/by-order/{order_id}", "", false,
		func(k string, _ []string) (string, url.Values) {
			return "/shipments/by-order/" + url.PathEscape(k), nil
		}},
	PaymentsByOrder: {"payments", true, "GET /payments?order_ids={ids}", "GET /payments?order_ids={ids}", true,
		func(k string, _ []string) (string, url.Values) { return "/payments", url.Values{"order_ids": {k}} }},
	SearchProducts: {"catalog", false, "GET /products?q={search}&limit={first}&cursor={after}", "", false, nil},
}

// Describe returns the REST description of call.
func Describe(call string) (Request, bool) {
	r, ok := requests[call]
	return r, ok
}

// SendsUser reports whether calls to service carry the caller's X-User-Id.
func SendsUser(service string) bool {
	for _, r := range requests {
		if r.Service == service {
			return r.SendsUser
		}
	}
	return false
}

// CheckPolicies refuses policies that would share private data: a PUBLIC
// policy on a call whose service is sent the caller's identity.
func CheckPolicies(p map[string]Policy) error {
	var errs []error
	for call, pol := range p {
		r, ok := requests[call]
		if !ok || r.path == nil {
			errs = append(errs, fmt.Errorf("cache policy for unknown call %q", call))
			continue
		}
		if pol.MaxAge > 0 && !pol.Private && r.SendsUser {
			errs = append(errs, fmt.Errorf("cache policy of %s is PUBLIC, but %s is sent the caller's X-User-Id: its answers may differ per caller; declare scope PRIVATE", call, r.Service))
		}
	}
	return errors.Join(errs...)
}

// CacheKey is the cache key of one record of call, as fetched for the
// caller in ctx (with the sparse fields asked for, where the call takes
// them). Mutations use it to invalidate what they change.
func CacheKey(ctx context.Context, call, key string, fields []string, private bool) string {
	r := requests[call]
	path, q := r.path(key, fields)
	var identity map[string]string
	if private && r.SendsUser {
		identity = map[string]string{"X-User-Id": upstream.UserID(ctx)}
	}
	return cache.Key(r.Service, "GET", path, q, nil, identity)
}

// cached puts the cache in front of batch: one store read for the keys,
// one upstream batch for the misses (shared with concurrent requests of
// this process), one write of the good answers, stale entries when the
// upstream fails.
//
// A record fetched with a sparse field set (fields, the catalog's) is
// cached one entry per field, under the key of the one-field request: a
// later request asking for any of the fields fetched before finds them
// whatever set it asks for (rule 5), and fetches, with its own field set,
// only the records of which a field is missing.
//
// also, when not nil, writes the records that the fetched ones hold for
// another call (see derived).
func cached[V any](c *cache.Cache, call string, pol Policy, fields []string, stats *requestStats, batch BatchFunc[V], also *derived[V]) BatchFunc[V] {
	if c == nil || pol.MaxAge <= 0 {
		return batch
	}
	parts := [][]string{fields} // one entry per record
	keyField := sparseKeys[call]
	var split []string // the fields cached one per entry
	if len(fields) > 0 && keyField != "" {
		split = fields
		parts = make([][]string, len(fields))
		for i, f := range fields {
			parts[i] = []string{f}
		}
	}
	n := len(parts)
	return func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		// The entries of keys[i] are ckeys[i*n : i*n+n].
		ckeys := make([]string, len(keys)*n)
		idOf := make(map[string]string, len(ckeys))
		at := make(map[string]int, len(keys))
		for i, k := range keys {
			at[k] = i
			for j, p := range parts {
				ck := CacheKey(ctx, call, k, p, pol.Private)
				ckeys[i*n+j] = ck
				idOf[ck] = k
			}
		}
		// Errors of single keys (shipping has a call per key), for the
		// caller that fetched them; callers that joined the fetch see a
		// plain unavailable error for those keys.
		var mu sync.Mutex
		keyErr := map[string]error{}
		results := c.Load(ctx, ckeys, func(fctx context.Context, missing []string) (map[string]cache.Entry, error) {
			fctx, meta := upstream.RecordMeta(fctx)
			ids := make([]string, 0, len(missing)/n)
			seen := make(map[string]bool, len(missing)/n)
			for _, ck := range missing {
				if id := idOf[ck]; !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			res := batch(fctx, ids)
			fresh := cache.FreshFor(pol.MaxAge, meta.MaxAge())
			out := make(map[string]cache.Entry, len(missing))
			var firstErr error
			for i, r := range res {
				if i >= len(ids) || r == nil {
					continue
				}
				own := ckeys[at[ids[i]]*n:][:n]
				switch {
				case r.Error == nil:
					vals, err := entryValues(r.Data, split, keyField)
					if err != nil {
						continue
					}
					for j, ck := range own {
						out[ck] = cache.Entry{Value: vals[j], FreshFor: fresh, StaleFor: pol.MaxStale}
					}
				case errors.Is(r.Error, upstream.ErrNotFound):
					for _, ck := range own {
						out[ck] = cache.Entry{NotFound: true, FreshFor: notFoundFor(pol, fresh)}
					}
				default:
					if firstErr == nil {
						firstErr = r.Error
					}
					mu.Lock()
					keyErr[ids[i]] = r.Error
					mu.Unlock()
				}
			}
			if len(out) == 0 && firstErr != nil {
				return nil, firstErr
			}
			also.add(fctx, out, res, meta.MaxAge())
			return out, nil
		})
		svc := requests[call].Service
		out := make([]*dataloader.Result[V], len(keys))
		for i, k := range keys {
			rs := results[i*n:][:n]
			res := &dataloader.Result[V]{}
			src := cache.FromCache
			var failed error
			notFound := false
			for _, r := range rs {
				switch {
				case r.Err != nil && failed == nil:
					failed = r.Err
				case r.Err == nil && r.Entry.NotFound:
					notFound = true
				}
				if r.Source == cache.FromStale || (r.Source != cache.FromCache && src == cache.FromCache) {
					src = r.Source
				}
			}
			switch {
			case failed != nil:
				res.Error = failed
				if errors.Is(failed, cache.ErrNoResult) {
					mu.Lock()
					e, ok := keyErr[k]
					mu.Unlock()
					if !ok {
						e = &upstream.Error{Service: svc, Op: call, Err: upstream.ErrUnavailable}
					}
					res.Error = e
				}
			case notFound:
				res.Error = fmt.Errorf("%s %s: %w", call, k, upstream.ErrNotFound)
			default:
				value := rs[0].Entry.Value
				var err error
				if split != nil {
					value, err = joinRecord(keyField, k, split, rs)
				}
				if err == nil {
					err = upstream.Decode(value, &res.Data)
				}
				if err != nil {
					// A record this version cannot read is deleted, so it
					// is a miss the next time; this time it is an error of
					// the service's data.
					res.Error = &upstream.Error{Service: svc, Op: call, Err: fmt.Errorf("%w: cached record: %w", upstream.ErrBadResponse, err)}
					_ = c.Invalidate(ctx, ckeys[i*n:][:n]...)
				}
			}
			stats.count(ctx, call, src, failed == nil)
			out[i] = res
		}
		return out
	}
}

// entryValues returns the cache values of a record: the record itself, or,
// with split fields, for each field the one-field record the service
// answers to `?fields=<field>` ({"sku": ..., "title": ...}) — the value the
// entry's key (that request's) always held, whichever version wrote it.
func entryValues(rec any, split []string, keyField string) ([][]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil || split == nil {
		return [][]byte{b}, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	vals := make([][]byte, len(split))
	for i, f := range split {
		vals[i] = sparseRecord(keyField, m[keyField], []string{f}, []json.RawMessage{m[f]})
	}
	return vals, nil
}

// joinRecord puts a record together from its key and the one-field
// records of its fields' entries: what the service answers for the whole
// sparse field set.
func joinRecord(keyField, key string, fields []string, rs []cache.Result) ([]byte, error) {
	k, _ := json.Marshal(key)
	vals := make([]json.RawMessage, len(fields))
	for i, f := range fields {
		var one map[string]json.RawMessage
		if err := upstream.Decode(rs[i].Entry.Value, &one); err != nil {
			return nil, err
		}
		vals[i] = one[f]
	}
	return sparseRecord(keyField, k, fields, vals), nil
}

// sparseRecord writes the record a sparse answer holds: the key field and
// each of fields with its value (null when it has none).
func sparseRecord(keyField string, key json.RawMessage, fields []string, vals []json.RawMessage) []byte {
	member := func(b []byte, name string, v json.RawMessage) []byte {
		n, _ := json.Marshal(name)
		if v == nil {
			v = json.RawMessage("null")
		}
		return append(append(append(b, n...), ':'), v...)
	}
	b := member([]byte{'{'}, keyField, key)
	for i, f := range fields {
		b = member(append(b, ','), f, vals[i])
	}
	return append(b, '}')
}

// sparseKeys names the key field of the records of calls that take a
// sparse field set: a record put together from per-field entries has it.
var sparseKeys = map[string]string{ProductsBySKU: "sku"}

// derived says that the records of one call also answer another, each
// under its own key: every order of a customer's order list is that order
// by id, so reading a customer's orders fills orders.byId too (rule 5 of
// the contract: data already fetched is not fetched again). The entries
// are the other call's, with its policy and the caller's identity.
type derived[V any] struct {
	call  string
	pol   Policy
	split func(V) map[string]any // the other call's key → its record
}

// derivedOrdersPerCustomer is how many of a customer's newest orders a
// read of their list also caches by id, and maxDerived the most entries
// one fetch writes so: a support agent's list of 150 customers would
// otherwise write thousands.
const (
	derivedOrdersPerCustomer = 20
	maxDerived               = 200
)

// add puts in entries, for the good results of a fetch, the other call's
// entries (at most about maxDerived); the cache writes them with the
// fetch's own, in one round trip.
func (d *derived[V]) add(ctx context.Context, entries map[string]cache.Entry, res []*dataloader.Result[V], upstreamMaxAge int) {
	if d == nil || d.pol.MaxAge <= 0 {
		return
	}
	fresh := cache.FreshFor(d.pol.MaxAge, upstreamMaxAge)
	if fresh <= 0 {
		return
	}
	added := 0
	for _, r := range res {
		if r == nil || r.Error != nil {
			continue
		}
		if added >= maxDerived {
			break
		}
		for k, rec := range d.split(r.Data) {
			b, err := json.Marshal(rec)
			if err != nil {
				continue
			}
			entries[CacheKey(ctx, d.call, k, nil, d.pol.Private)] = cache.Entry{Value: b, FreshFor: fresh, StaleFor: d.pol.MaxStale}
			added++
		}
	}
}

// requestStats counts, for one request, the keys answered by stale
// entries: the response says so.
type requestStats struct {
	mu    sync.Mutex
	stale map[string]int
	// inflight counts prefetched batches still running (Loaders.InFlight).
	inflight atomic.Int32
}

func (s *requestStats) count(ctx context.Context, call string, src cache.Source, ok bool) {
	if s == nil || !ok {
		return
	}
	if o := outcomeOf(ctx); o != nil {
		switch src {
		case cache.FromCache:
			o.hits++
		case cache.FromStale:
			o.stale++
		}
	}
	if src == cache.FromStale {
		s.mu.Lock()
		s.stale[call]++
		s.mu.Unlock()
	}
}

// Stale returns, per call, how many keys of this request were answered by
// an expired entry because the upstream failed.
func (l *Loaders) Stale() map[string]int {
	l.stats.mu.Lock()
	defer l.stats.mu.Unlock()
	if len(l.stats.stale) == 0 {
		return nil
	}
	out := make(map[string]int, len(l.stats.stale))
	for k, v := range l.stats.stale {
		out[k] = v
	}
	return out
}

// Invalidate removes from the shared cache the records of call for keys, as
// the caller in ctx would read them (a private record under the caller's
// own identity). Mutations call it for what they change — after a
// checkout, the customer's orders:
//
//	loaders.Invalidate(ctx, c, loaders.OrdersByCustomer, customerID)
//
// The catalog's records are cached a field per entry; Invalidate reaches
// whole-record entries only (the shop's mutations do not change products).
func Invalidate(ctx context.Context, c Clients, call string, keys ...string) error {
	if c.Cache == nil {
		return nil
	}
	pol, ok := c.Policies[call]
	if !ok || pol.MaxAge <= 0 {
		return nil
	}
	ckeys := make([]string, len(keys))
	for i, k := range keys {
		ckeys[i] = CacheKey(ctx, call, k, nil, pol.Private)
	}
	if err := c.Cache.Invalidate(ctx, ckeys...); err != nil {
		return fmt.Errorf("invalidate %s: %w", call, err)
	}
	return nil
}
