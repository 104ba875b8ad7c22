package cache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an upstream that records the keys of every call.
type recorder struct {
	mu     sync.Mutex
	calls  [][]string
	answer func(keys []string) (map[string]Entry, error)
}

func (r *recorder) fetch(_ context.Context, keys []string) (map[string]Entry, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Sorted(slices.Values(keys)))
	r.mu.Unlock()
	return r.answer(keys)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// upstream answers "v-<key>" for every key but those in missing, which it
// says do not exist.
func upstream(fresh time.Duration, missing ...string) *recorder {
	return &recorder{answer: func(keys []string) (map[string]Entry, error) {
		m := map[string]Entry{}
		for _, k := range keys {
			if slices.Contains(missing, k) {
				m[k] = Entry{NotFound: true, FreshFor: fresh / 2}
			} else {
				m[k] = Entry{Value: []byte("v-" + k), FreshFor: fresh, StaleFor: fresh}
			}
		}
		return m, nil
	}}
}

func TestLoadAsksTheUpstreamOnlyForMisses(t *testing.T) {
	ctx := context.Background()
	c := New(Options{Store: NewMemory(MemoryOptions{}), Logger: quiet})
	up := upstream(time.Minute, "gone")

	first := c.Load(ctx, []string{"a", "b", "gone", "a"}, up.fetch)
	second := c.Load(ctx, []string{"a", "b", "c", "gone"}, up.fetch)

	if !slices.EqualFunc(up.calls, [][]string{{"a", "b", "gone"}, {"c"}}, slices.Equal) {
		t.Fatalf("upstream calls %v, want [[a b gone] [c]]", up.calls)
	}
	for i, want := range []struct {
		val    string
		nf     bool
		source Source
	}{{"v-a", false, FromUpstream}, {"v-b", false, FromUpstream}, {"", true, FromUpstream}, {"v-a", false, FromUpstream}} {
		if r := first[i]; r.Err != nil || string(r.Entry.Value) != want.val || r.Entry.NotFound != want.nf || r.Source != want.source {
			t.Errorf("first load, key %d: %+v", i, r)
		}
	}
	for i, want := range []Source{FromCache, FromCache, FromUpstream, FromCache} {
		if r := second[i]; r.Err != nil || r.Source != want {
			t.Errorf("second load, key %d: %+v, want source %s", i, r, want)
		}
	}
	if !second[3].Entry.NotFound {
		t.Error("the not-found answer was not cached")
	}
	if s := c.Stats(); s.Fresh != 3 || s.Upstream != 5 || s.Group.Fetches != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLoadCachesOnlyGoodAnswers(t *testing.T) {
	ctx := context.Background()
	c := New(Options{Store: NewMemory(MemoryOptions{}), Logger: quiet})
	boom := errors.New("upstream 503")
	failing := &recorder{answer: func([]string) (map[string]Entry, error) { return nil, boom }}
	partial := &recorder{answer: func([]string) (map[string]Entry, error) {
		return map[string]Entry{
			"a":        {Value: []byte("v"), FreshFor: time.Minute},
			"no-store": {Value: []byte("v"), FreshFor: 0},
		}, nil
	}}

	if r := c.Load(ctx, []string{"a"}, failing.fetch); !errors.Is(r[0].Err, boom) {
		t.Fatalf("failed fetch: %+v", r[0])
	}
	r := c.Load(ctx, []string{"a", "left-out", "no-store"}, partial.fetch)
	if r[0].Err != nil || !errors.Is(r[1].Err, ErrNoResult) || r[2].Err != nil || string(r[2].Entry.Value) != "v" {
		t.Fatalf("partial answer: %+v", r)
	}
	c.Load(ctx, []string{"a", "left-out", "no-store"}, partial.fetch)
	if !slices.Equal(partial.calls[1], []string{"left-out", "no-store"}) {
		t.Fatalf("second fetch asked for %v, want what was not cached: [left-out no-store]", partial.calls[1])
	}
}

func TestLoadServesStaleEntriesWhenTheUpstreamFails(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Now()}
	c := New(Options{Store: NewMemory(MemoryOptions{Now: clk.Now}), Logger: quiet, Now: clk.Now})
	up := upstream(time.Second)
	c.Load(ctx, []string{"k"}, up.fetch) // fresh 1s, stale 1s more

	boom := errors.New("upstream down")
	down := &recorder{answer: func([]string) (map[string]Entry, error) { return nil, boom }}
	clk.Advance(1500 * time.Millisecond)
	if r := c.Load(ctx, []string{"k"}, down.fetch)[0]; r.Err != nil || r.Source != FromStale || string(r.Entry.Value) != "v-k" {
		t.Fatalf("within the stale window: %+v, want the stale entry", r)
	}
	if down.count() != 1 {
		t.Fatal("a stale entry was served without asking the upstream first")
	}
	if r := c.Load(ctx, []string{"k"}, up.fetch)[0]; r.Err != nil || r.Source != FromUpstream {
		t.Fatalf("stale entry, upstream back: %+v, want a fresh fetch", r)
	}
	clk.Advance(2500 * time.Millisecond) // past fresh + stale of the refetched entry
	if r := c.Load(ctx, []string{"k"}, down.fetch)[0]; !errors.Is(r.Err, boom) {
		t.Fatalf("past the stale window: %+v, want the upstream error", r)
	}
	if s := c.Stats(); s.Stale != 1 || s.Failed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// An answer the upstream says may not be kept (FreshFor 0) supersedes the
// stale entry it replaced: a later failure is an error, not that entry.
func TestLoadDropsStaleEntriesAnAnswerSupersedes(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Now()}
	c := New(Options{Store: NewMemory(MemoryOptions{Now: clk.Now}), Logger: quiet, Now: clk.Now})
	c.Load(ctx, []string{"k"}, upstream(time.Second).fetch) // fresh 1s, stale 1s more
	clk.Advance(1500 * time.Millisecond)
	noStore := &recorder{answer: func([]string) (map[string]Entry, error) {
		return map[string]Entry{"k": {Value: []byte("new")}}, nil
	}}
	if r := c.Load(ctx, []string{"k"}, noStore.fetch)[0]; r.Err != nil || string(r.Entry.Value) != "new" {
		t.Fatalf("no-store answer: %+v", r)
	}
	boom := errors.New("upstream down")
	down := &recorder{answer: func([]string) (map[string]Entry, error) { return nil, boom }}
	if r := c.Load(ctx, []string{"k"}, down.fetch)[0]; !errors.Is(r.Err, boom) {
		t.Fatalf("after a no-store answer, upstream down: %+v, want the error (the older entry was superseded)", r)
	}
}

