package cache

import (
	"context"
	"errors"
)

// Store is one cache tier: Memory, Redis, or Tiered (several in order).
// Implementations are safe for concurrent use.
type Store interface {
	// GetMany returns one *Entry per key, in key order; nil is a miss.
	// Entries no longer Usable are misses. It costs at most one round
	// trip (per Redis node) for the whole batch. On error the result still
	// has len(keys) elements and its non-nil entries are good: callers
	// fail open and use it.
	GetMany(ctx context.Context, keys []string) ([]*Entry, error)
	// SetMany stores the entries in one pipelined write. An entry lives
	// until StoredAt+FreshFor+StaleFor (StoredAt zero means now); one with
	// FreshFor <= 0, or already expired, is not stored.
	SetMany(ctx context.Context, entries map[string]Entry) error
	// Delete removes keys; a missing key is not an error.
	Delete(ctx context.Context, keys ...string) error
}

// ErrUnavailable is wrapped by the errors of a Redis store whose breaker is
// open: the call was not sent, GetMany answered all misses at once, SetMany
// dropped the writes.
var ErrUnavailable = errors.New("cache unavailable")

// State is the health of a store, as /readyz and the metrics tell it.
type State string

// States of a Redis store.
const (
	// StateOK: the last round trip succeeded.
	StateOK State = "ok"
	// StateDegraded: recent round trips failed or were slow, but fewer
	// in a row than the breaker's threshold; Redis is still used.
	StateDegraded State = "degraded"
	// StateDown: the breaker is open; Redis is skipped and probed in the
	// background until it answers.
	StateDown State = "down"
)

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Redis)(nil)
	_ Store = (*Tiered)(nil)
)
