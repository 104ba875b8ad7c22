package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tutti-gw/tutti/limits"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/upstream"
)

// Services are the seven REST services behind the gateway, as config.md
// names them (UPSTREAM_<NAME>_URL).
var Services = []string{"customers", "orders", "catalog", "inventory", "shipping", "payments", "notifications"}

// Upstream is where one service is and how to call it.
type Upstream struct {
	// URL is the base URL; empty starts the built-in demo service.
	URL string
	// APIKey is sent as X-Api-Key; empty means the demo service's key.
	APIKey string
	// Policy is the service's timeouts, retries, retry budget, breaker and
	// bulkhead (UPSTREAM_<NAME>_TIMEOUT, _RETRIES, _MAX_CONCURRENT,
	// _BREAKER_*, ...: see upstream.PolicyFromEnv).
	Policy upstream.Policy
}

// Config is everything the gateway is started with. Load reads it from the
// environment (config.md) and an optional JSON file; defaults are filled in
// by Load, next to the variable that sets each field.
type Config struct {
	// Addr is the listen address (GATEWAY_ADDR, default ":8080").
	Addr string
	// Upstreams by service name (UPSTREAM_<NAME>_URL, UPSTREAM_<NAME>_API_KEY).
	Upstreams map[string]Upstream
	// RedisURL is the shared cache (REDIS_URL); empty means an in-process
	// cache. Several comma-separated host:port seeds mean a Redis Cluster.
	RedisURL string
	// Cache turns the shared entity cache on (GATEWAY_CACHE, default true;
	// false sends every call upstream, for tests and benchmarks of the
	// cold path).
	Cache bool
	// JWTSecret verifies HS256 tokens (JWT_HS256_SECRET).
	JWTSecret string
	// JWKSURL is where RS256 public keys are fetched (JWT_JWKS_URL).
	JWKSURL string
	// Introspection turns introspection and "did you mean" suggestions on
	// (GATEWAY_INTROSPECTION, default true).
	Introspection bool
	// CursorSecret signs Query.products cursors (GATEWAY_CURSOR_SECRET).
	// Replicas must share it; default: derived from JWTSecret, else a
	// built-in constant (cursors then only resist accidents, not forgery —
	// harmless, since a forged cursor can only page the public catalog).
	CursorSecret string
	// ShutdownGrace is how long in-flight requests may finish after
	// SIGTERM (GATEWAY_SHUTDOWN_GRACE, default 15s).
	ShutdownGrace time.Duration
	// UpstreamTimeout bounds one upstream attempt (GATEWAY_UPSTREAM_TIMEOUT,
	// default 2s).
	UpstreamTimeout time.Duration
	// MaxBodyBytes bounds a request body after decompression
	// (GATEWAY_MAX_BODY_BYTES, default 2 MiB).
	MaxBodyBytes int64
	// Mode is how queries become upstream calls (GATEWAY_MODE): "planned"
	// (the default); "dataloader" and "naive" are the baselines the
	// benchmarks compare against, never for production.
	Mode loaders.Mode
	// Limits are the document limits (GATEWAY_MAX_DEPTH, GATEWAY_MAX_ALIASES,
	// GATEWAY_MAX_ROOT_FIELDS, GATEWAY_MAX_DIRECTIVES, GATEWAY_MAX_TOKENS,
	// GATEWAY_MAX_COST); zero fields take the spec's defaults.
	Limits limits.Options
}

// DemoUpstreams reports whether every service is the built-in demo one.
func (c Config) DemoUpstreams() bool {
	for _, s := range Services {
		if c.Upstreams[s].URL != "" {
			return false
		}
	}
	return true
}