func TestLoadStampedeOverRedisCostsOneUpstreamCall(t *testing.T) {
	ctx := context.Background()
	c := New(Options{Store: newRedis(t, RedisOptions{}), Logger: quiet})
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(_ context.Context, keys []string) (map[string]Entry, error) {
		calls.Add(1)
		<-release
		return map[string]Entry{"cold": {Value: []byte("v"), FreshFor: time.Minute}}, nil
	}
	const n = 100
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range n {
		wg.Go(func() {
			if r := c.Load(ctx, []string{"cold"}, fetch)[0]; r.Err != nil || string(r.Entry.Value) != "v" {
				bad.Add(1)
			}
		})
	}
	// Each caller either joins the flight or, once it has landed, finds
	// the entry in Redis; hold the flight until all have read Redis.
	waitFor(t, "all callers to have missed Redis and joined", func() bool {
		w, _ := c.group.inFlight("cold")
		return w == n-1
	})
	close(release)
	wg.Wait()
	if calls.Load() != 1 || bad.Load() != 0 {
		t.Fatalf("%d upstream calls for %d concurrent requests of a cold key (%d bad answers), want 1", calls.Load(), n, bad.Load())
	}
	if r := c.Load(ctx, []string{"cold"}, fetch)[0]; r.Source != FromCache {
		t.Fatalf("after the stampede: %+v, want a cache hit", r)
	}
}

