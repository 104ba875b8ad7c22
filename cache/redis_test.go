package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tutti-gw/tutti/internal/redistest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	redis.SetLogger(RedisLogger{L: quiet}) // dial failures are what some tests are about
	os.Exit(m.Run())
}

// newRedis returns a Redis store on the shared test Redis, under a key
// prefix of the test's own, unless o says otherwise.
func newRedis(t *testing.T, o RedisOptions) *Redis {
	t.Helper()
	if o.URL == "" && o.Client == nil {
		o.URL = redistest.URL(t)
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = redistest.Prefix(t)
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	// -race on a small, busy machine is slow: generous limits unless a
	// test of slowness sets its own.
	if o.SlowThreshold == 0 {
		o.SlowThreshold = time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	r, err := NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// roundTrips counts what a client sends: single commands and pipelines.
type roundTrips struct {
	commands, pipelines, pipelinedCmds atomic.Int64
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.pipelinedCmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (h *roundTrips) total() int64 { return h.commands.Load() + h.pipelines.Load() }

func (h *roundTrips) reset() {
	h.commands.Store(0)
	h.pipelines.Store(0)
	h.pipelinedCmds.Store(0)
}

func batch(n int, fresh time.Duration) (map[string]Entry, []string) {
	entries := make(map[string]Entry, n)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key("catalog", "GET", fmt.Sprintf("/products/sku-%d", i), nil, nil, nil)
		entries[keys[i]] = Entry{Value: fmt.Appendf(nil, `{"sku":"sku-%d"}`, i), FreshFor: fresh}
	}
	return entries, keys
}

func TestRedisBatchOf250KeysIsOneRoundTripEachWay(t *testing.T) {
	ctx := context.Background()
	r := newRedis(t, RedisOptions{})
	rt := &roundTrips{}
	r.Client().AddHook(rt)
	entries, keys := batch(250, time.Minute)
	// Warm up: a new connection's handshake (HELLO, CLIENT SETINFO) goes
	// through the hooks too; what counts is the steady state.
	r.SetMany(ctx, entries)
	r.GetMany(ctx, keys)
	rt.reset()

	if err := r.SetMany(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if rt.total() != 1 || rt.pipelinedCmds.Load() != 250 {
		t.Fatalf("SetMany of 250: %d commands + %d pipelines, want one pipeline of 250 SETs", rt.commands.Load(), rt.pipelines.Load())
	}
	rt.reset()
	got, err := r.GetMany(ctx, append(keys, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if rt.total() != 1 {
		t.Fatalf("GetMany of 251: %d commands + %d pipelines, want one MGET", rt.commands.Load(), rt.pipelines.Load())
	}
	for i, k := range keys {
		if got[i] == nil || string(got[i].Value) != string(entries[k].Value) {
			t.Fatalf("key %d: %+v", i, got[i])
		}
	}
	if got[250] != nil {
		t.Fatal("absent key hit")
	}
	rt.reset()
	if err := r.Delete(ctx, keys...); err != nil || rt.total() != 1 {
		t.Fatalf("Delete of 250: err %v, %d round trips", err, rt.total())
	}
	if got, _ := r.GetMany(ctx, keys[:1]); got[0] != nil {
		t.Fatal("deleted key hit")
	}
	if s := r.Stats(); s.Hits != 500 || s.Misses != 2 || s.State != StateOK {
		t.Fatalf("stats %+v", s)
	}
}

func TestRedisKeepsNotFoundMarkersAndStaleEntries(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	r := newRedis(t, RedisOptions{})
	err := r.SetMany(ctx, map[string]Entry{
		"gone":  {NotFound: true, FreshFor: 5 * time.Second},
		"stale": {Value: []byte("old"), StoredAt: now.Add(-1500 * time.Millisecond), FreshFor: time.Second, StaleFor: 10 * time.Second},
		"dead":  {Value: []byte("x"), StoredAt: now.Add(-time.Hour), FreshFor: time.Second, StaleFor: time.Second},
		"never": {Value: []byte("x"), FreshFor: 0, StaleFor: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.GetMany(ctx, []string{"gone", "stale", "dead", "never"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || !got[0].NotFound || len(got[0].Value) != 0 || !got[0].Fresh(time.Now()) {
		t.Fatalf("not-found marker: %+v", got[0])
	}
	if got[1] == nil || got[1].Fresh(time.Now()) || !got[1].Usable(time.Now()) || string(got[1].Value) != "old" {
		t.Fatalf("stale entry: %+v", got[1])
	}
	if got[2] != nil || got[3] != nil {
		t.Fatalf("an expired entry or one with FreshFor 0 was stored: %+v %+v", got[2], got[3])
	}
	ttl := r.Client().PTTL(ctx, r.o.KeyPrefix+"stale").Val()
	if ttl <= 8*time.Second || ttl > 9500*time.Millisecond {
		t.Fatalf("stale entry's Redis TTL %v, want what is left of 11s after 1.5s", ttl)
	}
}

func TestRedisExpiresEntriesAtTheirTTL(t *testing.T) {
	ctx := context.Background()
	r := newRedis(t, RedisOptions{})
	r.SetMany(ctx, map[string]Entry{"k": {Value: []byte("v"), FreshFor: 150 * time.Millisecond}})
	got, _ := r.GetMany(ctx, []string{"k"})
	if got[0] == nil {
		t.Fatal("miss right after SetMany")
	}
	if got[0].Fresh(got[0].StoredAt.Add(150 * time.Millisecond)) {
		t.Fatal("entry with FreshFor 150ms is fresh 150ms after StoredAt")
	}
	start := time.Now()
	waitFor(t, "Redis to expire the key", func() bool {
		n, _ := r.Client().Exists(ctx, r.o.KeyPrefix+"k").Result()
		return n == 0
	})
	if d := time.Since(start); d > time.Second {
		t.Fatalf("key lived %v past a 150ms TTL", d)
	}
}

func TestRedisTreatsCorruptValuesAsMisses(t *testing.T) {
	ctx := context.Background()
	r := newRedis(t, RedisOptions{})
	p := r.o.KeyPrefix
	good := encodeEntry(Entry{Value: []byte("v"), StoredAt: time.Now(), FreshFor: time.Minute})
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-5] ^= 1
	r.Client().Set(ctx, p+"json", `{"id":"c-1"}`, time.Minute)
	r.Client().Set(ctx, p+"flipped", flipped, time.Minute)
	r.Client().Set(ctx, p+"good", good, time.Minute)
	r.Client().HSet(ctx, p+"hash", "f", "v") // wrong type: MGET answers nil for it
	r.Client().Expire(ctx, p+"hash", time.Minute)

	got, err := r.GetMany(ctx, []string{"json", "flipped", "good", "hash"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || got[1] != nil || got[2] == nil || got[3] != nil {
		t.Fatalf("hits %v %v %v %v, want only the good one", got[0] != nil, got[1] != nil, got[2] != nil, got[3] != nil)
	}
	if s := r.Stats(); s.Corrupt != 2 || s.State != StateOK {
		t.Fatalf("stats %+v", s)
	}
}

func TestRedisFailsOpenWhenRedisDiesAndRecoversByItself(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	r := newRedis(t, RedisOptions{URL: srv.URL(), ProbeInterval: 20 * time.Millisecond})
	entries, keys := batch(50, time.Minute)
	if err := r.SetMany(ctx, entries); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for i := 0; r.State() != StateDown; i++ {
		if i > 20 {
			t.Fatalf("breaker still %s after %d failing calls", r.State(), i)
		}
		start := time.Now()
		r.GetMany(ctx, keys)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("a call to a dead Redis took %v", d)
		}
	}
	for range 20 {
		start := time.Now()
		got, err := r.GetMany(ctx, keys)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("GetMany with the breaker open took %v", d)
		}
		if !errors.Is(err, ErrUnavailable) || len(got) != len(keys) || got[0] != nil {
			t.Fatalf("GetMany with the breaker open: %d entries, err %v", len(got), err)
		}
		start = time.Now()
		if err := r.SetMany(ctx, entries); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("SetMany with the breaker open: %v", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("SetMany with the breaker open took %v", d)
		}
	}
	if s := r.Stats(); s.State != StateDown || s.BreakerOpens != 1 || s.DroppedWrites != 20*50 {
		t.Fatalf("stats while down %+v", s)
	}

	srv.Restart() // same port, empty
	waitFor(t, "the store to find Redis again", func() bool { return r.State() == StateOK })
	if err := r.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany after recovery: %v", err)
	}
	got, err := r.GetMany(ctx, keys)
	if err != nil || got[0] == nil {
		t.Fatalf("GetMany after recovery: %v, %+v", err, got[0])
	}
}

func TestRedisStartsDownWhenUnreachableAndComesUpByItself(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	start := time.Now()
	r := newRedis(t, RedisOptions{URL: srv.URL(), ProbeInterval: 20 * time.Millisecond})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("NewRedis with Redis down took %v", d)
	}
	if r.State() != StateDown {
		t.Fatalf("state %s with Redis down at start", r.State())
	}
	srv.Restart()
	waitFor(t, "the store to come up", func() bool { return r.State() == StateOK })
}

func TestRedisFailsOpenWhenRedisIsSlow(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	r := newRedis(t, RedisOptions{
		URL: srv.URL(), ProbeInterval: 20 * time.Millisecond,
		ReadTimeout: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond, SlowThreshold: 25 * time.Millisecond,
	})
	_, keys := batch(10, time.Minute)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()

	// Every command from every client now waits 800ms.
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 800, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	var calls int
	for r.State() != StateDown {
		if calls++; calls > 20 {
			t.Fatalf("breaker still %s after %d slow calls", r.State(), calls)
		}
		start := time.Now()
		r.GetMany(ctx, keys)
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Fatalf("GetMany against a paused Redis took %v, want about the 50ms read timeout", d)
		}
	}
	start := time.Now()
	if _, err := r.GetMany(ctx, keys); !errors.Is(err, ErrUnavailable) || time.Since(start) > 5*time.Millisecond {
		t.Fatalf("GetMany with the breaker open: %v after %v", err, time.Since(start))
	}
	waitFor(t, "the store to use Redis again after the pause", func() bool { return r.State() == StateOK })
}

func TestRedisCountsErrorRepliesAsFailures(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
	r := newRedis(t, RedisOptions{URL: srv.URL(), FailureThreshold: 3, ProbeInterval: time.Hour})
	entries, _ := batch(3, time.Minute)
	for i := range 3 {
		err := r.SetMany(ctx, entries)
		if err == nil || !strings.Contains(err.Error(), "OOM") {
			t.Fatalf("write %d to a full Redis: %v", i, err)
		}
		if want := map[int]State{0: StateDegraded, 1: StateDegraded, 2: StateDown}[i]; r.State() != want {
			t.Fatalf("after %d errors: %s, want %s", i+1, r.State(), want)
		}
	}
	if err := r.Ping(ctx); err != nil || r.State() != StateOK {
		t.Fatalf("a successful Ping should close the breaker: %v, %s", err, r.State())
	}
}

func TestRedisClusterSpreadsABatchOverNodesOneRoundTripEach(t *testing.T) {
	ctx := context.Background()
	addrs := redistest.StartCluster(t, 3)
	r := newRedis(t, RedisOptions{URL: strings.Join(addrs, ","), KeyPrefix: "tutti:"})
	cc, ok := r.Client().(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client for %d seeds is %T, want a cluster client", len(addrs), r.Client())
	}
	var mu sync.Mutex
	perNode := map[string]*roundTrips{}
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		perNode[n.Options().Addr] = &roundTrips{}
		n.AddHook(perNode[n.Options().Addr])
		return nil
	})
	if err != nil || len(perNode) != 3 {
		t.Fatalf("masters: %v, %d", err, len(perNode))
	}
	check := func(op string, cmds int) {
		t.Helper()
		var total int64
		for addr, rt := range perNode {
			if rt.commands.Load() != 0 || rt.pipelines.Load() != 1 {
				t.Errorf("%s: node %s had %d commands and %d pipelines, want one pipeline", op, addr, rt.commands.Load(), rt.pipelines.Load())
			}
			total += rt.pipelinedCmds.Load()
			rt.reset()
		}
		if total != int64(cmds) {
			t.Errorf("%s: %d commands over all nodes, want %d", op, total, cmds)
		}
	}

	entries, keys := batch(250, time.Minute)
	// Warm up: the first pipeline to a node opens its pipeline connection,
	// whose handshake the hooks see too.
	r.SetMany(ctx, entries)
	r.GetMany(ctx, keys)
	for _, rt := range perNode {
		rt.reset()
	}

	if err := r.SetMany(ctx, entries); err != nil {
		t.Fatal(err)
	}
	check("SetMany", 250)
	got, err := r.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	check("GetMany", 250)
	for i, k := range keys {
		if got[i] == nil || string(got[i].Value) != string(entries[k].Value) {
			t.Fatalf("key %d: %+v", i, got[i])
		}
	}
	if err := r.Delete(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	check("Delete", 250)
	if r.State() != StateOK {
		t.Fatalf("state %s", r.State())
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, c := range []struct {
		url     string
		cluster bool
		addrs   []string
		tls     bool
		pass    string
		err     string
	}{
		{url: "redis://127.0.0.1:6379/0", addrs: []string{"127.0.0.1:6379"}},
		{url: "127.0.0.1:6380", addrs: []string{"127.0.0.1:6380"}},
		{url: "rediss://user:secret@cache.internal:6380/2", addrs: []string{"cache.internal:6380"}, tls: true, pass: "secret"},
		{url: "10.0.0.1:7000, 10.0.0.2:7000,10.0.0.3:7000", cluster: true, addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}},
		{url: "rediss://:pw@a:7000,b:7000", cluster: true, addrs: []string{"a:7000", "b:7000"}, tls: true, pass: "pw"},
		{url: "redis://a:7000?addr=b:7000&addr=c:7000", cluster: true, addrs: []string{"a:7000", "b:7000", "c:7000"}},
		{url: "", err: "empty"},
		{url: "cache.internal", err: "host:port"},
		{url: "http://a:1", err: "scheme"},
		{url: "redis://a:7000/1,b:7000", err: "db 0"},
	} {
		c := c
		t.Run(c.url, func(t *testing.T) {
			client, err := newRedisClient(RedisOptions{URL: c.url})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one about %q", err, c.err)
				}
				if err != nil && strings.Contains(err.Error(), "secret") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			switch cl := client.(type) {
			case *redis.Client:
				o := cl.Options()
				if c.cluster || o.Addr != c.addrs[0] || (o.TLSConfig != nil) != c.tls || o.Password != c.pass {
					t.Fatalf("client %+v", o)
				}
				if o.ReadTimeout != defaultReadTimeout || o.DialTimeout != defaultDialTimeout || o.MaxRetries != 0 || o.DialerRetries != 1 {
					t.Fatalf("defaults not applied: read %v dial %v retries %d dial retries %d", o.ReadTimeout, o.DialTimeout, o.MaxRetries, o.DialerRetries)
				}
			case *redis.ClusterClient:
				o := cl.Options()
				if !c.cluster || strings.Join(o.Addrs, ",") != strings.Join(c.addrs, ",") || (o.TLSConfig != nil) != c.tls || o.Password != c.pass {
					t.Fatalf("cluster client %+v", o)
				}
				if o.ReadTimeout != defaultReadTimeout || o.MaxRetries > 0 {
					t.Fatalf("defaults not applied: %+v", o)
				}
			}
		})
	}
}

func TestRedisOptionsWinOverTheURLWhichWinsOverDefaults(t *testing.T) {
	c, err := newRedisClient(RedisOptions{URL: "redis://a:1?read_timeout=2s&dial_timeout=3s", DialTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if o.ReadTimeout != 2*time.Second || o.DialTimeout != 10*time.Millisecond || o.WriteTimeout != defaultWriteTimeout {
		t.Fatalf("read %v dial %v write %v", o.ReadTimeout, o.DialTimeout, o.WriteTimeout)
	}
}
