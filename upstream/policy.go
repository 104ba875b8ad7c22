package upstream

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Policy is how a Client calls its service, apart from where: timeouts,
// retries and their budget, the breaker, the bulkhead, the body limit.
// Zero fields mean "the default of Options"; Apply copies the others onto
// Options. PolicyFromEnv reads one per service.
type Policy struct {
	AttemptTimeout time.Duration
	OverallTimeout time.Duration
	MaxAttempts    int // 1 + retries; 1 is "no retries"
	BaseBackoff    time.Duration
	MaxBackoff     time.Duration
	MaxRetryAfter  time.Duration
	RetryBudget    RetryBudget
	Breaker        BreakerSettings
	MaxConcurrent  int
	MaxBodyBytes   int64
}

// Apply copies the fields p sets (non-zero) onto o, leaving the others as
// they are: set o's process-wide values first (AttemptTimeout from
// GATEWAY_UPSTREAM_TIMEOUT), then Apply the service's policy.
func (p Policy) Apply(o *Options) {
	set(&o.AttemptTimeout, p.AttemptTimeout)
	set(&o.OverallTimeout, p.OverallTimeout)
	set(&o.MaxAttempts, p.MaxAttempts)
	set(&o.BaseBackoff, p.BaseBackoff)
	set(&o.MaxBackoff, p.MaxBackoff)
	set(&o.MaxRetryAfter, p.MaxRetryAfter)
	set(&o.RetryBudget.Ratio, p.RetryBudget.Ratio)
	set(&o.RetryBudget.MinPerSecond, p.RetryBudget.MinPerSecond)
	set(&o.RetryBudget.Window, p.RetryBudget.Window)
	if p.Breaker.Disabled {
		o.Breaker.Disabled = true
	}
	set(&o.Breaker.ConsecutiveFailures, p.Breaker.ConsecutiveFailures)
	set(&o.Breaker.FailureRatio, p.Breaker.FailureRatio)
	set(&o.Breaker.MinRequests, p.Breaker.MinRequests)
	set(&o.Breaker.Window, p.Breaker.Window)
	set(&o.Breaker.OpenDuration, p.Breaker.OpenDuration)
	set(&o.Breaker.HalfOpenProbes, p.Breaker.HalfOpenProbes)
	set(&o.MaxConcurrent, p.MaxConcurrent)
	set(&o.MaxBodyBytes, p.MaxBodyBytes)
}

