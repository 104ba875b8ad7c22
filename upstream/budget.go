package upstream

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RetryBudget caps the retries of one Client, all calls together, the way
// Finagle's RetryBudget and Envoy's retry_budget do: per-call attempt limits
// alone let a failing service see MaxAttempts times its normal load just
// when it can least take it; a budget keeps that to a share.
//
// A retry is allowed while the retries made in the last Window stay within
// Ratio × the calls started in that Window, or else while a reserve of
// MinPerSecond retries a second (a token bucket holding up to one second's
// worth) has a token. Within a window, retries thus stay below
// Ratio × calls + MinPerSecond × (seconds + 1): with the defaults, a storm
// of failures adds at most about 20% to the load, while a service called a
// few times a second can still have each of its rare failures retried. A
// retry the budget refuses ends the call with the last attempt's error (and
// counts in tutti_upstream_retries_denied_total). First attempts are never
// refused by the budget.
type RetryBudget struct {
	// Ratio is the share of calls that may be retried within Window, in
	// (0, 1]. Default 0.2.
	Ratio float64
	// MinPerSecond is the reserve of retries a second that is allowed
	// whatever the ratio says, so low traffic can retry. Default 10.
	MinPerSecond float64
	// Window is the sliding window calls and retries are counted over, in
	// ten buckets. Default 10s.
	Window time.Duration
}

// The defaults of RetryBudget.
const (
	DefaultRetryBudgetRatio        = 0.2
	DefaultRetryBudgetMinPerSecond = 10
	DefaultRetryBudgetWindow       = 10 * time.Second
)

func (b RetryBudget) withDefaults() RetryBudget {
	if b.Ratio <= 0 {
		b.Ratio = DefaultRetryBudgetRatio
	}
	if b.MinPerSecond <= 0 {
		b.MinPerSecond = DefaultRetryBudgetMinPerSecond
	}
	if b.Window <= 0 {
		b.Window = DefaultRetryBudgetWindow
	}
	return b
}

// budgetBuckets is how many buckets a window slides in.
const budgetBuckets = 10

// retryBudget is the running RetryBudget of one Client. Safe for
// concurrent use.
type retryBudget struct {
	ratio  float64
	bucket time.Duration
	floor  *rate.Limiter

	mu      sync.Mutex
	slots   [budgetBuckets]budgetSlot // ring; slot i%len holds bucket i
	cur     int64                     // newest bucket (time / bucket)
	calls   int64                     // sums over the ring
	retries int64
}

type budgetSlot struct{ calls, retries int64 }

func newRetryBudget(b RetryBudget, now time.Time) *retryBudget {
	bucket := max(b.Window/budgetBuckets, time.Millisecond)
	burst := max(1, int(math.Ceil(b.MinPerSecond)))
	return &retryBudget{
		ratio:  b.Ratio,
		bucket: bucket,
		floor:  rate.NewLimiter(rate.Limit(b.MinPerSecond), burst),
		cur:    now.UnixNano() / int64(bucket),
	}
}

// advance drops the buckets that slid out of the window by now. mu held.
func (b *retryBudget) advance(now time.Time) *budgetSlot {
	idx := now.UnixNano() / int64(b.bucket)
	if steps := idx - b.cur; steps >= budgetBuckets {
		b.slots = [budgetBuckets]budgetSlot{}
		b.calls, b.retries = 0, 0
	} else {
		for i := b.cur + 1; i <= idx; i++ {
			s := &b.slots[i%budgetBuckets]
			b.calls -= s.calls
			b.retries -= s.retries
			*s = budgetSlot{}
		}
	}
	b.cur = max(b.cur, idx)
	return &b.slots[b.cur%budgetBuckets]
}

// deposit records a call's first attempt.
func (b *retryBudget) deposit(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now).calls++
	b.calls++
}

// withdraw reports whether one more retry is allowed, and if so records it.
func (b *retryBudget) withdraw(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.advance(now)
	if float64(b.retries+1) > b.ratio*float64(b.calls) && !b.floor.AllowN(now, 1) {
		return false
	}
	s.retries++
	b.retries++
	return true
}
