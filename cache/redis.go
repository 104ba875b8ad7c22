package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure NewRedis. Zero values take the defaults given
// with each field. For the client settings an explicit field here wins
// over the same setting given as a query parameter of URL
// (read_timeout=...), which wins over the default. Retries are off
// (max_retries, dialer_retries=1): the breaker, not a retry, handles a
// failing Redis.
type RedisOptions struct {
	// URL is REDIS_URL (config.md):
	//   redis://[user:pass@]host:port[/db]   one server
	//   rediss://...                        one server over TLS
	//   host:port                           one server, no scheme
	//   h1:p1,h2:p2,h3:p3                   Redis Cluster seeds; each may also
	//                                       be a redis:// or rediss:// URL, the
	//                                       first such gives user, password, TLS
	//   redis://h1:p1?addr=h2:p2&addr=...   Redis Cluster, go-redis's own form
	// Ignored when Client is set.
	URL string
	// Client, when set, is used instead of one made from URL; Close leaves
	// it open. A *redis.Client is read with MGET; any other client (cluster,
	// ring) with a pipeline of GETs.
	Client redis.UniversalClient

	// DialTimeout bounds opening a connection (one attempt, no dial
	// retries). Default 100ms.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each round trip on the socket.
	// Default 100ms each. A context deadline that comes sooner wins.
	ReadTimeout, WriteTimeout time.Duration
	// PoolTimeout bounds the wait for a free connection. Default 100ms.
	PoolTimeout time.Duration
	// PoolSize is the connections per node; default go-redis's
	// (10 per GOMAXPROCS).
	PoolSize int

	// KeyPrefix is put before every key. Default "tutti:".
	KeyPrefix string

	// FailureThreshold is how many failed (or slow) round trips in a row
	// open the breaker. Default 5.
	FailureThreshold int
	// SlowThreshold: a round trip that succeeds but takes longer counts
	// as a failure for the breaker. Default ReadTimeout/2.
	SlowThreshold time.Duration
	// ProbeInterval is how often an open breaker PINGs Redis in the
	// background; the first PING that answers closes it. Default 1s.
	ProbeInterval time.Duration

	// Logger gets breaker transitions (one line each way); default
	// slog.Default(). Passwords are never logged.
	Logger *slog.Logger
	// Now is the clock for entry freshness; default time.Now.
	Now func() time.Time
}

