package loaders

import (
	"context"
	"testing"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/tutti-gw/tutti/cache"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
)

// TestInvalidateRemovesTheCallersEntryOnly: the mutation hook deletes the
// entry the caller's own reads use (a private entry under the caller's
// identity) and leaves another caller's entry for the same key alone.
func TestInvalidateRemovesTheCallersEntryOnly(t *testing.T) {
	store := cache.NewMemory(cache.MemoryOptions{})
	c := Clients{
		Cache:    cache.New(cache.Options{Store: store}),
		Policies: map[string]Policy{OrdersByCustomer: {MaxAge: time.Minute, Private: true}},
	}
	ada := upstream.WithUserID(context.Background(), "c-0001")
	staff := upstream.WithUserID(context.Background(), "staff-1")
	mine := CacheKey(ada, OrdersByCustomer, "c-0001", nil, true)
	theirs := CacheKey(staff, OrdersByCustomer, "c-0001", nil, true)
	if mine == theirs {
		t.Fatal("two callers' private entries share a key")
	}
	entry := cache.Entry{Value: []byte(`[]`), StoredAt: time.Now(), FreshFor: time.Minute}
	if err := store.SetMany(ada, map[string]cache.Entry{mine: entry, theirs: entry}); err != nil {
		t.Fatal(err)
	}
	if err := Invalidate(ada, c, OrdersByCustomer, "c-0001"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	got, err := store.GetMany(ada, []string{mine, theirs})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil {
		t.Error("the caller's entry survived Invalidate")
	}
	if got[1] == nil {
		t.Error("another caller's entry was removed")
	}
}

// The catalog's per-field entries hold the one-field record the service
// answers to ?fields=<field>, the value their key always held; an entry this
// version cannot read is an error once, then deleted and fetched again.
func TestCachedCatalogFieldEntries(t *testing.T) {
	store := cache.NewMemory(cache.MemoryOptions{})
	c := cache.New(cache.Options{Store: store})
	ctx := context.Background()
	calls := 0
	batch := func(_ context.Context, keys []string) []*dataloader.Result[*catalog.Product] {
		calls++
		out := make([]*dataloader.Result[*catalog.Product], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[*catalog.Product]{Data: &catalog.Product{SKU: k, Title: "T " + k, Tags: []string{"x"}}}
		}
		return out
	}
	fields := []string{"tags", "title"}
	load := cached(c, ProductsBySKU, Policy{MaxAge: time.Minute}, fields, nil, batch, nil)
	if r := load(ctx, []string{"S-1"})[0]; r.Error != nil || r.Data.Title != "T S-1" || len(r.Data.Tags) != 1 {
		t.Fatalf("first load: %+v, %v", r.Data, r.Error)
	}
	titleKey := CacheKey(ctx, ProductsBySKU, "S-1", []string{"title"}, false)
	got, _ := store.GetMany(ctx, []string{titleKey})
	if got[0] == nil || string(got[0].Value) != `{"sku":"S-1","title":"T S-1"}` {
		t.Fatalf("title entry: %+v, want the one-field record", got[0])
	}
	if err := store.SetMany(ctx, map[string]cache.Entry{titleKey: {Value: []byte(`"not a record"`), FreshFor: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if r := load(ctx, []string{"S-1"})[0]; r.Error == nil {
		t.Fatalf("an unreadable entry: %+v, want an error", r.Data)
	}
	if r := load(ctx, []string{"S-1"})[0]; r.Error != nil || r.Data.Title != "T S-1" || calls != 2 {
		t.Fatalf("after an unreadable entry: %+v, %v, %d batches; want it fetched again", r.Data, r.Error, calls)
	}
}

// A private not-found answer lives as long as a found one (an unknown order
// must not be told from another customer's by how long its answer is
// cached); a public one at most NotFoundFor.
func TestNotFoundAnswersOfPrivateDataLiveAsLongAsFoundOnes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		call    string
		private bool
		want    time.Duration
	}{
		{"private", OrdersByID, true, 30 * time.Second},
		{"public", ProductsBySKU, false, NotFoundFor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := cache.NewMemory(cache.MemoryOptions{})
			c := cache.New(cache.Options{Store: store})
			ctx := upstream.WithUserID(context.Background(), "c-0001")
			batch := func(_ context.Context, keys []string) []*dataloader.Result[*struct{}] {
				out := make([]*dataloader.Result[*struct{}], len(keys))
				for i := range keys {
					out[i] = &dataloader.Result[*struct{}]{Error: upstream.ErrNotFound}
				}
				return out
			}
			cached(c, tc.call, Policy{MaxAge: 30 * time.Second, Private: tc.private}, nil, nil, batch, nil)(ctx, []string{"x"})
			got, _ := store.GetMany(ctx, []string{CacheKey(ctx, tc.call, "x", nil, tc.private)})
			if got[0] == nil || !got[0].NotFound || got[0].FreshFor != tc.want {
				t.Fatalf("entry %+v, want a not-found entry fresh for %v", got[0], tc.want)
			}
		})
	}
}
