package cache

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Options configure New. Zero values take the defaults.
type Options struct {
	// Store holds the entries: NewMemory alone when REDIS_URL is unset,
	// otherwise the Redis store, or NewTiered(NewMemory(...), redis).
	// Required.
	Store Store
	// FetchTimeout bounds one upstream fetch, which runs detached from
	// the request that started it (see Group). Default 10s.
	FetchTimeout time.Duration
	// Logger gets store errors at debug level (the Redis store logs its
	// own state changes); default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Cache is the read path of a batch function in one call: the store (one
// round trip for the batch), then one upstream fetch for what is missing or
// stale, shared with concurrent callers (Group), then one pipelined fill;
// stale-if-error when the fetch fails. One Cache serves every service
// (keys carry the service); it is safe for concurrent use.
type Cache struct {
	o     Options
	store Store
	group Group
	log   *slog.Logger

	fresh, upstream, stale, failed, storeErrs atomic.Uint64
}

// New returns a Cache over o.Store.
func New(o Options) *Cache {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache{o: o, store: o.Store, log: o.Logger.With("component", "cache")}
	c.group.Timeout = o.FetchTimeout
	return c
}

// Load answers keys, one Result per key in key order (duplicates
// answered alike):
//
//  1. one Store.GetMany for all keys; a fresh entry answers (FromCache),
//     a store error only means misses (fail-open);
//  2. the rest, misses and stale entries, go to fetch in one call through
//     the Group, which waits for keys other callers are already fetching
//     instead of fetching them again;
//  3. the fetched entries with FreshFor > 0 are written in one
//     Store.SetMany by the caller that fetched them (only good answers:
//     a failed fetch writes nothing, a key left out of the map is not
//     stored); StoredAt zero is set to now. The map may also hold entries
//     of keys it was not asked for (an order in a customer's order list
//     is also that order by id): they are written alike, in the same
//     SetMany, and answer later Loads;
//  4. a key whose fetch failed is answered by its stale entry if it is
//     still Usable (FromStale), otherwise Result.Err holds the error; a
//     key fetched with FreshFor 0 (the upstream said no-store or
//     max-age=0) loses its stale entry, which the answer superseded.
//
// Load never fails as a whole; per-key errors are in the results.
func (c *Cache) Load(ctx context.Context, keys []string, fetch FetchFunc) []Result {
	out := make([]Result, len(keys))
	if len(keys) == 0 {
		return out
	}
	failAll := func(err error) []Result {
		for i := range out {
			out[i].Err = fmt.Errorf("cache load: %w", err)
		}
		c.failed.Add(uint64(len(keys)))
		return out
	}
	if err := ctx.Err(); err != nil {
		return failAll(err)
	}
	got, err := c.store.GetMany(ctx, keys)
	if cerr := ctx.Err(); cerr != nil {
		// The caller gave up while the store answered: a read cut short is
		// no miss, and nobody waits for an upstream fetch.
		return failAll(cerr)
	}
	if err != nil {
		c.storeErrs.Add(1)
		c.log.DebugContext(ctx, "cache read failed; fetching upstream", "keys", len(keys), "error", err)
	}
	now := c.o.Now()
	stale := make(map[string]Entry)
	hit := make([]bool, len(keys))
	var need []string
	for i, k := range keys {
		var e *Entry
		if i < len(got) {
			e = got[i]
		}
		switch {
		case e != nil && e.Fresh(now):
			out[i] = Result{Entry: *e, Source: FromCache}
			hit[i] = true
		case e != nil && e.Usable(now):
			stale[k] = *e
			need = append(need, k)
		default:
			need = append(need, k)
		}
	}
	if len(need) == 0 {
		c.fresh.Add(uint64(len(keys)))
		return out
	}

	res := c.group.Do(ctx, need, func(fctx context.Context, missing []string) (map[string]Entry, error) {
		m, err := fetch(fctx, missing)
		if err != nil {
			return nil, err
		}
		now := c.o.Now()
		var drop []string
		for k, e := range m {
			if e.StoredAt.IsZero() {
				e.StoredAt = now
				m[k] = e
			}
			if _, had := stale[k]; had && e.FreshFor <= 0 {
				// The new answer may not be kept (no-store, max-age=0):
				// nor may the older one it replaces answer if a later
				// fetch fails.
				drop = append(drop, k)
			}
		}
		c.fill(fctx, m)
		if len(drop) > 0 {
			if err := c.store.Delete(fctx, drop...); err != nil {
				c.storeErrs.Add(1)
				c.log.DebugContext(fctx, "cache delete of superseded entries failed", "keys", len(drop), "error", err)
			}
		}
		return m, nil
	})

	for i, k := range keys {
		if hit[i] {
			c.fresh.Add(1)
			continue
		}
		r := res[k]
		if r.Err != nil {
			if e, ok := stale[k]; ok && e.Usable(c.o.Now()) {
				r = Result{Entry: e, Source: FromStale}
				c.stale.Add(1)
			} else {
				c.failed.Add(1)
			}
		} else {
			c.upstream.Add(1)
		}
		out[i] = r
	}
	return out
}

// fill writes the entries with FreshFor > 0 in one Store.SetMany. A store
// error is only counted and logged: a fill is an optimisation.
func (c *Cache) fill(ctx context.Context, entries map[string]Entry) {
	keep := make(map[string]Entry, len(entries))
	for k, e := range entries {
		if e.FreshFor > 0 {
			keep[k] = e
		}
	}
	if len(keep) == 0 {
		return
	}
	if err := c.store.SetMany(ctx, keep); err != nil {
		c.storeErrs.Add(1)
		c.log.DebugContext(ctx, "cache fill failed", "keys", len(keep), "error", err)
	}
}

// Invalidate removes keys from every tier of the store, for mutations:
// after a write to an entity, invalidate the keys its reads use (compute
// them with Key exactly as the batch function does; for private data that
// means the acting identity's key). With a Memory tier in front of Redis
// only this process's memory is reached: other replicas hold their copy at
// most MemoryOptions.MaxTTL. With Redis down the error wraps ErrUnavailable
// and the entries live until their TTL.
func (c *Cache) Invalidate(ctx context.Context, keys ...string) error {
	return c.store.Delete(ctx, keys...)
}

// Stats are the counters of a Cache since it was made, per key answered.
type Stats struct {
	Fresh    uint64 // answered by a fresh entry
	Upstream uint64 // answered by a fetch (this caller's or a joined one)
	Stale    uint64 // answered by a stale entry after the fetch failed
	Failed   uint64 // answered with an error
	// StoreErrors counts failed store reads and fills (each fails open).
	StoreErrors uint64
	Group       GroupStats
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Fresh: c.fresh.Load(), Upstream: c.upstream.Load(), Stale: c.stale.Load(),
		Failed: c.failed.Load(), StoreErrors: c.storeErrs.Load(), Group: c.group.Stats(),
	}
}

// FreshFor combines the schema's @cacheControl(maxAge) with the
// upstream's Cache-Control max-age (seconds; -1 when the answer carried
// none, 0 for no-store or no-cache, as upstream.Meta.MaxAge and
// upstream.MetaRecord.MaxAge report it): the smaller one wins, an absent
// one does not count. 0 means "do not cache".
func FreshFor(policy time.Duration, upstreamMaxAge int) time.Duration {
	switch {
	case policy <= 0 || upstreamMaxAge == 0:
		return 0
	case upstreamMaxAge < 0:
		return policy
	}
	return min(policy, time.Duration(upstreamMaxAge)*time.Second)
}
