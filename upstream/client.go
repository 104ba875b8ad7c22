// Package upstream is the shared machinery of the gateway's REST clients:
// one Client per service (headers, deadlines per attempt and per call,
// bounded retries with jittered back-off under a retry budget, a circuit
// breaker, a bulkhead, size limits, JSON decoding, metrics), one error type
// with sentinels, batch helpers, and PolicyFromEnv for the per-service
// settings. It knows HTTP and JSON only. The sub-packages hold one service
// each: its wire types and typed methods (upstreams.md).
//
// A Client holds its service's breaker, bulkhead and retry budget, so the
// process makes one Client per service and shares it among all requests.
//
// Adding a service: a sub-package with a Service name constant, wire types
// that match the service's JSON (pointers where null or absence means
// something), a Client embedding *Client, and one method per call that
// fills a Call — Idempotent only where the contract says so, NotFound where
// a 404 answers "no such entity", OKStatus for the other 4xx the contract
// gives meaning to, mapped to the package's own sentinels — and uses Batch
// for key lists. Its tests run internal/rectest.CheckMethod on every method.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
)

// Call describes one upstream call for Do.
type Call struct {
	// Op names the call in errors, logs and observations: "get customer".
	Op string
	// Method is the HTTP method.
	Method string
	// Path is relative to the base URL, starts with "/", and is already
	// escaped: "/customers/" + url.PathEscape(id).
	Path string
	// Query is sent as the query string. Commas stay literal, so
	// comma-separated key lists read as upstreams.md writes them.
	Query url.Values
	// Body, when not nil, is sent as JSON.
	Body any
	// Header holds extra headers (Idempotency-Key). The client's own
	// headers win, and Authorization is never sent.
	Header http.Header
	// Idempotent allows retries. GETs are idempotent; POST and DELETE only
	// where upstreams.md says so (the service packages decide).
	Idempotent bool
	// NotFound says a 404 is an answer of the contract: Do returns an error
	// wrapping ErrNotFound. Otherwise a 404 is ErrBadResponse (a batch
	// endpoint answering 404 is a misrouted call, not "nothing found").
	NotFound bool
	// OKStatus lists statuses besides 2xx that are answers of the contract
	// (402, 409): Do returns no error, Meta.Status tells which, and the body
	// is decoded, leniently, into Meta.ErrBody.
	OKStatus []int
	// Keys is the number of keys the call asks for (1 for a single entity),
	// reported to the Observer.
	Keys int
}

// Meta describes an answer.
type Meta struct {
	Status int // HTTP status
	// MaxAge is Cache-Control max-age in seconds; 0 for no-store or
	// no-cache without max-age; -1 when absent.
	MaxAge int
	// ErrBody is the decoded body of an OKStatus answer, nil otherwise.
	ErrBody *ErrBody
}

// ErrBody is the {"error": "...", ...} body of a 4xx answer that the
// contract gives meaning to.
type ErrBody struct {
	Error string `json:"error"`
	SKU   string `json:"sku,omitempty"`
}

// ObservedCall describes one attempt, for Options.Observer.
type ObservedCall struct {
	Service  string
	Op       string
	Method   string
	Path     string // escaped path, without the query
	Query    string // the encoded query string
	Keys     int
	Status   int // 0 when no answer came
	Attempt  int // 1 for the first
	Duration time.Duration
	Err      error // the *Error of this attempt, nil on success
}

// Client calls one service. It is safe for concurrent use. Its circuit
// breaker, bulkhead and retry budget are its own: make one Client per
// service and share it.
type Client struct {
	o      Options
	base   string   // BaseURL without a trailing slash
	baseU  *url.URL // base, parsed
	rt     http.RoundTripper
	log    *slog.Logger
	br     *breaker // nil when Options.Breaker.Disabled
	slots  *semaphore.Weighted
	budget *retryBudget
	mx     *serviceMetrics // nil without Options.Metrics
}

// NewClient returns a client for one service; see Options for required
// fields and defaults.
func NewClient(o Options) (*Client, error) {
	base, err := o.validate()
	if err != nil {
		return nil, err
	}
	baseU, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	c := &Client{
		o:      o,
		base:   base,
		baseU:  baseU,
		rt:     o.Transport,
		log:    o.Logger.With("service", o.Service),
		slots:  semaphore.NewWeighted(int64(o.MaxConcurrent)),
		budget: newRetryBudget(o.RetryBudget, time.Now()),
	}
	c.br = newBreaker(o.Service, o.Breaker, c.breakerChanged)
	c.mx = o.Metrics.attach(c)
	return c, nil
}

