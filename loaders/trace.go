package loaders

import (
	"context"
	"sync"
	"time"
)

// Trace records the batches one request sent, for the explain output
// (extensions.calls). A nil *Trace records nothing.
type Trace struct {
	mu    sync.Mutex
	start time.Time
	calls []TracedCall
}

// TracedCall is one batch as it ran.
type TracedCall struct {
	Call string `json:"call"`
	// Keys is the number of distinct keys the batch asked for.
	Keys int `json:"keys"`
	// StartMs and DurationMs are milliseconds since the request began.
	StartMs    float64 `json:"startMs"`
	DurationMs float64 `json:"durationMs"`
	// Failed counts keys answered with an error other than not found.
	Failed int `json:"failed,omitempty"`
	// NotFound counts keys the service does not know.
	NotFound int `json:"notFound,omitempty"`
	// CacheHits counts keys a fresh cache entry answered, Stale those an
	// expired one answered because the upstream failed; the others went
	// upstream (Upstream is false when none did).
	CacheHits int  `json:"cacheHits"`
	Stale     int  `json:"stale,omitempty"`
	Upstream  bool `json:"upstream"`
	// Pending marks a batch still running when the answer was written:
	// the plan started it from an argument, and nothing in the answer
	// needed it (an unknown order's shipment, say). Its other figures
	// are not known yet.
	Pending bool `json:"pending,omitempty"`
	// Loader marks a batch the plan did not start: resolvers' loads
	// gathered its keys (in the dataloader's batching window, 2 ms for a
	// planned query, which then sat on the critical path).
	Loader bool `json:"loader,omitempty"`
}

// outcome is how one batch's keys were answered.
type outcome struct {
	failed, notFound, hits, stale int
}

type outcomeKey struct{}

// outcomeOf returns the outcome a batch in ctx reports to, or nil.
func outcomeOf(ctx context.Context) *outcome {
	o, _ := ctx.Value(outcomeKey{}).(*outcome)
	return o
}

// NewTrace starts a trace now.
func NewTrace() *Trace { return &Trace{start: time.Now()} }

// Calls returns the batches recorded so far, in the order they started.
func (t *Trace) Calls() []TracedCall {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]TracedCall(nil), t.calls...)
}

// begin records the start of a batch (byLoader: gathered by resolvers'
// loads, not started by the plan) and returns the function that records
// its end.
func (t *Trace) begin(call string, keys int, byLoader bool) func(o outcome) {
	if t == nil {
		return func(outcome) {}
	}
	start := time.Now()
	t.mu.Lock()
	i := len(t.calls)
	t.calls = append(t.calls, TracedCall{Call: call, Keys: keys, StartMs: ms(start.Sub(t.start)), Pending: true, Loader: byLoader})
	t.mu.Unlock()
	return func(o outcome) {
		t.mu.Lock()
		defer t.mu.Unlock()
		c := &t.calls[i]
		c.DurationMs, c.Failed, c.NotFound = ms(time.Since(start)), o.failed, o.notFound
		c.CacheHits, c.Stale = o.hits, o.stale
		c.Upstream = o.hits+o.stale < keys
		c.Pending = false
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