// Load reads the configuration: the JSON file named by GATEWAY_CONFIG (an
// object whose keys are the environment variable names), then the
// environment, which wins where both set a value. getenv is os.Getenv in
// production.
func Load(getenv func(string) string) (Config, error) {
	vals := map[string]string{}
	if path := getenv("GATEWAY_CONFIG"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 2097152 stays 2097152, not 2.097152e+06
		if err := dec.Decode(&raw); err != nil {
			return Config{}, fmt.Errorf("config file %s: not a JSON object of VARIABLE: value: %w", path, err)
		}
		for k, v := range raw {
			switch x := v.(type) {
			case string:
				vals[k] = x
			case json.Number:
				vals[k] = x.String()
			case bool:
				vals[k] = strconv.FormatBool(x)
			default:
				return Config{}, fmt.Errorf("config file %s: %s must be a string, number or boolean", path, k)
			}
		}
	}
	asked := map[string]bool{}
	get := func(k string) string {
		asked[k] = true
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}

	var errs []error
	c := Config{
		Addr:          or(get("GATEWAY_ADDR"), ":8080"),
		Upstreams:     map[string]Upstream{},
		RedisURL:      strings.TrimSpace(get("REDIS_URL")),
		JWTSecret:     get("JWT_HS256_SECRET"),
		JWKSURL:       get("JWT_JWKS_URL"),
		Introspection: true,
		Cache:         true,
		CursorSecret:  get("GATEWAY_CURSOR_SECRET"),
	}
	for _, s := range Services {
		name := strings.ToUpper(s)
		u := Upstream{URL: strings.TrimRight(get("UPSTREAM_"+name+"_URL"), "/"), APIKey: get("UPSTREAM_" + name + "_API_KEY")}
		if u.URL != "" {
			if p, err := url.Parse(u.URL); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				errs = append(errs, fmt.Errorf("UPSTREAM_%s_URL %q: want an http(s) URL such as http://127.0.0.1:9001", name, u.URL))
			}
		}
		p, err := upstream.PolicyFromEnv(s, get)
		if err != nil {
			errs = append(errs, err)
		}
		u.Policy = p
		c.Upstreams[s] = u
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("GATEWAY_ADDR %q: want host:port such as 127.0.0.1:8080 or :8080", c.Addr))
	}
	if v := get("GATEWAY_INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("GATEWAY_INTROSPECTION %q: want true or false", v))
		}
		c.Introspection = b
	}
	if v := get("GATEWAY_CACHE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("GATEWAY_CACHE %q: want true or false", v))
		}
		c.Cache = b
	}
	if c.JWKSURL != "" {
		if p, err := url.Parse(c.JWKSURL); err != nil || (p.Scheme != "http" && p.Scheme != "https") {
			errs = append(errs, fmt.Errorf("JWT_JWKS_URL %q: want an http(s) URL", c.JWKSURL))
		}
	}
	c.ShutdownGrace = duration(get, "GATEWAY_SHUTDOWN_GRACE", 15*time.Second, &errs)
	c.UpstreamTimeout = duration(get, "GATEWAY_UPSTREAM_TIMEOUT", 2*time.Second, &errs)
	c.MaxBodyBytes = int64(integer(get, "GATEWAY_MAX_BODY_BYTES", 2<<20, &errs))
	c.Limits = limits.Options{
		MaxDepth:      integer(get, "GATEWAY_MAX_DEPTH", 0, &errs),
		MaxAliases:    integer(get, "GATEWAY_MAX_ALIASES", 0, &errs),
		MaxRootFields: integer(get, "GATEWAY_MAX_ROOT_FIELDS", 0, &errs),
		MaxDirectives: integer(get, "GATEWAY_MAX_DIRECTIVES", 0, &errs),
		MaxTokens:     integer(get, "GATEWAY_MAX_TOKENS", 0, &errs),
		MaxCost:       integer(get, "GATEWAY_MAX_COST", 0, &errs),
	}
	if m, err := loaders.ParseMode(get("GATEWAY_MODE")); err != nil {
		errs = append(errs, fmt.Errorf("GATEWAY_MODE: %w", err))
	} else {
		c.Mode = m
	}
	if c.CursorSecret == "" {
		c.CursorSecret = "tutti-cursor:" + c.JWTSecret
	}
	// A name in the file that nothing reads is a mistake (REDIS_ULR would
	// quietly leave a replica on an in-process cache): say so.
	var unknown []string
	for k := range vals {
		if !asked[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		errs = append(errs, fmt.Errorf("config file: %s: no such variable (misspelt? GOGC and GOMEMLIMIT are read from the environment only)", strings.Join(unknown, ", ")))
	}
	return c, errors.Join(errs...)
}

// credentials matches the user information of a URL (scheme://user:pass@).
var credentials = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s"']*@`)

// RedactCredentials hides the user information of every URL in s
// (redis://u:secret@host → redis://xxxxx@host), for error messages that
// quote a configured URL.
func RedactCredentials(s string) string {
	return credentials.ReplaceAllString(s, "${1}xxxxx@")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func duration(get func(string) string, k string, def time.Duration, errs *[]error) time.Duration {
	v := get(k)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s %q: want a positive duration such as 2s", k, v))
		return def
	}
	return d
}

func integer(get func(string) string, k string, def int, errs *[]error) int {
	v := get(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		*errs = append(*errs, fmt.Errorf("%s %q: want a positive integer", k, v))
		return def
	}
	return n
}
