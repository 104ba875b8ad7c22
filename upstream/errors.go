package upstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The classes of upstream failure. Every *Error wraps exactly one of
// ErrNotFound, ErrUnavailable and ErrBadResponse, or a sentinel of a service
// package that stands for an answer the contract gives meaning to (for
// example orders.ErrInvalidTransition), so callers branch with errors.Is.
// ErrCircuitOpen, ErrBulkheadFull and ErrOutcomeUnknown refine
// ErrUnavailable: they come with it, never instead of it.
var (
	// ErrNotFound is a 404 answer on a call that addresses one entity.
	// Callers usually turn it into null.
	ErrNotFound = errors.New("not found")

	// ErrUnavailable means the service could not answer: connection refused
	// or reset, timeout, 429 or 5xx (after the retries the call allows).
	ErrUnavailable = errors.New("unavailable")

	// ErrBadResponse means the service answered something unusable: a 3xx, a
	// 4xx the contract gives no meaning to for that call, a body that is not
	// the JSON the contract says, or a body over the size limit.
	ErrBadResponse = errors.New("bad response")

	// ErrOutcomeUnknown is found next to ErrUnavailable when a call that is
	// made once (Call.Idempotent false) failed after its request was fully
	// written: the service may have acted on it. Without it, such a failure
	// happened before the request left (nothing was sent) or the service
	// answered with a status.
	ErrOutcomeUnknown = errors.New("outcome unknown")

	// ErrCircuitOpen is found, next to ErrUnavailable, in the error of a
	// call that the client refused without asking the service: its circuit
	// breaker is open (or half-open with every probe already out). It is an
	// ErrUnavailable itself: errors.Is(ErrCircuitOpen, ErrUnavailable).
	// Nothing was sent.
	ErrCircuitOpen error = &subclass{msg: "circuit open", parent: ErrUnavailable}

	// ErrBulkheadFull is found, next to ErrUnavailable, in the error of a
	// call that waited for one of the service's Options.MaxConcurrent slots
	// until its ctx or overall deadline ended. It is an ErrUnavailable
	// itself. Nothing was sent.
	ErrBulkheadFull error = &subclass{msg: "bulkhead full", parent: ErrUnavailable}

	// errInvalidCall marks a call Do could not even build (a bug in the
	// caller, not an upstream failure).
	errInvalidCall = errors.New("invalid call")

	// errOverallTimeout is the cause of the context Do bounds a whole call
	// with (Options.OverallTimeout). It is a context.DeadlineExceeded.
	errOverallTimeout = fmt.Errorf("overall timeout: %w", context.DeadlineExceeded)
)

// subclass is a sentinel that is also another: ErrCircuitOpen is an
// ErrUnavailable.
type subclass struct {
	msg    string
	parent error
}

func (s *subclass) Error() string { return s.msg }
func (s *subclass) Unwrap() error { return s.parent }

// Error is every failure of an upstream call.
//
// Its message is a lowercase chain such as
// "shipping: get shipment: status 503: unavailable". It never holds URLs,
// API keys or response bodies; the underlying transport or JSON error stays
// reachable with errors.As for logs.
type Error struct {
	Service string // "customers", "orders", ...
	Op      string // what was being done, e.g. "get customer"
	Status  int    // HTTP status of the answer; 0 when no answer came
	Err     error  // wraps a sentinel; never nil for errors built by this package
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the wrapped error, so errors.Is finds the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// ServiceOf returns the Service of the first *Error in err's chain, or ""
// when there is none.
func ServiceOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Service
	}
	return ""
}

// failure is the Err of failures found by Do: a step ("send request",
// "read body", "decode body"; may be empty), the sentinel class, a safe
// detail, and the underlying causes. Only step, class and detail appear in
// the message; the causes are reachable through Unwrap.
type failure struct {
	step   string
	class  error
	detail string
	causes []error
}

func (f *failure) Error() string {
	parts := make([]string, 0, 3)
	if f.step != "" {
		parts = append(parts, f.step)
	}
	parts = append(parts, f.class.Error())
	if f.detail != "" {
		parts = append(parts, f.detail)
	}
	return strings.Join(parts, ": ")
}

func (f *failure) Unwrap() []error {
	return append([]error{f.class}, f.causes...)
}
