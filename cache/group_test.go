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

// waitFor polls cond every millisecond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func valueEntry(v string) Entry { return Entry{Value: []byte(v), FreshFor: time.Minute} }

func TestGroupCollapsesAStampedeIntoOneFetch(t *testing.T) {
	var g Group
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(ctx context.Context, keys []string) (map[string]Entry, error) {
		calls.Add(1)
		<-release
		return map[string]Entry{"k": valueEntry("v")}, nil
	}
	const n = 100
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = g.Do(context.Background(), []string{"k"}, fetch)["k"] })
	}
	waitFor(t, "99 callers to join the first one's fetch", func() bool { w, _ := g.inFlight("k"); return w == n-1 })
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 1 {
		t.Fatalf("fetch called %d times for %d concurrent callers, want 1", c, n)
	}
	for i, r := range results {
		if r.Err != nil || string(r.Entry.Value) != "v" || r.Source != FromUpstream {
			t.Fatalf("caller %d got %+v", i, r)
		}
	}
	if s := g.Stats(); s.Fetches != 1 || s.Joined != n-1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGroupFetchesOnlyTheKeysNotInFlight(t *testing.T) {
	var g Group
	release := make(chan struct{})
	var mu sync.Mutex
	var asked [][]string
	fetch := func(ctx context.Context, keys []string) (map[string]Entry, error) {
		mu.Lock()
		asked = append(asked, slices.Sorted(slices.Values(keys)))
		mu.Unlock()
		if slices.Contains(keys, "a") {
			<-release
		}
		m := map[string]Entry{}
		for _, k := range keys {
			m[k] = valueEntry("v-" + k)
		}
		return m, nil
	}
	first := make(chan map[string]Result)
	go func() { first <- g.Do(context.Background(), []string{"a", "b"}, fetch) }()
	// In flight and fetching: the fetch has recorded its keys, so the
	// second caller's fetch cannot be recorded first.
	waitFor(t, "the first batch to be in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, ok := g.inFlight("b")
		return ok && len(asked) == 1
	})

	second := make(chan map[string]Result)
	go func() { second <- g.Do(context.Background(), []string{"b", "c", "c"}, fetch) }()
	waitFor(t, "the second caller to wait for b", func() bool { w, _ := g.inFlight("b"); return w == 1 })
	close(release)

	r1, r2 := <-first, <-second
	if len(asked) != 2 || !slices.Equal(asked[0], []string{"a", "b"}) || !slices.Equal(asked[1], []string{"c"}) {
		t.Fatalf("fetches asked for %v, want [[a b] [c]]", asked)
	}
	if string(r1["b"].Entry.Value) != "v-b" || string(r2["b"].Entry.Value) != "v-b" || string(r2["c"].Entry.Value) != "v-c" || len(r2) != 2 {
		t.Fatalf("results %+v and %+v", r1, r2)
	}
}

func TestGroupWaiterStopsWaitingWhenItsContextEnds(t *testing.T) {
	var g Group
	release := make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	fetch := func(ctx context.Context, keys []string) (map[string]Entry, error) {
		<-release
		fetchCtxErr <- ctx.Err()
		return map[string]Entry{"k": valueEntry("v")}, nil
	}
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan Result)
	go func() { leader <- g.Do(leaderCtx, []string{"k"}, fetch)["k"] }()
	waitFor(t, "the fetch to start", func() bool { _, ok := g.inFlight("k"); return ok })

	waiterCtx, cancelWaiter := context.WithCancel(context.Background())
	waiter := make(chan Result)
	go func() { waiter <- g.Do(waiterCtx, []string{"k"}, fetch)["k"] }()
	patient := make(chan Result)
	go func() { patient <- g.Do(context.Background(), []string{"k"}, fetch)["k"] }()
	waitFor(t, "two callers to join", func() bool { w, _ := g.inFlight("k"); return w == 2 })

	cancelWaiter()
	if r := <-waiter; !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled waiter got %+v, want context.Canceled", r)
	}
	cancelLeader() // the caller that started the fetch gives up too
	if r := <-leader; !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled leader got %+v, want context.Canceled", r)
	}
	close(release)
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("the fetch's context ended with its callers: %v", err)
	}
	if r := <-patient; r.Err != nil || string(r.Entry.Value) != "v" {
		t.Fatalf("the remaining waiter got %+v", r)
	}
}

func TestGroupReportsFetchFailuresPerKey(t *testing.T) {
	var g Group
	boom := errors.New("upstream 503")
	r := g.Do(context.Background(), []string{"a", "b"}, func(context.Context, []string) (map[string]Entry, error) {
		return nil, boom
	})
	if !errors.Is(r["a"].Err, boom) || !errors.Is(r["b"].Err, boom) {
		t.Fatalf("failed fetch: %+v", r)
	}
	r = g.Do(context.Background(), []string{"a", "b"}, func(context.Context, []string) (map[string]Entry, error) {
		return map[string]Entry{"a": valueEntry("v")}, nil
	})
	if r["a"].Err != nil || !errors.Is(r["b"].Err, ErrNoResult) {
		t.Fatalf("partial answer: %+v", r)
	}
	r = g.Do(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]Entry, error) {
		panic("bug")
	})
	if r["a"].Err == nil {
		t.Fatal("a panicking fetch answered without error")
	}
	if _, ok := g.inFlight("a"); ok {
		t.Fatal("a settled key is still in flight")
	}
}
