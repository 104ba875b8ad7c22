package cache

import "github.com/prometheus/client_golang/prometheus"

// funcCollector turns a snapshot function into const metrics at scrape
// time, so the hot path only bumps atomics.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (f funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

func (f funcCollector) Collect(ch chan<- prometheus.Metric) { f.collect(ch) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("tutti_cache_"+name, help, labels, nil)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Collectors returns the store's Prometheus metrics, for the gateway to
// register:
//
//	tutti_cache_redis_state{state="ok|degraded|down"}          1 for the current state
//	tutti_cache_redis_keys_total{result="hit|miss|corrupt"}
//	tutti_cache_redis_calls_total{result="ok|slow|error|skipped"}  round trips
//	tutti_cache_redis_dropped_writes_total                     entries not written, breaker open
//	tutti_cache_redis_breaker_opens_total
func (r *Redis) Collectors() []prometheus.Collector {
	state := desc("redis_state", "Redis tier health: 1 for the current state (ok, degraded, down).", "state")
	keys := desc("redis_keys_total", "Keys looked up in Redis, by result.", "result")
	calls := desc("redis_calls_total", "Redis round trips by result; skipped: not sent, breaker open.", "result")
	drops := desc("redis_dropped_writes_total", "Entries not written to Redis because the breaker was open.")
	opens := desc("redis_breaker_opens_total", "Times the Redis breaker opened.")
	return []prometheus.Collector{funcCollector{
		descs: []*prometheus.Desc{state, keys, calls, drops, opens},
		collect: func(ch chan<- prometheus.Metric) {
			s := r.Stats()
			for _, st := range []State{StateOK, StateDegraded, StateDown} {
				v := 0.0
				if s.State == st {
					v = 1
				}
				gauge(ch, state, v, string(st))
			}
			counter(ch, keys, s.Hits, "hit")
			counter(ch, keys, s.Misses, "miss")
			counter(ch, keys, s.Corrupt, "corrupt")
			counter(ch, calls, s.Calls-s.Errors-s.Slow, "ok")
			counter(ch, calls, s.Slow, "slow")
			counter(ch, calls, s.Errors, "error")
			counter(ch, calls, s.Skipped, "skipped")
			counter(ch, drops, s.DroppedWrites)
			counter(ch, opens, s.BreakerOpens)
		},
	}}
}

// Collectors returns the store's Prometheus metrics:
//
//	tutti_cache_memory_keys_total{result="hit|miss"}
//	tutti_cache_memory_evictions_total
//	tutti_cache_memory_entries
func (m *Memory) Collectors() []prometheus.Collector {
	keys := desc("memory_keys_total", "Keys looked up in the in-process cache, by result.", "result")
	evictions := desc("memory_evictions_total", "Entries dropped from the in-process cache for room.")
	entries := desc("memory_entries", "Entries held in the in-process cache.")
	return []prometheus.Collector{funcCollector{
		descs: []*prometheus.Desc{keys, evictions, entries},
		collect: func(ch chan<- prometheus.Metric) {
			s := m.Stats()
			counter(ch, keys, s.Hits, "hit")
			counter(ch, keys, s.Misses, "miss")
			counter(ch, evictions, s.Evictions)
			gauge(ch, entries, float64(s.Entries))
		},
	}}
}

// Collectors returns the Cache's Prometheus metrics:
//
//	tutti_cache_answers_total{source="cache|upstream|stale|error"}  keys answered
//	tutti_cache_store_errors_total                                 failed reads and fills (failed open)
//	tutti_cache_fetches_total                                      upstream fetch calls
//	tutti_cache_fetched_keys_total                                 keys in those calls
//	tutti_cache_joined_keys_total                                  keys that waited for another caller's fetch
func (c *Cache) Collectors() []prometheus.Collector {
	answers := desc("answers_total", "Keys answered by the cache read path, by source.", "source")
	storeErrs := desc("store_errors_total", "Failed cache store reads and fills; each failed open.")
	fetches := desc("fetches_total", "Upstream fetch calls made by the cache read path.")
	fetched := desc("fetched_keys_total", "Keys asked for by upstream fetch calls.")
	joined := desc("joined_keys_total", "Keys that waited for a concurrent caller's fetch instead of fetching.")
	return []prometheus.Collector{funcCollector{
		descs: []*prometheus.Desc{answers, storeErrs, fetches, fetched, joined},
		collect: func(ch chan<- prometheus.Metric) {
			s := c.Stats()
			counter(ch, answers, s.Fresh, FromCache.String())
			counter(ch, answers, s.Upstream, FromUpstream.String())
			counter(ch, answers, s.Stale, FromStale.String())
			counter(ch, answers, s.Failed, "error")
			counter(ch, storeErrs, s.StoreErrors)
			counter(ch, fetches, s.Group.Fetches)
			counter(ch, fetched, s.Group.Fetched)
			counter(ch, joined, s.Group.Joined)
		},
	}}
}
