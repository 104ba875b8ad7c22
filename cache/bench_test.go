package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/internal/redistest"
)

// The Redis benchmarks run against the shared test Redis (loopback): they
// measure one round trip plus encoding, not a network.

func BenchmarkRedisGetMany250(b *testing.B) {
	ctx := context.Background()
	r, err := NewRedis(RedisOptions{URL: redistest.URL(b), KeyPrefix: redistest.Prefix(b), Logger: quiet, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	entries, keys := batch(250, time.Minute)
	for k, e := range entries {
		e.Value = fmt.Appendf(nil, `{"sku":%q,"name":"a product name","price":{"amount":1999,"currency":"EUR"},"tags":["a","b","c"]}`, k)
		entries[k] = e
	}
	if err := r.SetMany(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisSetMany250(b *testing.B) {
	ctx := context.Background()
	r, err := NewRedis(RedisOptions{URL: redistest.URL(b), KeyPrefix: redistest.Prefix(b), Logger: quiet, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	entries, _ := batch(250, time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.SetMany(ctx, entries); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisGetMany250BreakerOpen(b *testing.B) {
	ctx := context.Background()
	r, err := NewRedis(RedisOptions{URL: redistest.URL(b), Logger: quiet, ProbeInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.br.trip()
	_, keys := batch(250, time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		r.GetMany(ctx, keys)
	}
}

func BenchmarkLoad100AllFreshInMemory(b *testing.B) {
	ctx := context.Background()
	c := New(Options{Store: NewMemory(MemoryOptions{}), Logger: quiet})
	_, keys := batch(100, time.Minute)
	up := upstream(time.Hour)
	c.Load(ctx, keys, up.fetch)
	b.ReportAllocs()
	for b.Loop() {
		c.Load(ctx, keys, up.fetch)
	}
}

func BenchmarkKey(b *testing.B) {
	id := map[string]string{"X-User-Id": "c-0001"}
	b.ReportAllocs()
	for b.Loop() {
		Key("customers", "GET", "/customers/c-0001", nil, nil, id)
	}
}
