package loaders

import (
	"context"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/cache"
	"github.com/tutti-gw/tutti/upstream"
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