func (o RedisOptions) withDefaults() RedisOptions {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "tutti:"
	}
	if o.FailureThreshold <= 0 {
		o.FailureThreshold = 5
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Default client settings, used where neither RedisOptions nor the URL
// sets one.
const (
	defaultDialTimeout  = 100 * time.Millisecond
	defaultReadTimeout  = 100 * time.Millisecond
	defaultWriteTimeout = 100 * time.Millisecond
	defaultPoolTimeout  = 100 * time.Millisecond
)

// Redis is the shared tier. It fails open: a breaker counts failed, timed
// out and slow round trips; after FailureThreshold in a row it opens, and
// then GetMany answers all misses at once and SetMany drops its writes,
// both with an error wrapping ErrUnavailable, until a background PING
// (every ProbeInterval) answers. go-redis itself redials broken connections.
//
// Keys are KeyPrefix+key. Values are a small versioned binary envelope
// (version, flags, StoredAt, FreshFor, StaleFor, value, CRC-32C; about 16
// bytes over the value); anything that does not decode is a miss. Redis
// expires each key at Entry.Expires.
//
// Round trips: GetMany is one MGET on a single server. On a cluster an MGET
// across slots is refused (CROSSSLOT), and go-redis would split it into one
// command per slot; GetMany sends a pipeline of GETs instead, which the
// cluster client splits per node and runs in parallel: one round trip per
// node holding any of the keys, whatever their slots. SetMany and Delete are
// one pipeline (SET key value PX ttl / DEL key per entry) the same way.
type Redis struct {
	o      RedisOptions
	client redis.UniversalClient
	owned  bool // made by NewRedis; Close closes it
	mget   bool // a single server: read with MGET
	log    *slog.Logger
	br     *breaker

	probeMu sync.Mutex
	probing bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup

	hits, misses, corrupt             atomic.Uint64
	calls, errs, slow, skipped, drops atomic.Uint64
	// answered is when a round trip last got an answer (Unix ns).
	answered atomic.Int64
}

// NewRedis connects to Redis as o says. It returns an error only for a
// malformed URL: an unreachable server is not an error (fail-open). It
// PINGs once, bounded by DialTimeout+ReadTimeout; if that fails the store
// starts down (the breaker open) and recovers by itself when Redis answers.
func NewRedis(o RedisOptions) (*Redis, error) {
	o = o.withDefaults()
	r := &Redis{o: o, client: o.Client, log: o.Logger.With("component", "cache.redis"), stop: make(chan struct{})}
	if r.client == nil {
		c, err := newRedisClient(o)
		if err != nil {
			return nil, fmt.Errorf("cache redis: %w", err)
		}
		r.client, r.owned = c, true
	}
	_, r.mget = r.client.(*redis.Client)
	if r.o.SlowThreshold <= 0 {
		r.o.SlowThreshold = r.readTimeout() / 2
	}
	r.br = &breaker{threshold: o.FailureThreshold, onOpen: r.opened}

	ctx, cancel := context.WithTimeout(context.Background(), r.dialTimeout()+r.readTimeout())
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		r.log.Warn("redis not reachable at start; serving without it until it answers", "error", err)
		r.br.trip()
	}
	return r, nil
}

