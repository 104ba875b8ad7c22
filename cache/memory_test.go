package cache

import (
	"context"
	"testing"
	"time"
)

// clock is a settable clock for tests.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func TestMemoryEvictsTheLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{MaxEntries: 3})
	e := Entry{Value: []byte("v"), FreshFor: time.Minute}
	for _, k := range []string{"a", "b", "c"} {
		m.SetMany(ctx, map[string]Entry{k: e})
	}
	m.GetMany(ctx, []string{"a"}) // a is now the most recently used
	m.SetMany(ctx, map[string]Entry{"d": e})

	got, _ := m.GetMany(ctx, []string{"a", "b", "c", "d"})
	if got[0] == nil || got[1] != nil || got[2] == nil || got[3] == nil {
		t.Fatalf("hits a b c d = %v %v %v %v, want b evicted", got[0] != nil, got[1] != nil, got[2] != nil, got[3] != nil)
	}
	if s := m.Stats(); s.Evictions != 1 || s.Entries != 3 {
		t.Fatalf("stats %+v, want 1 eviction and 3 entries", s)
	}
}

func TestMemoryDropsEntriesWhenTheyExpire(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	m := NewMemory(MemoryOptions{Now: clk.Now})
	m.SetMany(ctx, map[string]Entry{
		"k":    {Value: []byte("v"), StoredAt: t0, FreshFor: time.Second, StaleFor: time.Second},
		"cold": {Value: []byte("v"), FreshFor: 0}, // not cacheable
	})
	clk.Advance(1500 * time.Millisecond)
	got, _ := m.GetMany(ctx, []string{"k", "cold"})
	if got[0] == nil || got[0].Fresh(clk.Now()) || !got[0].Usable(clk.Now()) {
		t.Fatalf("at 1.5s: %+v, want a stale but usable entry", got[0])
	}
	if got[1] != nil {
		t.Fatal("an entry with FreshFor 0 was stored")
	}
	clk.Advance(500 * time.Millisecond)
	if got, _ := m.GetMany(ctx, []string{"k"}); got[0] != nil {
		t.Fatalf("at 2s (fresh 1s + stale 1s): %+v, want a miss", got[0])
	}
	if m.Len() != 0 || m.Stats().Evictions != 0 {
		t.Fatalf("expired entry kept or counted as eviction: %+v", m.Stats())
	}
}

func TestMemoryMaxTTLCapsAnEntrysStay(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	m := NewMemory(MemoryOptions{MaxTTL: 5 * time.Second, Now: clk.Now})
	m.SetMany(ctx, map[string]Entry{"k": {Value: []byte("v"), FreshFor: time.Hour}})
	clk.Advance(4 * time.Second)
	if got, _ := m.GetMany(ctx, []string{"k"}); got[0] == nil {
		t.Fatal("miss before MaxTTL")
	}
	clk.Advance(time.Second)
	if got, _ := m.GetMany(ctx, []string{"k"}); got[0] != nil {
		t.Fatal("hit after MaxTTL")
	}
}

func TestMemoryDelete(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	m.SetMany(ctx, map[string]Entry{"a": {FreshFor: time.Minute}, "b": {FreshFor: time.Minute}})
	m.Delete(ctx, "a", "nope")
	got, _ := m.GetMany(ctx, []string{"a", "b"})
	if got[0] != nil || got[1] == nil {
		t.Fatalf("after Delete(a): a %v b %v", got[0] != nil, got[1] != nil)
	}
}
