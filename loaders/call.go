package loaders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/tutti-gw/tutti/upstream"
)

// BatchFunc fetches the records of keys (distinct, at most as many as the
// caller gives) and returns one result per key, in key order. A key the
// service does not know gets an error wrapping upstream.ErrNotFound.
type BatchFunc[V any] func(ctx context.Context, keys []string) []*dataloader.Result[V]

// fallbackWait is the batching window of a Load that the planner did not
// announce with Prefetch. The planner announces every call a query needs, so
// this window is never on the critical path of a planned query; it only
// gathers keys of loads made outside a plan.
const fallbackWait = 2 * time.Millisecond

// Call is one batch call of one request: a dataloader/v7 loader whose
// thunk cache is shared with Prefetch. Prefetch starts a batch at once for the
// keys it is given (no window); Load answers from the cache when the key was
// prefetched, and otherwise falls back to the dataloader's batching.
type Call[V any] struct {
	name  string
	batch BatchFunc[V]
	// records lists the wire records a value holds, for the planner.
	records func(V) []any
	cache   *thunkCache[V]
	loader  *dataloader.Loader[string, V]
	// trace records every batch this call sent, for the explain output.
	trace *Trace
	mode  Mode
	// inflight counts this request's prefetched batches still running.
	inflight *atomic.Int32
}

func newCall[V any](name string, batch BatchFunc[V], records func(V) []any, o Options) *Call[V] {
	c := &Call[V]{name: name, batch: batch, records: records, cache: &thunkCache[V]{m: map[string]dataloader.Thunk[V]{}}, trace: o.Trace, mode: o.Mode, inflight: o.inflight}
	wait := fallbackWait
	if o.Mode == ModeDataloader {
		wait = 16 * time.Millisecond // dataloader/v7's default
	}
	c.loader = dataloader.NewBatchedLoader(
		func(ctx context.Context, keys []string) []*dataloader.Result[V] { return c.run(ctx, keys, nil) },
		dataloader.WithCache[string, V](c.cache),
		dataloader.WithWait[string, V](wait),
		dataloader.WithBatchCapacity[string, V](maxBatch*8),
	)
	return c
}

// Name is the call's registry name, e.g. "customers.byId".
func (c *Call[V]) Name() string { return c.name }

// Load returns the record of key, fetching it if nothing fetched it yet.
func (c *Call[V]) Load(ctx context.Context, key string) (V, error) {
	if c.mode == ModeNaive {
		r := c.run(ctx, []string{key}, nil)[0]
		return r.Data, r.Error
	}
	// A key the plan prefetched (the usual case) is read from its pending
	// thunk directly: the dataloader would find the same thunk, after
	// allocating a channel, a result and a tracer closure for the miss it
	// never has.
	if th, ok := c.cache.Get(ctx, key); ok {
		return th()
	}
	return c.loader.Load(ctx, key)()
}

// LoadMany returns the records of keys in key order, with one error per key.
func (c *Call[V]) LoadMany(ctx context.Context, keys []string) ([]V, []error) {
	if c.mode == ModeNaive {
		return c.loadEach(ctx, keys)
	}
	// Announce first so all keys go out in one batch with no window.
	c.Prefetch(ctx, keys, nil)
	vals := make([]V, len(keys))
	errs := make([]error, len(keys))
	for i, k := range keys {
		vals[i], errs[i] = c.Load(ctx, k)
	}
	return vals, errs
}

// Prefetch starts one batch now for those keys that no earlier Load or
// Prefetch of this request asked for, and returns without waiting.
//
// then, when not nil, is given the wire records of every key (none for a
// missing or failed key) once they are known, and runs before any Load of
// the keys this batch fetches sees its answer: whatever then starts is
// under way before a resolver can ask for it. then must not block.
func (c *Call[V]) Prefetch(ctx context.Context, keys []string, then func(groups [][]any)) {
	if c.mode != ModePlanned {
		return
	}
	missing, settle := c.cache.claim(keys)
	if len(missing) == 0 && then == nil {
		return
	}
	// The batch is on the trace from the moment it is decided, so an
	// explain answer lists it even when its goroutine has not run yet.
	var end func(outcome)
	if len(missing) > 0 {
		end = c.trace.begin(c.name, len(missing), false)
	}
	if c.inflight != nil {
		c.inflight.Add(1)
	}
	go func() {
		if c.inflight != nil {
			defer c.inflight.Add(-1) // last: after the answers are published
		}
		var res []*dataloader.Result[V]
		// The answers are always published, even when then panics.
		defer func() {
			if len(missing) > 0 {
				settle(res)
			}
		}()
		if len(missing) > 0 {
			res = c.run(ctx, missing, end)
		}
		if then != nil {
			defer func() {
				if p := recover(); p != nil {
					slog.ErrorContext(ctx, "planner continuation panicked; its calls fall back to resolver loads", "call", c.name, "panic", fmt.Sprint(p))
				}
			}()
			// Keys claimed by an earlier batch are read from its thunks;
			// ours are known now, before they are published.
			own := make(map[string]*dataloader.Result[V], len(missing))
			for i, k := range missing {
				if i < len(res) {
					own[k] = res[i]
				}
			}
			groups := make([][]any, len(keys))
			for i, k := range keys {
				var v V
				var err error
				if r, ok := own[k]; ok && r != nil {
					v, err = r.Data, r.Error
				} else if th, ok := c.cache.Get(ctx, k); ok {
					v, err = th()
				} else {
					continue
				}
				if err == nil {
					groups[i] = c.records(v)
				}
			}
			then(groups)
		}
	}()
}

