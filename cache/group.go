package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// FetchFunc asks the upstream for keys in one batch call and answers with
// an Entry per key it has an answer for: a found record, or a NotFound
// marker where the upstream says the entity does not exist. A key left out
// of the map gets ErrNoResult. An error fails every key of the call.
type FetchFunc func(ctx context.Context, keys []string) (map[string]Entry, error)

// Result is the answer for one key.
type Result struct {
	// Entry is the answer when Err is nil; Entry.NotFound for "no such
	// entity".
	Entry Entry
	// Err is the fetch error for this key, when no usable entry could
	// stand in for it.
	Err error
	// Source tells where Entry came from.
	Source Source
}

// Source is where a Result's entry came from.
type Source uint8

// Sources of a Result.
const (
	// FromUpstream: fetched now, by this caller or by a concurrent one
	// whose fetch this caller joined.
	FromUpstream Source = iota
	// FromCache: a fresh entry from a store.
	FromCache
	// FromStale: the fetch failed and an expired entry still within its
	// StaleFor answered instead (stale-if-error).
	FromStale
)

func (s Source) String() string {
	switch s {
	case FromCache:
		return "cache"
	case FromStale:
		return "stale"
	}
	return "upstream"
}

// ErrNoResult is the error of a key the fetch returned no entry for.
var ErrNoResult = errors.New("cache fetch: no result for key")

// Group collapses concurrent fetches of the same key within this process
// (stampede protection) with batch semantics: of the keys a caller asks
// for, those another caller is already fetching are waited for, and only
// the rest are fetched, in one call by this caller. So 100 concurrent
// requests for the same cold key cost one upstream call, and a batch that
// overlaps one in flight fetches only its new keys.
//
// The fetch runs detached from the caller's cancellation (its context
// keeps the values: request id, identity) and is bounded by Timeout; a
// caller whose context ends stops waiting and gets ctx.Err() for the keys
// not yet answered, while the fetch goes on for the others. Because keys
// include the identity (see Key), a caller joins only fetches that its own
// request would have made.
//
// Each replica has its own Group: across N replicas a cold key costs at
// most N upstream calls.
//
// The zero Group is ready to use; it must not be copied after first use.
type Group struct {
	// Timeout bounds one detached fetch. Default 10s.
	Timeout time.Duration

	mu      sync.Mutex
	flights map[string]*flight

	fetches, fetched, joined atomic.Uint64
}

type flight struct {
	done    chan struct{}
	res     Result // written before done is closed
	waiters atomic.Int32
}

// Do answers every distinct key of keys, fetching those not in flight with
// one call to fetch (none when all are in flight).
func (g *Group) Do(ctx context.Context, keys []string, fetch FetchFunc) map[string]Result {
	waits := make(map[string]*flight, len(keys))
	var mine []string
	g.mu.Lock()
	if g.flights == nil {
		g.flights = make(map[string]*flight)
	}
	for _, k := range keys {
		if _, dup := waits[k]; dup {
			continue
		}
		f, ok := g.flights[k]
		if ok {
			f.waiters.Add(1)
			g.joined.Add(1)
		} else {
			f = &flight{done: make(chan struct{})}
			g.flights[k] = f
			mine = append(mine, k)
		}
		waits[k] = f
	}
	g.mu.Unlock()

	if len(mine) > 0 {
		g.fetches.Add(1)
		g.fetched.Add(uint64(len(mine)))
		go g.run(context.WithoutCancel(ctx), mine, fetch)
	}

	out := make(map[string]Result, len(waits))
	for k, f := range waits {
		select {
		case <-f.done:
			out[k] = f.res
		case <-ctx.Done():
			out[k] = Result{Err: fmt.Errorf("cache wait for fetch: %w", ctx.Err())}
		}
	}
	return out
}

// run fetches keys and settles their flights. A panicking fetch settles
// them with an error so no waiter hangs.
func (g *Group) run(ctx context.Context, keys []string, fetch FetchFunc) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var (
		got map[string]Entry
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("cache fetch panicked: %v", p)
			}
		}()
		got, err = fetch(ctx, keys)
	}()

	g.mu.Lock()
	settled := make([]*flight, len(keys))
	for i, k := range keys {
		f := g.flights[k]
		delete(g.flights, k)
		switch e, ok := got[k]; {
		case err != nil:
			f.res = Result{Err: err}
		case !ok:
			f.res = Result{Err: ErrNoResult}
		default:
			f.res = Result{Entry: e, Source: FromUpstream}
		}
		settled[i] = f
	}
	g.mu.Unlock()
	for _, f := range settled {
		close(f.done)
	}
}

// GroupStats are the counters of a Group since it was made.
type GroupStats struct {
	Fetches uint64 // fetch calls made
	Fetched uint64 // keys asked for by those calls
	Joined  uint64 // keys a caller waited for instead of fetching
}

// Stats returns the counters.
func (g *Group) Stats() GroupStats {
	return GroupStats{Fetches: g.fetches.Load(), Fetched: g.fetched.Load(), Joined: g.joined.Load()}
}

// inFlight returns the number of callers waiting on key's flight, and
// whether one is in flight (for tests).
func (g *Group) inFlight(key string) (waiters int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.flights[key]
	if !ok {
		return 0, false
	}
	return int(f.waiters.Load()), true
}