// Service returns the service name given in Options.
func (c *Client) Service() string { return c.o.Service }

// State returns the circuit breaker's state: StateClosed ("closed"),
// StateHalfOpen ("half-open") or StateOpen ("open"); "closed" when the
// breaker is disabled. For readiness checks and dashboards.
func (c *Client) State() string { return stateName(c.br.state()) }

// breakerChanged runs inside the breaker's lock: quick things only.
func (c *Client) breakerChanged(from, to gobreaker.State) {
	level := slog.LevelInfo
	if to == gobreaker.StateOpen {
		level = slog.LevelWarn
	}
	c.log.LogAttrs(context.Background(), level, "upstream circuit breaker "+stateName(to),
		slog.String("from", stateName(from)), slog.String("to", stateName(to)))
	c.mx.transition(to)
}

// Fail returns an *Error of this client's service, for failures a service
// package finds in an answer Do accepted.
func (c *Client) Fail(op string, status int, err error) *Error {
	return &Error{Service: c.o.Service, Op: op, Status: status, Err: err}
}

// outcome is the result of one attempt.
type outcome struct {
	meta       Meta
	err        *Error
	retry      bool          // worth another attempt
	retryAfter time.Duration // from Retry-After; -1 when none
	// sends is how many times the request went out: net/http resends an
	// idempotent request once by itself when a reused connection fails
	// before any answer, and that resend is an attempt too.
	sends int
}

// Do executes call: it sends X-Api-Key, X-Request-Id (from ctx, when set),
// X-User-Id (from ctx, when Options.SendUserID and set), Accept and, with a
// body, Content-Type; bounds each attempt by AttemptTimeout and the whole by
// OverallTimeout and ctx; retries an Idempotent call on transport failures,
// 429, 500, 502, 503 and 504 up to MaxAttempts with jittered exponential
// back-off while the RetryBudget allows, honouring Retry-After on 429 and
// 503 when it fits; and decodes a 2xx JSON body into out (nil out: the body
// is discarded). Failures are *Error.
//
// Before any request, Do fails at once with ErrCircuitOpen while the
// breaker is open, and waits for a bulkhead slot (MaxConcurrent) no longer
// than ctx and OverallTimeout allow, else fails with ErrBulkheadFull. A
// retry the breaker refuses (it opened meanwhile) or the budget refuses
// ends the call with the last attempt's error.
func (c *Client) Do(ctx context.Context, call Call, out any) (Meta, error) {
	start := time.Now()
	meta, attempted, err := c.do(ctx, call, out)
	c.mx.call(err, attempted, time.Since(start))
	return meta, err
}