// loadEach loads keys one request each, side by side (ModeNaive).
func (c *Call[V]) loadEach(ctx context.Context, keys []string) ([]V, []error) {
	vals := make([]V, len(keys))
	errs := make([]error, len(keys))
	done := make(chan struct{}, len(keys))
	for i, k := range keys {
		go func() {
			defer func() { done <- struct{}{} }()
			vals[i], errs[i] = c.Load(ctx, k)
		}()
	}
	for range keys {
		<-done
	}
	return vals, errs
}

// run sends one batch; end, when not nil, is the trace entry its caller
// began when it decided to send it.
func (c *Call[V]) run(ctx context.Context, keys []string, end func(outcome)) (res []*dataloader.Result[V]) {
	if end == nil {
		end = c.trace.begin(c.name, len(keys), true)
	}
	defer func() {
		// A batch function that panics fails its keys, never the process.
		if p := recover(); p != nil {
			slog.ErrorContext(ctx, "batch function panicked", "call", c.name, "panic", fmt.Sprint(p))
			err := fmt.Errorf("%s: batch failed: %w", c.name, errBatchPanic)
			res = make([]*dataloader.Result[V], len(keys))
			for i := range res {
				res[i] = &dataloader.Result[V]{Error: err}
			}
			end(outcome{failed: len(keys)})
		}
	}()
	var o outcome
	res = c.batch(context.WithValue(ctx, outcomeKey{}, &o), keys)
	for _, r := range res {
		switch {
		case r == nil || r.Error == nil:
		case errors.Is(r.Error, upstream.ErrNotFound):
			o.notFound++
		default:
			o.failed++
		}
	}
	end(o)
	return res
}

// thunkCache is the dataloader's per-request cache. Prefetch claims keys in
// it under its own lock, so a later Load of a claimed key finds the pending
// thunk and never starts a second fetch.
type thunkCache[V any] struct {
	mu sync.Mutex
	m  map[string]dataloader.Thunk[V]
}

// claim installs a pending thunk for each key not yet present and returns
// those keys (distinct, in first-seen order) with the function that settles
// them once their results are known.
func (t *thunkCache[V]) claim(keys []string) ([]string, func([]*dataloader.Result[V])) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var missing []string
	// One channel for the whole batch, which settles all at once; the
	// slots never move (the capacity covers every key).
	b := &batch[V]{done: make(chan struct{}), slots: make([]slot[V], 0, len(keys))}
	for _, k := range keys {
		if _, ok := t.m[k]; ok {
			continue
		}
		b.slots = append(b.slots, slot[V]{b: b})
		t.m[k] = b.slots[len(b.slots)-1].thunk
		missing = append(missing, k)
	}
	return missing, func(res []*dataloader.Result[V]) {
		for i := range b.slots {
			s := &b.slots[i]
			if i < len(res) && res[i] != nil {
				s.val, s.err = res[i].Data, res[i].Error
			} else {
				s.err = errBatchShort
			}
		}
		close(b.done)
	}
}

// batch is the pending answers of the keys one claim installed.
type batch[V any] struct {
	done  chan struct{} // closed once every slot holds its answer
	slots []slot[V]
}

type slot[V any] struct {
	b   *batch[V]
	val V
	err error
}

func (s *slot[V]) thunk() (V, error) {
	<-s.b.done
	return s.val, s.err
}

// Get implements dataloader.Cache.
func (t *thunkCache[V]) Get(_ context.Context, key string) (dataloader.Thunk[V], bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th, ok := t.m[key]
	return th, ok
}

// Set implements dataloader.Cache.
func (t *thunkCache[V]) Set(_ context.Context, key string, th dataloader.Thunk[V]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[key] = th
}

// Delete implements dataloader.Cache.
func (t *thunkCache[V]) Delete(_ context.Context, key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.m[key]
	delete(t.m, key)
	return ok
}

// Clear implements dataloader.Cache.
func (t *thunkCache[V]) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = map[string]dataloader.Thunk[V]{}
}