func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// PolicyFromEnv reads the policy of one service from variables named
// UPSTREAM_<NAME>_..., NAME being service in upper case with '-' as '_'
// (orders → UPSTREAM_ORDERS_TIMEOUT). getenv is os.Getenv, or a lookup
// that also sees the config file; an empty value means unset, and an unset
// variable leaves its field zero, that is, the default:
//
//	UPSTREAM_<NAME>_TIMEOUT                      one attempt                    2s (or GATEWAY_UPSTREAM_TIMEOUT)
//	UPSTREAM_<NAME>_OVERALL_TIMEOUT              whole call, retries included   5s, at least TIMEOUT
//	UPSTREAM_<NAME>_RETRIES                      retries of safe calls, 0-10    2
//	UPSTREAM_<NAME>_BACKOFF_BASE                 first back-off (full jitter)   25ms
//	UPSTREAM_<NAME>_BACKOFF_MAX                  back-off cap                   250ms
//	UPSTREAM_<NAME>_MAX_RETRY_AFTER              longest Retry-After waited     2s
//	UPSTREAM_<NAME>_RETRY_BUDGET_RATIO           retries ÷ calls, 0.2 or 20%    0.2
//	UPSTREAM_<NAME>_RETRY_BUDGET_MIN_PER_SEC     retries a second always left   10
//	UPSTREAM_<NAME>_RETRY_BUDGET_WINDOW          window of the ratio            10s
//	UPSTREAM_<NAME>_MAX_CONCURRENT               bulkhead: calls at once        256
//	UPSTREAM_<NAME>_MAX_BODY_BYTES               response body limit            8388608
//	UPSTREAM_<NAME>_BREAKER_ENABLED              true or false                  true
//	UPSTREAM_<NAME>_BREAKER_CONSECUTIVE_FAILURES failed attempts in a row       10
//	UPSTREAM_<NAME>_BREAKER_FAILURE_RATIO        share failed in the window     0.5
//	UPSTREAM_<NAME>_BREAKER_MIN_REQUESTS         attempts before the ratio acts 20
//	UPSTREAM_<NAME>_BREAKER_WINDOW               window of the ratio            10s
//	UPSTREAM_<NAME>_BREAKER_OPEN_DURATION        open before probing            5s
//	UPSTREAM_<NAME>_BREAKER_HALF_OPEN_PROBES     probes; successes to close     3
//
// Durations are Go durations ("300ms", "2s"). Every problem is reported,
// joined, each naming its variable and what it wants.
func PolicyFromEnv(service string, getenv func(string) string) (Policy, error) {
	name, err := envName(service)
	if err != nil {
		return Policy{}, err
	}
	r := envReader{prefix: "UPSTREAM_" + name + "_", getenv: getenv}
	var p Policy
	p.AttemptTimeout = r.duration("TIMEOUT", time.Millisecond, time.Hour)
	p.OverallTimeout = r.duration("OVERALL_TIMEOUT", time.Millisecond, time.Hour)
	if n, ok := r.integer("RETRIES", 0, 10); ok {
		p.MaxAttempts = n + 1
	}
	p.BaseBackoff = r.duration("BACKOFF_BASE", time.Millisecond, time.Minute)
	p.MaxBackoff = r.duration("BACKOFF_MAX", time.Millisecond, time.Minute)
	p.MaxRetryAfter = r.duration("MAX_RETRY_AFTER", time.Millisecond, time.Hour)
	p.RetryBudget.Ratio = r.ratio("RETRY_BUDGET_RATIO")
	p.RetryBudget.MinPerSecond = r.float("RETRY_BUDGET_MIN_PER_SEC", 1e6)
	p.RetryBudget.Window = r.duration("RETRY_BUDGET_WINDOW", 100*time.Millisecond, time.Hour)
	p.MaxConcurrent, _ = r.integer("MAX_CONCURRENT", 1, 1<<20)
	if n, ok := r.integer("MAX_BODY_BYTES", 1, 1<<30); ok {
		p.MaxBodyBytes = int64(n)
	}
	if on, ok := r.boolean("BREAKER_ENABLED"); ok {
		p.Breaker.Disabled = !on
	}
	p.Breaker.ConsecutiveFailures, _ = r.integer("BREAKER_CONSECUTIVE_FAILURES", 1, 1<<20)
	p.Breaker.FailureRatio = r.ratio("BREAKER_FAILURE_RATIO")
	p.Breaker.MinRequests, _ = r.integer("BREAKER_MIN_REQUESTS", 1, 1<<20)
	p.Breaker.Window = r.duration("BREAKER_WINDOW", 100*time.Millisecond, time.Hour)
	p.Breaker.OpenDuration = r.duration("BREAKER_OPEN_DURATION", time.Millisecond, time.Hour)
	p.Breaker.HalfOpenProbes, _ = r.integer("BREAKER_HALF_OPEN_PROBES", 1, 1000)

	if p.AttemptTimeout > 0 && p.OverallTimeout > 0 && p.OverallTimeout < p.AttemptTimeout {
		r.fail("%sOVERALL_TIMEOUT %s is shorter than %sTIMEOUT %s: one attempt could never use its time",
			r.prefix, p.OverallTimeout, r.prefix, p.AttemptTimeout)
	}
	if p.BaseBackoff > 0 && p.MaxBackoff > 0 && p.MaxBackoff < p.BaseBackoff {
		r.fail("%sBACKOFF_MAX %s is shorter than %sBACKOFF_BASE %s", r.prefix, p.MaxBackoff, r.prefix, p.BaseBackoff)
	}
	if err := errors.Join(r.errs...); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// envName turns a service name into its variables' infix.
func envName(service string) (string, error) {
	if service == "" {
		return "", errors.New("upstream policy: service name is empty")
	}
	var b strings.Builder
	for _, c := range service {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return "", fmt.Errorf("upstream policy %q: a service name holds letters, digits, '-' and '_' only", service)
		}
	}
	return b.String(), nil
}

// envReader reads variables under one prefix and collects what is wrong.
type envReader struct {
	prefix string
	getenv func(string) string
	errs   []error
}

func (r *envReader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

func (r *envReader) get(key string) (string, bool) {
	v := strings.TrimSpace(r.getenv(r.prefix + key))
	return v, v != ""
}

func (r *envReader) duration(key string, lo, hi time.Duration) time.Duration {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail("%s%s %q: want a duration from %s to %s, such as 2s or 300ms", r.prefix, key, v, lo, hi)
		return 0
	}
	return d
}

func (r *envReader) integer(key string, lo, hi int) (int, bool) {
	v, ok := r.get(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail("%s%s %q: want a whole number from %d to %d", r.prefix, key, v, lo, hi)
		return 0, false
	}
	return n, true
}

func (r *envReader) float(key string, hi float64) float64 {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > hi {
		r.fail("%s%s %q: want a number above 0 and at most %g", r.prefix, key, v, hi)
		return 0
	}
	return f
}

// ratio reads a share in (0, 1]: "0.2" or "20%".
func (r *envReader) ratio(key string) float64 {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	num, scale := v, 1.0
	if s, pct := strings.CutSuffix(v, "%"); pct {
		num, scale = strings.TrimSpace(s), 100
	}
	f, err := strconv.ParseFloat(num, 64)
	f /= scale
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1 {
		r.fail("%s%s %q: want a share above 0 and at most 1, such as 0.2 or 20%%", r.prefix, key, v)
		return 0
	}
	return f
}

func (r *envReader) boolean(key string) (bool, bool) {
	v, ok := r.get(key)
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail("%s%s %q: want true or false", r.prefix, key, v)
		return false, false
	}
	return b, true
}