// do is Do; attempted reports whether a request was tried at all.
func (c *Client) do(ctx context.Context, call Call, out any) (_ Meta, attempted bool, _ error) {
	u, body, err := c.prepare(call)
	if err != nil {
		return Meta{}, false, err
	}
	if ctx.Err() != nil {
		return Meta{}, false, c.Fail(call.Op, 0, contextFailure(ctx))
	}
	if c.br.open() {
		return Meta{}, false, c.circuitOpen(call)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.o.OverallTimeout, errOverallTimeout)
	defer cancel()
	if err := c.slots.Acquire(ctx, 1); err != nil {
		return Meta{}, false, c.Fail(call.Op, 0, &failure{class: ErrUnavailable, detail: "bulkhead full",
			causes: []error{ErrBulkheadFull, context.Cause(ctx)}})
	}
	c.mx.addInFlight(1)
	defer func() {
		c.slots.Release(1)
		c.mx.addInFlight(-1)
	}()

	maxAttempts := 1
	if call.Idempotent {
		maxAttempts = c.o.MaxAttempts
	}
	var last outcome
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return Meta{}, attempt > 1, c.Fail(call.Op, 0, contextFailure(ctx))
		}
		done, err := c.br.allow()
		if err != nil {
			if attempt == 1 {
				return Meta{}, false, c.circuitOpen(call)
			}
			return last.meta, true, last.err
		}
		start := time.Now()
		if attempt == 1 {
			c.budget.deposit(start)
		} else {
			c.mx.retry()
		}
		oc := c.attempt(ctx, call, u, body, out)
		done(verdict(errors.Is(ctx.Err(), context.Canceled), oc))
		c.observe(call, u, attempt, start, oc)
		// A resend by net/http (a reused connection failed before any
		// answer) is an attempt the service saw: it counts against the
		// attempts, the retry budget and the retry metrics.
		for range oc.sends - 1 {
			attempt++
			c.mx.retry()
			c.budget.withdraw(time.Now())
		}
		if oc.err == nil {
			if r := metaRecordFrom(ctx); r != nil {
				r.add(oc.meta)
			}
			return oc.meta, true, nil
		}
		last = oc
		if !oc.retry || attempt >= maxAttempts {
			return oc.meta, true, oc.err
		}
		wait, ok := c.wait(ctx, attempt, oc.retryAfter)
		if !ok {
			return oc.meta, true, oc.err
		}
		if !c.budget.withdraw(time.Now()) {
			c.mx.retryDenied()
			c.log.LogAttrs(ctx, slog.LevelDebug, "upstream retry denied by the retry budget",
				slog.String("op", call.Op), slog.Int("attempt", attempt),
				slog.String("err", oc.err.Error()), slog.String("request_id", RequestID(ctx)))
			return oc.meta, true, oc.err
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "upstream retry",
			slog.String("op", call.Op), slog.Int("attempt", attempt),
			slog.Int("status", oc.err.Status), slog.String("err", oc.err.Error()),
			slog.Duration("wait", wait), slog.String("request_id", RequestID(ctx)))
		if !sleep(ctx, wait) {
			return oc.meta, true, oc.err
		}
	}
}

// circuitOpen is the error of a call the breaker refused.
func (c *Client) circuitOpen(call Call) *Error {
	return c.Fail(call.Op, 0, &failure{class: ErrUnavailable, detail: "circuit open", causes: []error{ErrCircuitOpen}})
}

// prepare builds the URL and encodes the body once for all attempts.
func (c *Client) prepare(call Call) (*url.URL, []byte, error) {
	if !strings.HasPrefix(call.Path, "/") {
		return nil, nil, c.Fail(call.Op, 0, &failure{step: "build request", class: errInvalidCall, detail: "path must start with /"})
	}
	u, err := c.url(call.Path)
	if err != nil {
		return nil, nil, c.Fail(call.Op, 0, &failure{step: "build request", class: errInvalidCall, detail: "invalid path", causes: []error{err}})
	}
	if len(call.Query) > 0 {
		u.RawQuery = strings.ReplaceAll(call.Query.Encode(), "%2C", ",")
	}
	var body []byte
	if call.Body != nil {
		if body, err = json.Marshal(call.Body); err != nil {
			return nil, nil, c.Fail(call.Op, 0, &failure{step: "encode body", class: errInvalidCall, causes: []error{err}})
		}
	}
	return u, body, nil
}

// url is the base URL followed by path. A path of letters, digits, "-._~"
// and "/" (every path the service packages build from this contract's
// keys) reads the same escaped and not, so it is appended to the parsed
// base as it is; anything else goes through url.Parse, whose answer is
// the same (TestURLFastPathAgreesWithParse).
func (c *Client) url(path string) (*url.URL, error) {
	if c.baseU.RawPath == "" && madeOf(path, "-._~/") {
		u := *c.baseU
		u.Path += path
		return &u, nil
	}
	return url.Parse(c.base + path)
}

// attempt makes one request and classifies what came back.
// attempt sends the request once — as far as this client decides: it also
// counts the resend net/http makes by itself (outcome.sends).
func (c *Client) attempt(ctx context.Context, call Call, u *url.URL, body []byte, out any) outcome {
	var conns atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { conns.Add(1) },
	})
	oc := c.send(ctx, call, u, body, out)
	oc.sends = max(1, int(conns.Load()))
	return oc
}