func TestLoadWithRedisDownStillAnswersFromUpstream(t *testing.T) {
	ctx := context.Background()
	c := New(Options{Store: NewTiered(NewMemory(MemoryOptions{}), failing{}), Logger: quiet})
	up := upstream(time.Minute)
	if r := c.Load(ctx, []string{"a"}, up.fetch)[0]; r.Err != nil || string(r.Entry.Value) != "v-a" {
		t.Fatalf("%+v", r)
	}
	if r := c.Load(ctx, []string{"a"}, up.fetch)[0]; r.Source != FromCache {
		t.Fatalf("the in-process tier did not keep the entry: %+v", r)
	}
	if c.Stats().StoreErrors == 0 {
		t.Fatal("store errors not counted")
	}
}

func TestInvalidateRemovesFromEveryTier(t *testing.T) {
	ctx := context.Background()
	mem := NewMemory(MemoryOptions{})
	redis := newRedis(t, RedisOptions{})
	c := New(Options{Store: NewTiered(mem, redis), Logger: quiet})
	up := upstream(time.Minute)
	c.Load(ctx, []string{"k"}, up.fetch)
	if err := c.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"memory": mem, "redis": redis} {
		if got, _ := s.GetMany(ctx, []string{"k"}); got[0] != nil {
			t.Errorf("%s still holds the entry", name)
		}
	}
	c.Load(ctx, []string{"k"}, up.fetch)
	if up.count() != 2 {
		t.Fatal("the next load after Invalidate did not fetch")
	}
}

func TestFreshForTakesTheSmallerOfPolicyAndUpstream(t *testing.T) {
	for _, c := range []struct {
		policy time.Duration
		maxAge int
		want   time.Duration
	}{
		{time.Minute, -1, time.Minute},
		{time.Minute, 10, 10 * time.Second},
		{10 * time.Second, 60, 10 * time.Second},
		{time.Minute, 0, 0},
		{0, 60, 0},
	} {
		if got := FreshFor(c.policy, c.maxAge); got != c.want {
			t.Errorf("FreshFor(%v, %d) = %v, want %v", c.policy, c.maxAge, got, c.want)
		}
	}
}

// A fetch may answer keys it was not asked for (an order in a customer's
// order list is also that order by id): Load stores them with its own,
// those that may be kept, and they answer later Loads.
func TestLoadStoresWhatAFetchAnsweredBesides(t *testing.T) {
	ctx := context.Background()
	c := New(Options{Store: NewMemory(MemoryOptions{}), Logger: quiet})
	besides := &recorder{answer: func(keys []string) (map[string]Entry, error) {
		return map[string]Entry{
			"asked": {Value: []byte("a"), FreshFor: time.Minute},
			"kept":  {Value: []byte("x"), FreshFor: time.Minute},
			"skip":  {Value: []byte("y")}, // FreshFor 0: not stored
		}, nil
	}}
	if r := c.Load(ctx, []string{"asked"}, besides.fetch)[0]; r.Err != nil || string(r.Entry.Value) != "a" {
		t.Fatalf("asked key: %+v", r)
	}
	up := upstream(time.Minute)
	got := c.Load(ctx, []string{"kept", "skip"}, up.fetch)
	if got[0].Source != FromCache || string(got[0].Entry.Value) != "x" || got[0].Entry.StoredAt.IsZero() {
		t.Errorf("key answered besides: %+v, want x from the cache with its StoredAt set", got[0])
	}
	if !slices.EqualFunc(up.calls, [][]string{{"skip"}}, slices.Equal) {
		t.Errorf("upstream calls %v, want [[skip]]", up.calls)
	}
}