// newRedisClient makes the client for o.URL with the package's defaults.
func newRedisClient(o RedisOptions) (redis.UniversalClient, error) {
	raw := strings.TrimSpace(o.URL)
	if raw == "" {
		return nil, errors.New("parse url: empty")
	}
	var parts []string
	for p := range strings.SplitSeq(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 1 && !hasAddrParam(parts[0]) {
		opt, err := parseServer(parts[0])
		if err != nil {
			return nil, err
		}
		opt.DialTimeout = pick(o.DialTimeout, opt.DialTimeout, defaultDialTimeout)
		opt.ReadTimeout = pick(o.ReadTimeout, opt.ReadTimeout, defaultReadTimeout)
		opt.WriteTimeout = pick(o.WriteTimeout, opt.WriteTimeout, defaultWriteTimeout)
		opt.PoolTimeout = pick(o.PoolTimeout, opt.PoolTimeout, defaultPoolTimeout)
		opt.PoolSize = pick(o.PoolSize, opt.PoolSize, 0)
		opt.MaxRetries = pick(0, opt.MaxRetries, -1) // retries would add latency; the breaker decides
		opt.DialerRetries = pick(0, opt.DialerRetries, 1)
		opt.ContextTimeoutEnabled = true
		return redis.NewClient(opt), nil
	}

	var copt *redis.ClusterOptions
	if len(parts) == 1 {
		var err error
		if copt, err = redis.ParseClusterURL(parts[0]); err != nil {
			return nil, fmt.Errorf("parse cluster url: %w", err)
		}
	} else {
		copt = &redis.ClusterOptions{}
		credentials := false
		for i, p := range parts {
			opt, err := parseServer(p)
			if err != nil {
				return nil, fmt.Errorf("cluster seed %d: %w", i+1, err)
			}
			if opt.DB != 0 {
				return nil, fmt.Errorf("cluster seed %d: a cluster has only db 0", i+1)
			}
			copt.Addrs = append(copt.Addrs, opt.Addr)
			if strings.Contains(p, "://") && !credentials {
				copt.Username, copt.Password, copt.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
				credentials = true
			}
		}
	}
	copt.DialTimeout = pick(o.DialTimeout, copt.DialTimeout, defaultDialTimeout)
	copt.ReadTimeout = pick(o.ReadTimeout, copt.ReadTimeout, defaultReadTimeout)
	copt.WriteTimeout = pick(o.WriteTimeout, copt.WriteTimeout, defaultWriteTimeout)
	copt.PoolTimeout = pick(o.PoolTimeout, copt.PoolTimeout, defaultPoolTimeout)
	copt.PoolSize = pick(o.PoolSize, copt.PoolSize, 0)
	copt.MaxRetries = pick(0, copt.MaxRetries, -1)
	copt.DialerRetries = pick(0, copt.DialerRetries, 1)
	copt.ContextTimeoutEnabled = true
	return redis.NewClusterClient(copt), nil
}

// parseServer reads one redis://, rediss:// URL or bare host:port.
func parseServer(s string) (*redis.Options, error) {
	if strings.Contains(s, "://") {
		opt, err := redis.ParseURL(s)
		if err != nil {
			return nil, fmt.Errorf("parse url: %w", err)
		}
		return opt, nil
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return nil, errors.New("parse url: want redis://, rediss:// or host:port")
	}
	return &redis.Options{Addr: s}, nil
}

func hasAddrParam(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Query().Has("addr")
}

// pick returns the first non-zero of explicit, parsed and def.
func pick[T comparable](explicit, parsed, def T) T {
	var zero T
	switch {
	case explicit != zero:
		return explicit
	case parsed != zero:
		return parsed
	}
	return def
}

func (r *Redis) readTimeout() time.Duration {
	switch c := r.client.(type) {
	case *redis.Client:
		return positive(c.Options().ReadTimeout, defaultReadTimeout)
	case *redis.ClusterClient:
		return positive(c.Options().ReadTimeout, defaultReadTimeout)
	}
	return positive(r.o.ReadTimeout, defaultReadTimeout)
}

func (r *Redis) dialTimeout() time.Duration {
	switch c := r.client.(type) {
	case *redis.Client:
		return positive(c.Options().DialTimeout, defaultDialTimeout)
	case *redis.ClusterClient:
		return positive(c.Options().DialTimeout, defaultDialTimeout)
	}
	return positive(r.o.DialTimeout, defaultDialTimeout)
}

func positive(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Client returns the underlying client, for the readiness check and for
// other users of the same Redis.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// GetMany implements Store: one MGET, or one pipeline of GETs per cluster
// node. With the breaker open it returns all misses and an error wrapping
// ErrUnavailable without touching the network. On a cluster whose nodes
// fail in part, the keys the healthy nodes answered are returned along
// with the error.
func (r *Redis) GetMany(ctx context.Context, keys []string) ([]*Entry, error) {
	out := make([]*Entry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if !r.br.allow() {
		r.skipped.Add(1)
		r.misses.Add(uint64(len(keys)))
		return out, fmt.Errorf("cache redis get %d keys: %w", len(keys), ErrUnavailable)
	}
	start := time.Now()
	vals, err := r.read(ctx, keys)
	r.observe(ctx, start, err)
	now := r.o.Now()
	var hits, corrupt uint64
	for i, v := range vals {
		if v == nil {
			continue
		}
		e, derr := decodeEntry(v)
		if derr != nil {
			corrupt++
			continue
		}
		if e.Usable(now) {
			out[i] = &e
			hits++
		}
	}
	r.hits.Add(hits)
	r.corrupt.Add(corrupt)
	r.misses.Add(uint64(len(keys)) - hits - corrupt)
	if err != nil {
		return out, fmt.Errorf("cache redis get %d keys: %w", len(keys), err)
	}
	return out, nil
}

// read returns the raw values of keys, nil for a missing key.
func (r *Redis) read(ctx context.Context, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	if r.mget {
		full := make([]string, len(keys))
		for i, k := range keys {
			full[i] = r.o.KeyPrefix + k
		}
		res, err := r.client.MGet(ctx, full...).Result()
		if err != nil {
			return vals, fmt.Errorf("mget: %w", err)
		}
		if len(res) != len(keys) {
			return vals, fmt.Errorf("mget: %d values for %d keys", len(res), len(keys))
		}
		for i, v := range res {
			if s, ok := v.(string); ok {
				vals[i] = []byte(s)
			}
		}
		return vals, nil
	}
	pipe := r.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, r.o.KeyPrefix+k)
	}
	_, _ = pipe.Exec(ctx) // per-command errors below; redis.Nil is a miss
	var first error
	failed := 0
	for i, c := range cmds {
		b, err := c.Bytes()
		switch {
		case err == nil:
			vals[i] = b
		case errors.Is(err, redis.Nil):
		default:
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return vals, fmt.Errorf("pipeline get: %d of %d failed: %w", failed, len(keys), first)
	}
	return vals, nil
}

// SetMany implements Store: one pipeline of SET key value PX ttl, where ttl
// is what is left of the entry's life (Entry.Expires minus now). With the
// breaker open the writes are dropped at once and the error wraps
// ErrUnavailable.
func (r *Redis) SetMany(ctx context.Context, entries map[string]Entry) error {
	now := r.o.Now()
	type write struct {
		key string
		val []byte
		ttl time.Duration
	}
	writes := make([]write, 0, len(entries))
	for k, e := range entries {
		if e.FreshFor <= 0 {
			continue
		}
		if e.StoredAt.IsZero() {
			e.StoredAt = now
		}
		ttl := e.Expires().Sub(now)
		if ttl < time.Millisecond {
			continue
		}
		writes = append(writes, write{r.o.KeyPrefix + k, encodeEntry(e), ttl})
	}
	if len(writes) == 0 {
		return nil
	}
	if !r.br.allow() {
		r.skipped.Add(1)
		r.drops.Add(uint64(len(writes)))
		return fmt.Errorf("cache redis set %d keys: %w", len(writes), ErrUnavailable)
	}
	start := time.Now()
	pipe := r.client.Pipeline()
	for _, w := range writes {
		pipe.Set(ctx, w.key, w.val, w.ttl)
	}
	_, err := pipe.Exec(ctx)
	r.observe(ctx, start, err)
	if err != nil {
		return fmt.Errorf("cache redis set %d keys: %w", len(writes), err)
	}
	return nil
}

// Delete implements Store: one pipeline of DEL, one per key (a multi-key
// DEL across slots is refused by a cluster). With the breaker open nothing
// is sent and the error wraps ErrUnavailable: the entries then live until
// their TTL.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if !r.br.allow() {
		r.skipped.Add(1)
		return fmt.Errorf("cache redis delete %d keys: %w", len(keys), ErrUnavailable)
	}
	start := time.Now()
	pipe := r.client.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, r.o.KeyPrefix+k)
	}
	_, err := pipe.Exec(ctx)
	r.observe(ctx, start, err)
	if err != nil {
		return fmt.Errorf("cache redis delete %d keys: %w", len(keys), err)
	}
	return nil
}