func (c *Client) send(ctx context.Context, call Call, u *url.URL, body []byte, out any) outcome {
	actx, cancel := context.WithTimeout(ctx, c.o.AttemptTimeout)
	defer cancel()

	// For calls made once, learn whether the request left in full: a failure
	// after that leaves the outcome unknown.
	var written atomic.Bool
	if !call.Idempotent {
		actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
			WroteRequest: func(i httptrace.WroteRequestInfo) {
				if i.Err == nil {
					written.Store(true)
				}
			},
		})
	}

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The URL was parsed once for all attempts (prepare): the request
	// takes it as it is rather than printing and parsing it again.
	req, err := http.NewRequestWithContext(actx, call.Method, "", rd)
	if err != nil {
		return outcome{err: c.Fail(call.Op, 0, &failure{step: "build request", class: errInvalidCall, detail: "invalid request", causes: []error{err}})}
	}
	req.URL, req.Host = u, u.Host
	if body != nil {
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	c.setHeaders(ctx, req, call, body != nil)

	resp, err := c.rt.RoundTrip(req)
	if err == nil && (resp == nil || resp.Body == nil) {
		if resp != nil {
			err = errors.New("transport answered without a body")
		} else {
			err = errors.New("transport answered nothing")
		}
	}
	if err != nil {
		return c.transportFailure(ctx, call, "send request", err, 0, written.Load())
	}
	defer resp.Body.Close()

	meta := Meta{Status: resp.StatusCode, MaxAge: maxAge(resp.Header)}
	st := resp.StatusCode
	switch {
	case st >= 200 && st < 300:
		if out == nil {
			drain(resp.Body)
			return outcome{meta: meta}
		}
		data, oc := c.readBody(ctx, call, resp, written.Load())
		if oc != nil {
			oc.meta = meta
			return *oc
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return outcome{meta: meta, err: c.Fail(call.Op, st, &failure{step: "decode body", class: ErrBadResponse, detail: "empty body"})}
		}
		if err := Decode(data, out); err != nil {
			return outcome{meta: meta, err: c.Fail(call.Op, st, &failure{step: "decode body", class: ErrBadResponse, detail: describeJSON(err), causes: []error{err}})}
		}
		return outcome{meta: meta}
	case slices.Contains(call.OKStatus, st):
		data, oc := c.readBody(ctx, call, resp, written.Load())
		if oc != nil {
			oc.meta = meta
			return *oc
		}
		eb := &ErrBody{}
		_ = json.Unmarshal(data, eb) // lenient: the status carries the meaning
		meta.ErrBody = eb
		return outcome{meta: meta}
	}

	drain(resp.Body)
	oc := outcome{meta: meta, retryAfter: -1}
	switch {
	case st == http.StatusNotFound && call.NotFound:
		oc.err = c.Fail(call.Op, st, ErrNotFound)
	case st == http.StatusTooManyRequests || st >= 500:
		oc.err = c.Fail(call.Op, st, ErrUnavailable)
		// The contract lists 429, 500, 502, 503 and 504 as answers any
		// service may give and calls GETs safe to retry: each of them is
		// retried (within MaxAttempts and the retry budget, which bounds
		// the extra load on a service already failing). Another 5xx
		// (501, 505, ...) says the request itself cannot be served.
		switch st {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			oc.retry = true
		}
		if st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
			oc.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	default:
		oc.err = c.Fail(call.Op, st, ErrBadResponse)
	}
	return oc
}

