// Package cache is the gateway's shared entity cache: the tiers behind the
// request-scoped dataloaders, the stampede guard in front of the upstreams,
// and the APQ store.
//
// # Tiers
//
// In order: the request's own dataloader cache (loaders/, not here), an
// optional small in-process Memory, Redis (REDIS_URL), the upstream. With
// REDIS_URL unset a Memory serves alone. Entries are per entity, keyed by
// the one-entity upstream request that would fetch them (Key), so different
// queries and batches of any size share them.
//
//	store := Store(NewMemory(MemoryOptions{MaxEntries: 50_000}))  // no REDIS_URL
//	// or
//	r, err := NewRedis(RedisOptions{URL: os.Getenv("REDIS_URL"), Logger: log})
//	store = NewTiered(NewMemory(MemoryOptions{MaxEntries: 10_000, MaxTTL: 2 * time.Second}), r)
//	c := New(Options{Store: store, Logger: log})
//
// # Cost of a batch
//
// Cache.Load does, for a batch of N keys: one Store.GetMany (one MGET, or on
// a cluster one pipeline per node), one upstream call through the Group for
// the misses and stale keys (none if all are fresh or already in flight),
// and one pipelined Store.SetMany for the good answers. 100 concurrent
// requests for the same cold key cost one upstream call in a process.
//
// # Fail-open
//
// Every store failure is a miss: a request always gets its answer from
// upstream, and a dead or slow Redis costs at most its timeouts (100ms)
// for the few calls before its breaker opens, nothing after. See Redis.
//
// # Using it in a batch function
//
// A loaders/ batch function for customers by id (PRIVATE data, so the
// identity goes into the key; catalog and inventory pass nil):
//
//	func (b *batches) customers(ctx context.Context, ids []string) []*dataloader.Result[*customers.Customer] {
//		identity := map[string]string{"X-User-Id": upstream.UserID(ctx)}
//		keys := make([]string, len(ids))
//		idOf := make(map[string]string, len(ids))
//		for i, id := range ids {
//			keys[i] = cache.Key("customers", "GET", "/customers/"+url.PathEscape(id), nil, nil, identity)
//			idOf[keys[i]] = id
//		}
//		results := b.cache.Load(ctx, keys, func(ctx context.Context, missing []string) (map[string]cache.Entry, error) {
//			// ctx is detached from the request's cancellation but keeps
//			// its values; give the upstream call its own deadline.
//			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
//			defer cancel()
//			ctx, meta := upstream.RecordMeta(ctx)
//			want := make([]string, len(missing))
//			for i, k := range missing {
//				want[i] = idOf[k]
//			}
//			recs, err := b.clients.Customers.GetMany(ctx, want) // one batch call
//			if err != nil {
//				return nil, err // nothing cached; stale entries answer if usable
//			}
//			// @cacheControl(maxAge: 60) capped by the answer's Cache-Control.
//			fresh := cache.FreshFor(60*time.Second, meta.MaxAge())
//			out := make(map[string]cache.Entry, len(missing))
//			for _, k := range missing {
//				if rec, ok := recs[idOf[k]]; ok {
//					v, _ := json.Marshal(rec)
//					out[k] = cache.Entry{Value: v, FreshFor: fresh, StaleFor: 5 * time.Minute}
//				} else {
//					out[k] = cache.Entry{NotFound: true, FreshFor: min(fresh, 10*time.Second)}
//				}
//			}
//			return out, nil
//		})
//		res := make([]*dataloader.Result[*customers.Customer], len(ids))
//		for i, r := range results {
//			switch {
//			case r.Err != nil:
//				res[i] = &dataloader.Result[*customers.Customer]{Error: r.Err}
//			case r.Entry.NotFound:
//				res[i] = &dataloader.Result[*customers.Customer]{Error: upstream.ErrNotFound}
//			default:
//				var c customers.Customer
//				if err := json.Unmarshal(r.Entry.Value, &c); err != nil {
//					_ = b.cache.Invalidate(ctx, keys[i]) // shape changed: bump the service name in Key
//					res[i] = &dataloader.Result[*customers.Customer]{Error: err}
//					continue
//				}
//				res[i] = &dataloader.Result[*customers.Customer]{Data: &c}
//			}
//		}
//		return res
//	}
//
// FreshFor 0 (no-store, or a zero policy) returns the answer without
// storing it. A mutation calls Cache.Invalidate with the keys it changed,
// computed with Key as above.
package cache