// Ping sends PING whatever the breaker's state, for /readyz; its outcome
// feeds the breaker like any round trip (a success closes it).
func (r *Redis) Ping(ctx context.Context) error {
	start := time.Now()
	err := r.client.Ping(ctx).Err()
	r.observe(ctx, start, err)
	if err != nil {
		return fmt.Errorf("cache redis ping: %w", err)
	}
	return nil
}

// Reachable reports whether Redis answers: nil when a round trip got an
// answer within the last recent, else what a PING says (bounded by ctx).
// For readiness: a busy replica's own traffic tells (a probe's PING would
// queue behind it for a pooled connection), an idle one's PING does.
func (r *Redis) Reachable(ctx context.Context, recent time.Duration) error {
	if r.br.allow() && time.Since(time.Unix(0, r.answered.Load())) < recent {
		return nil
	}
	return r.Ping(ctx)
}

// State tells the store's health: StateOK, StateDegraded or StateDown.
func (r *Redis) State() State { return r.br.state() }

// Close stops the background probe and closes the client if NewRedis made
// it. The store must not be used afterwards.
func (r *Redis) Close() error {
	r.probeMu.Lock()
	already := r.closed
	if !already {
		r.closed = true
		close(r.stop)
	}
	r.probeMu.Unlock()
	r.wg.Wait()
	if already || !r.owned {
		return nil
	}
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("cache redis close: %w", err)
	}
	return nil
}