func (c *Client) setHeaders(ctx context.Context, req *http.Request, call Call, hasBody bool) {
	for k, v := range call.Header {
		req.Header[http.CanonicalHeaderKey(k)] = slices.Clone(v)
	}
	req.Header.Del("Authorization")
	if u := req.URL.User; u != nil {
		// Credentials in the base URL are the service's own: Basic auth,
		// as http.Client sends them (the client's token never goes up).
		p, _ := u.Password()
		req.SetBasicAuth(u.Username(), p)
	}
	req.Header.Set("X-Api-Key", c.o.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tutti-gateway")
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := RequestID(ctx); id != "" && validHeaderValue(id) {
		req.Header.Set("X-Request-Id", id)
	}
	req.Header.Del("X-User-Id")
	if c.o.SendUserID {
		if sub := UserID(ctx); sub != "" && validHeaderValue(sub) {
			req.Header.Set("X-User-Id", sub)
		}
	}
}

// readBody reads a body up to MaxBodyBytes. A body over the limit is
// ErrBadResponse; a failure while reading is a transport failure.
func (c *Client) readBody(ctx context.Context, call Call, resp *http.Response, written bool) ([]byte, *outcome) {
	limit := c.o.MaxBodyBytes
	tooBig := func() *outcome {
		return &outcome{err: c.Fail(call.Op, resp.StatusCode, &failure{step: "read body", class: ErrBadResponse, detail: "body over size limit"})}
	}
	if resp.ContentLength > limit {
		return nil, tooBig()
	}
	var data []byte
	var err error
	if n := resp.ContentLength; n >= 0 {
		data, err = readKnown(resp.Body, n, limit)
	} else {
		data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	}
	if err != nil {
		oc := c.transportFailure(ctx, call, "read body", err, resp.StatusCode, written)
		return nil, &oc
	}
	if int64(len(data)) > limit {
		return nil, tooBig()
	}
	return data, nil
}

// readKnown reads a body whose length n (at most limit) is announced, into
// one buffer of that size (io.ReadAll would grow one from 512 bytes), and on
// to its end, so the transport sees the end and can reuse the connection.
func readKnown(r io.Reader, n, limit int64) ([]byte, error) {
	data := make([]byte, n+1)
	m, err := io.ReadFull(r, data)
	switch {
	case int64(m) == n && (err == io.EOF || err == io.ErrUnexpectedEOF):
		return data[:n], nil
	case err == nil:
		// Longer than announced (only a transport that does not frame
		// bodies lets that through): read on, as far as the limit.
		more, err := io.ReadAll(io.LimitReader(r, limit-n))
		return append(data, more...), err
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	}
	return nil, err
}

// transportFailure classifies an error of the transport. The message keeps
// to a fixed vocabulary: the underlying error names the URL and address.
func (c *Client) transportFailure(ctx context.Context, call Call, step string, err error, status int, written bool) outcome {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	f := &failure{step: step, class: ErrUnavailable, causes: []error{err}}
	retry := true
	if ctx.Err() != nil {
		// The caller's deadline or cancellation, not this attempt's.
		f.detail = contextDetail(ctx)
		f.causes = append(f.causes, context.Cause(ctx))
		retry = false
	} else {
		f.detail = describeTransport(err)
	}
	if written && !call.Idempotent {
		f.detail += " after the request was sent"
		f.causes = append(f.causes, ErrOutcomeUnknown)
	}
	return outcome{err: c.Fail(call.Op, status, f), retry: retry, retryAfter: -1}
}

// wait returns how long to wait before the next attempt, or false when
// the call should stop: Retry-After too long, or the wait would pass ctx's
// deadline.
func (c *Client) wait(ctx context.Context, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	var d time.Duration
	if retryAfter >= 0 {
		if retryAfter > c.o.MaxRetryAfter {
			return 0, false
		}
		d = retryAfter
	} else {
		d = backoff(c.o.BaseBackoff, c.o.MaxBackoff, attempt)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return 0, false
	}
	return d, true
}

func (c *Client) observe(call Call, u *url.URL, attempt int, start time.Time, oc outcome) {
	if c.o.Observer == nil {
		return
	}
	oe := ObservedCall{
		Service:  c.o.Service,
		Op:       call.Op,
		Method:   call.Method,
		Path:     call.Path,
		Query:    u.RawQuery,
		Keys:     call.Keys,
		Status:   oc.meta.Status,
		Attempt:  attempt,
		Duration: time.Since(start),
	}
	if oc.err != nil {
		oe.Err = oc.err
		oe.Status = oc.err.Status
	}
	c.o.Observer(oe)
}

// drain reads a little of an unused body so the connection can be reused.
func drain(r io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10))
}

// contextFailure is the Err of a call whose ctx ended before an attempt.
func contextFailure(ctx context.Context) error {
	return &failure{class: ErrUnavailable, detail: contextDetail(ctx), causes: []error{context.Cause(ctx)}}
}

func contextDetail(ctx context.Context) string {
	switch {
	case errors.Is(context.Cause(ctx), errOverallTimeout):
		return "overall timeout"
	case ctx.Err() == context.DeadlineExceeded:
		return "deadline exceeded"
	}
	return "canceled"
}
