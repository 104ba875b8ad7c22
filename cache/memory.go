package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// MemoryOptions configure NewMemory. Zero values take the defaults.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; the least recently used
	// goes first. Default 10000.
	MaxEntries int
	// MaxTTL, when positive, caps how long an entry stays in memory after
	// it was written here, whatever its own lifetime. In front of Redis
	// this bounds how long another replica's Invalidate goes unseen by
	// this process (Invalidate reaches only this process's memory).
	// Default 0: no cap (right when memory is the only tier).
	MaxTTL time.Duration
	// Now is the clock; default time.Now. Tests inject one.
	Now func() time.Time
}

// Memory is the in-process tier: an LRU bounded by entry count whose
// entries also expire by time (Entry.Expires, capped by MaxTTL). Safe for
// concurrent use; one lock acquisition per batch.
type Memory struct {
	o MemoryOptions

	mu  sync.Mutex
	lru *simplelru.LRU[string, memItem]
	// removing is set (under mu) around removals that are not evictions,
	// so the eviction callback does not count them.
	removing bool

	hits, misses, evictions atomic.Uint64
}

type memItem struct {
	e       Entry
	expires time.Time
}

// NewMemory returns an empty in-process store.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Memory{o: o}
	// NewLRU fails only for a size <= 0.
	m.lru, _ = simplelru.NewLRU(o.MaxEntries, func(string, memItem) {
		if !m.removing {
			m.evictions.Add(1)
		}
	})
	return m
}

// GetMany implements Store. It never fails.
func (m *Memory) GetMany(_ context.Context, keys []string) ([]*Entry, error) {
	out := make([]*Entry, len(keys))
	now := m.o.Now()
	var hits uint64
	m.mu.Lock()
	for i, k := range keys {
		it, ok := m.lru.Get(k)
		if !ok {
			continue
		}
		if !now.Before(it.expires) {
			m.remove(k)
			continue
		}
		e := it.e
		out[i] = &e
		hits++
	}
	m.mu.Unlock()
	m.hits.Add(hits)
	m.misses.Add(uint64(len(keys)) - hits)
	return out, nil
}

// SetMany implements Store. It never fails.
func (m *Memory) SetMany(_ context.Context, entries map[string]Entry) error {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range entries {
		if e.FreshFor <= 0 {
			continue
		}
		if e.StoredAt.IsZero() {
			e.StoredAt = now
		}
		exp := e.Expires()
		if m.o.MaxTTL > 0 {
			exp = minTime(exp, now.Add(m.o.MaxTTL))
		}
		if !now.Before(exp) {
			m.remove(k)
			continue
		}
		m.lru.Add(k, memItem{e: e, expires: exp})
	}
	return nil
}

// Delete implements Store. It never fails.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.remove(k)
	}
	return nil
}

// remove drops k without counting an eviction. The caller holds mu.
func (m *Memory) remove(k string) {
	m.removing = true
	m.lru.Remove(k)
	m.removing = false
}

// Len is the number of entries held, expired ones not yet dropped included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// MemoryStats are the counters of a Memory since it was made.
type MemoryStats struct {
	Hits, Misses uint64 // keys looked up
	Evictions    uint64 // entries dropped for room (not for expiry)
	Entries      int    // entries held now
}

// Stats returns the counters.
func (m *Memory) Stats() MemoryStats {
	return MemoryStats{
		Hits: m.hits.Load(), Misses: m.misses.Load(),
		Evictions: m.evictions.Load(), Entries: m.Len(),
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
