package upstream

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerSettings configure a Client's circuit breaker (sony/gobreaker/v2).
//
// Every attempt is counted. Only failures of the class ErrUnavailable count
// as failures: connection refused or reset, timeouts (per attempt, overall
// or the caller's deadline), 429 and 5xx. An answer, even a 404, a 400 or a
// body that is not JSON, shows the service is up and counts as a success. An
// attempt cut short by the caller's cancellation counts as neither.
//
// Closed, the breaker opens when ConsecutiveFailures attempts in a row
// failed, or when at least MinRequests attempts finished within Window and
// FailureRatio of them failed. Open, it refuses every call at once with
// ErrCircuitOpen for OpenDuration, then turns half-open: up to
// HalfOpenProbes attempts go through; that many successes in a row close
// it, one failure opens it again. A call refused in the half-open state
// (probes all out) also fails with ErrCircuitOpen.
type BreakerSettings struct {
	// Disabled turns the breaker off: every call goes through and State
	// reports "closed".
	Disabled bool
	// ConsecutiveFailures opens the breaker after that many failed attempts
	// in a row (about three calls with the default MaxAttempts). Default 10.
	ConsecutiveFailures int
	// FailureRatio, in (0, 1], opens the breaker when that share of the
	// attempts in Window failed, once there were MinRequests of them.
	// Defaults 0.5 and 20.
	FailureRatio float64
	MinRequests  int
	// Window is the rolling window FailureRatio is measured over, in ten
	// buckets. Default 10s.
	Window time.Duration
	// OpenDuration is how long the breaker stays open before probing.
	// Default 5s.
	OpenDuration time.Duration
	// HalfOpenProbes is how many attempts may be out at once while
	// half-open, and how many successes in a row close it. Default 3.
	HalfOpenProbes int
}

// The defaults of BreakerSettings: Hystrix's classic ratio rule (50% of at
// least 20 requests in 10s, 5s open), plus a consecutive-failure rule so a
// dead service with little traffic is caught too.
const (
	DefaultBreakerConsecutiveFailures = 10
	DefaultBreakerFailureRatio        = 0.5
	DefaultBreakerMinRequests         = 20
	DefaultBreakerWindow              = 10 * time.Second
	DefaultBreakerOpenDuration        = 5 * time.Second
	DefaultBreakerHalfOpenProbes      = 3
)

// The states State reports.
const (
	StateClosed   = "closed"
	StateHalfOpen = "half-open"
	StateOpen     = "open"
)

func (s BreakerSettings) withDefaults() BreakerSettings {
	if s.ConsecutiveFailures <= 0 {
		s.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if s.FailureRatio <= 0 {
		s.FailureRatio = DefaultBreakerFailureRatio
	}
	if s.MinRequests <= 0 {
		s.MinRequests = DefaultBreakerMinRequests
	}
	if s.Window <= 0 {
		s.Window = DefaultBreakerWindow
	}
	if s.OpenDuration <= 0 {
		s.OpenDuration = DefaultBreakerOpenDuration
	}
	if s.HalfOpenProbes <= 0 {
		s.HalfOpenProbes = DefaultBreakerHalfOpenProbes
	}
	return s
}

// What an attempt tells the breaker: nil is a success.
var (
	errBreakerFailure = errors.New("upstream failure")
	errBreakerIgnore  = errors.New("not the service's doing")
)

// breaker wraps gobreaker's two-step breaker: Do asks before each attempt
// and reports after it. A nil *breaker is a disabled one.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

func newBreaker(name string, s BreakerSettings, onChange func(from, to gobreaker.State)) *breaker {
	if s.Disabled {
		return nil
	}
	bucket := max(s.Window/10, time.Millisecond)
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(s.HalfOpenProbes),
		Interval:     max(s.Window, bucket),
		BucketPeriod: bucket,
		Timeout:      s.OpenDuration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if int64(c.ConsecutiveFailures) >= int64(s.ConsecutiveFailures) {
				return true
			}
			done := int64(c.TotalSuccesses) + int64(c.TotalFailures)
			return done >= int64(s.MinRequests) && float64(c.TotalFailures) >= s.FailureRatio*float64(done)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) { onChange(from, to) },
		IsExcluded:    func(err error) bool { return errors.Is(err, errBreakerIgnore) },
	})}
}

// open reports whether calls are refused now (open, not yet due to probe).
func (b *breaker) open() bool {
	return b != nil && b.cb.State() == gobreaker.StateOpen
}

// allow asks for one attempt; done reports its verdict (see verdict).
func (b *breaker) allow() (done func(error), err error) {
	if b == nil {
		return func(error) {}, nil
	}
	return b.cb.Allow()
}

func (b *breaker) state() gobreaker.State {
	if b == nil {
		return gobreaker.StateClosed
	}
	return b.cb.State()
}

// stateName is State's word for s.
func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateClosed
}

// verdict is what an attempt's outcome tells the breaker: nil (the service
// answered), errBreakerFailure (ErrUnavailable) or errBreakerIgnore (the
// caller gave up before any answer, or the call was never valid).
func verdict(callerCanceled bool, oc outcome) error {
	switch {
	case oc.err == nil:
		return nil
	case errors.Is(oc.err, errInvalidCall):
		return errBreakerIgnore
	case !errors.Is(oc.err, ErrUnavailable):
		return nil
	case callerCanceled && oc.err.Status == 0:
		return errBreakerIgnore
	}
	return errBreakerFailure
}
