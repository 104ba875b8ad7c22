package cache

import (
	"sync"
	"sync/atomic"
)

// breaker counts consecutive Redis failures. At threshold it opens: calls
// are skipped (allow is false) until a success closes it again. While open,
// the Redis store probes with PING in the background (see Redis.probe), so
// requests never pay for a probe and recovery needs no traffic.
type breaker struct {
	threshold int
	onOpen    func() // called once per opening, outside the lock

	open     atomic.Bool  // read on every call without the lock
	failures atomic.Int64 // consecutive; written under mu
	mu       sync.Mutex
	opens    atomic.Uint64
}

func (b *breaker) allow() bool { return !b.open.Load() }

// success closes the breaker and clears the failure count. It reports
// whether the breaker was open.
func (b *breaker) success() (wasOpen bool) {
	if !b.open.Load() && b.failures.Load() == 0 {
		return false // fast path: nothing to change
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures.Store(0)
	return b.open.Swap(false)
}

// failure counts one failure; the one that reaches the threshold opens the
// breaker.
func (b *breaker) failure() {
	b.mu.Lock()
	n := b.failures.Add(1)
	opened := n >= int64(b.threshold) && !b.open.Load()
	if opened {
		b.open.Store(true)
		b.opens.Add(1)
	}
	b.mu.Unlock()
	if opened && b.onOpen != nil {
		b.onOpen()
	}
}

// trip opens the breaker at once (a failed first contact).
func (b *breaker) trip() {
	b.mu.Lock()
	b.failures.Store(max(b.failures.Load(), int64(b.threshold)))
	opened := !b.open.Swap(true)
	if opened {
		b.opens.Add(1)
	}
	b.mu.Unlock()
	if opened && b.onOpen != nil {
		b.onOpen()
	}
}

func (b *breaker) state() State {
	switch {
	case b.open.Load():
		return StateDown
	case b.failures.Load() > 0:
		return StateDegraded
	}
	return StateOK
}
