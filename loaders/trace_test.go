package loaders

import (
	"context"
	"testing"

	"github.com/graph-gophers/dataloader/v7"
)

// A prefetched batch is on the trace from the moment Prefetch decides to
// send it, marked pending until it ends, so an answer written meanwhile
// still lists it.
func TestTraceListsAPrefetchedBatchAsPendingUntilItEnds(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	tr := NewTrace()
	c := newCall("things.byId", func(ctx context.Context, keys []string) []*dataloader.Result[string] {
		close(started)
		<-release
		out := make([]*dataloader.Result[string], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[string]{Data: "v-" + k}
		}
		return out
	}, func(v string) []any { return []any{v} }, Options{Trace: tr, Mode: ModePlanned})

	c.Prefetch(context.Background(), []string{"a", "b", "a"}, nil)
	// Listed before the batch function has even run.
	calls := tr.Calls()
	if len(calls) != 1 || calls[0].Call != "things.byId" || calls[0].Keys != 2 || !calls[0].Pending {
		t.Fatalf("trace right after Prefetch = %+v, want one pending batch of 2 keys", calls)
	}
	<-started
	close(release)
	if v, err := c.Load(context.Background(), "b"); err != nil || v != "v-b" {
		t.Fatalf("Load(b) = %q, %v", v, err)
	}
	calls = tr.Calls()
	if len(calls) != 1 || calls[0].Pending || calls[0].Upstream != true {
		t.Fatalf("trace after the batch = %+v, want it ended (not pending)", calls)
	}
}
