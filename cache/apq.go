package cache

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// APQ stores automatic persisted queries (hash → query text) in a Store,
// for gqlgen's extension.AutomaticPersistedQuery{Cache: cache.NewAPQ(...)}.
// Over Redis every replica shares what any replica learnt; over Memory it
// serves one process. Entries live TTL from when they were added.
//
// Failures are misses: gqlgen then answers PersistedQueryNotFound and the
// client sends the full query again, which Add stores.
type APQ struct {
	store Store
	ttl   time.Duration
}

var _ graphql.Cache[string] = (*APQ)(nil)

// apqKeyMax bounds the client-supplied hash used as a key (a SHA-256 is 64
// hex digits); longer ones are misses and not stored.
const apqKeyMax = 128

// NewAPQ returns a persisted-query cache over s (Redis, Memory or Tiered)
// whose entries live ttl (default 24h when ttl <= 0). Keys are
// "apq:"+hash, under the store's own prefix.
func NewAPQ(s Store, ttl time.Duration) *APQ {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &APQ{store: s, ttl: ttl}
}

// Get implements graphql.Cache.
func (a *APQ) Get(ctx context.Context, key string) (string, bool) {
	if key == "" || len(key) > apqKeyMax {
		return "", false
	}
	got, _ := a.store.GetMany(ctx, []string{"apq:" + key}) // errors are misses
	if len(got) != 1 || got[0] == nil || got[0].NotFound {
		return "", false
	}
	return string(got[0].Value), true
}

// Add implements graphql.Cache. A failure to store is dropped: the next
// request for the hash misses and the client resends the query.
func (a *APQ) Add(ctx context.Context, key, value string) {
	if key == "" || len(key) > apqKeyMax {
		return
	}
	_ = a.store.SetMany(ctx, map[string]Entry{"apq:" + key: {Value: []byte(value), FreshFor: a.ttl}})
}
