package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// failing is a Store that always fails, like Redis with its breaker open.
type failing struct{}

func (failing) GetMany(_ context.Context, keys []string) ([]*Entry, error) {
	return make([]*Entry, len(keys)), ErrUnavailable
}
func (failing) SetMany(context.Context, map[string]Entry) error { return ErrUnavailable }
func (failing) Delete(context.Context, ...string) error         { return ErrUnavailable }

func TestTieredReadsThroughAndBackfillsUpperTiers(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Now()}
	mem := NewMemory(MemoryOptions{Now: clk.Now})
	redis := newRedis(t, RedisOptions{})
	tiers := NewTiered(mem, redis)
	tiers.now = clk.Now

	redis.SetMany(ctx, map[string]Entry{"a": {Value: []byte("from redis"), StoredAt: clk.now, FreshFor: time.Minute}})
	mem.SetMany(ctx, map[string]Entry{"b": {Value: []byte("from memory"), StoredAt: clk.now, FreshFor: time.Minute}})

	got, err := tiers.GetMany(ctx, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Value) != "from redis" || string(got[1].Value) != "from memory" || got[2] != nil {
		t.Fatalf("got %+v %+v %+v", got[0], got[1], got[2])
	}
	if m, _ := mem.GetMany(ctx, []string{"a"}); m[0] == nil || !m[0].StoredAt.Equal(got[0].StoredAt) {
		t.Fatal("a Redis hit was not written back to memory with its own StoredAt")
	}
	if s := redis.Stats(); s.Hits != 1 || s.Misses != 1 {
		t.Fatalf("Redis was asked for more than memory's misses: %+v", s)
	}
}

func TestTieredPrefersTheNewerOfTwoStaleEntries(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: t0}
	upper := NewMemory(MemoryOptions{Now: clk.Now})
	lower := NewMemory(MemoryOptions{Now: clk.Now})
	tiers := NewTiered(upper, lower)
	tiers.now = clk.Now
	upper.SetMany(ctx, map[string]Entry{"k": {Value: []byte("old"), StoredAt: t0.Add(-2 * time.Second), FreshFor: time.Second, StaleFor: time.Minute}})
	lower.SetMany(ctx, map[string]Entry{"k": {Value: []byte("newer"), StoredAt: t0.Add(-500 * time.Millisecond), FreshFor: time.Second}})
	got, _ := tiers.GetMany(ctx, []string{"k"})
	if got[0] == nil || string(got[0].Value) != "newer" {
		t.Fatalf("got %+v, want the fresh lower-tier entry", got[0])
	}
}

func TestTieredFailsOpenPastABrokenTier(t *testing.T) {
	ctx := context.Background()
	mem := NewMemory(MemoryOptions{})
	tiers := NewTiered(mem, failing{})
	if err := tiers.SetMany(ctx, map[string]Entry{"k": {Value: []byte("v"), FreshFor: time.Minute}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("SetMany: %v", err)
	}
	got, err := tiers.GetMany(ctx, []string{"k", "x"})
	if got[0] == nil || got[1] != nil {
		t.Fatalf("memory's answer lost: %+v", got)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("the broken tier's error is not reported: %v", err)
	}
	if err := tiers.Delete(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Delete: %v", err)
	}
	if got, _ := mem.GetMany(ctx, []string{"k"}); got[0] != nil {
		t.Fatal("Delete did not reach the working tier")
	}
}