// observe feeds one round trip's outcome to the breaker and the counters.
// A call the caller cancelled says nothing about Redis; one that ran out of
// the caller's deadline does (Redis did not answer in time).
func (r *Redis) observe(ctx context.Context, start time.Time, err error) {
	r.calls.Add(1)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.answered.Store(time.Now().UnixNano())
		if time.Since(start) > r.o.SlowThreshold {
			r.slow.Add(1)
			r.br.failure()
		} else if r.br.success() {
			r.log.Info("redis answers again; using it")
		}
	case errors.Is(ctx.Err(), context.Canceled):
	default:
		r.errs.Add(1)
		r.br.failure()
	}
}

// opened runs once each time the breaker opens: log it and start the
// background probe unless one runs already.
func (r *Redis) opened() {
	r.log.Warn("redis failing; serving without it until it answers",
		"failures_in_a_row", r.br.failures.Load(), "probe_interval", r.o.ProbeInterval)
	r.probeMu.Lock()
	defer r.probeMu.Unlock()
	if r.probing || r.closed {
		return
	}
	r.probing = true
	r.wg.Add(1)
	go r.probe()
}

// probe PINGs every ProbeInterval while the breaker is open and closes it
// on the first answer. It exits when the breaker closes or on Close.
func (r *Redis) probe() {
	defer r.wg.Done()
	t := time.NewTicker(r.o.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.probeMu.Lock()
			r.probing = false
			r.probeMu.Unlock()
			return
		case <-t.C:
		}
		if r.br.allow() { // closed meanwhile by another success
			r.probeMu.Lock()
			if r.br.allow() {
				r.probing = false
				r.probeMu.Unlock()
				return
			}
			r.probeMu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.dialTimeout()+r.readTimeout())
		err := r.client.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		r.probeMu.Lock()
		wasOpen := r.br.success()
		r.probing = false
		r.probeMu.Unlock()
		if wasOpen {
			r.log.Info("redis answers again; using it")
		}
		return
	}
}

// RedisStats are the counters of a Redis store since it was made.
type RedisStats struct {
	State State
	// Keys looked up: found and usable; missing or expired (the keys of
	// skipped calls included); present but not decodable.
	Hits, Misses, Corrupt uint64
	// Round trips sent; of them failed; of them answered but slower than
	// SlowThreshold.
	Calls, Errors, Slow uint64
	// Skipped calls (breaker open) and the writes they dropped.
	Skipped, DroppedWrites uint64
	// BreakerOpens counts the times the breaker opened.
	BreakerOpens uint64
}

// Stats returns the counters.
func (r *Redis) Stats() RedisStats {
	return RedisStats{
		State: r.State(),
		Hits:  r.hits.Load(), Misses: r.misses.Load(), Corrupt: r.corrupt.Load(),
		Calls: r.calls.Load(), Errors: r.errs.Load(), Slow: r.slow.Load(),
		Skipped: r.skipped.Load(), DroppedWrites: r.drops.Load(),
		BreakerOpens: r.br.opens.Load(),
	}
}

// RedisLogger adapts a slog.Logger for redis.SetLogger, which is global to
// the process: go-redis's own messages (one per failed dial while Redis is
// down) then go to the logger at debug level instead of to stderr. The
// gateway calls redis.SetLogger(cache.RedisLogger{L: logger}) once at start.
type RedisLogger struct{ L *slog.Logger }

// Printf implements go-redis's logging interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.L.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
