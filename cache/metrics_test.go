package cache

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestCollectorsReportTheCounters(t *testing.T) {
	ctx := context.Background()
	r := newRedis(t, RedisOptions{})
	mem := NewMemory(MemoryOptions{})
	c := New(Options{Store: NewTiered(mem, r), Logger: quiet})
	up := upstream(time.Minute)
	c.Load(ctx, []string{"a", "b"}, up.fetch)
	c.Load(ctx, []string{"a", "b"}, up.fetch)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collectors()...)
	reg.MustRegister(mem.Collectors()...)
	reg.MustRegister(c.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "|" + l.GetValue()
			}
			got[name] = value(m)
		}
	}
	for name, want := range map[string]float64{
		"tutti_cache_redis_state|ok":             1,
		"tutti_cache_redis_state|down":           0,
		"tutti_cache_redis_keys_total|miss":      2,
		"tutti_cache_redis_calls_total|ok":       2, // one read, one fill
		"tutti_cache_memory_keys_total|hit":      2,
		"tutti_cache_memory_entries":             2,
		"tutti_cache_answers_total|cache":        2,
		"tutti_cache_answers_total|upstream":     2,
		"tutti_cache_fetches_total":              1,
		"tutti_cache_redis_breaker_opens_total":  0,
		"tutti_cache_redis_dropped_writes_total": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
