package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
)

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// withMetrics attaches fresh metrics on a registry of their own.
func withMetrics(reg *prometheus.Registry) func(*upstream.Options) {
	m := upstream.NewMetrics(reg)
	return func(o *upstream.Options) { o.Metrics = m }
}

// metric returns the value of the series name{labels} in reg (a
// histogram's sample count), or 0 when there is no such series.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func TestCircuitBreaker(t *testing.T) {
	trip := func(t *testing.T, c *upstream.Client) {
		t.Helper()
		for i := 0; c.State() != upstream.StateOpen; i++ {
			if i > 100 {
				t.Fatalf("breaker still %s after %d failing calls", c.State(), i)
			}
			_, _ = c.Do(context.Background(), get, nil)
		}
	}

	t.Run("sustained failures open it, and open it answers at once without asking the service", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(503), func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 5, OpenDuration: time.Minute}
		})
		if c.State() != upstream.StateClosed {
			t.Fatalf("a new client's breaker is %s", c.State())
		}
		trip(t, c)
		if n := s.Count(); n != 5 {
			t.Errorf("opened after %d failed attempts, want 5", n)
		}
		var took []time.Duration
		for range 50 {
			start := time.Now()
			_, err := c.Do(context.Background(), get, nil)
			took = append(took, time.Since(start))
			var ue *upstream.Error
			if !errors.Is(err, upstream.ErrCircuitOpen) || !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &ue) || ue.Status != 0 {
				t.Fatalf("err = %v, want ErrCircuitOpen and ErrUnavailable", err)
			}
			if got := err.Error(); got != "things: get thing: unavailable: circuit open" {
				t.Errorf("err = %q", got)
			}
		}
		if n := s.Count(); n != 5 {
			t.Errorf("the server saw %d requests, want the 5 before it opened", n)
		}
		// Every answer is immediate; a scheduler or GC pause may stretch
		// one or two on a loaded machine, so the 95th percentile is judged.
		slices.Sort(took)
		if p95 := took[len(took)*95/100]; p95 >= 5*time.Millisecond {
			t.Errorf("an open breaker answered in %v at the 95th percentile (slowest %v), want under 5ms", p95, took[len(took)-1])
		}
	})

	t.Run("after the open period it lets probes through, and successful probes close it", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(503), func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: 100 * time.Millisecond, HalfOpenProbes: 2}
		})
		trip(t, c)
		s.Handle(rectest.Status(204))
		opened := time.Now()
		waitFor(t, "half-open", func() bool { return c.State() == upstream.StateHalfOpen })
		if el := time.Since(opened); el < 90*time.Millisecond {
			t.Errorf("half-open after %v, before the open period of 100ms", el)
		}
		before := s.Count()
		for i := range 2 {
			if _, err := c.Do(context.Background(), get, nil); err != nil {
				t.Fatalf("probe %d: %v", i+1, err)
			}
		}
		if c.State() != upstream.StateClosed {
			t.Errorf("after 2 successful probes the breaker is %s, want closed", c.State())
		}
		if n := s.Count() - before; n != 2 {
			t.Errorf("%d probes reached the server, want 2", n)
		}
	})

	t.Run("a failed probe opens it again", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(503), func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: 100 * time.Millisecond}
		})
		trip(t, c)
		waitFor(t, "half-open", func() bool { return c.State() == upstream.StateHalfOpen })
		before := s.Count()
		if _, err := c.Do(context.Background(), get, nil); errors.Is(err, upstream.ErrCircuitOpen) || !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("probe: err = %v, want the service's 503", err)
		}
		if c.State() != upstream.StateOpen || s.Count() != before+1 {
			t.Errorf("after a failed probe: state %s, %d requests; want open, 1", c.State(), s.Count()-before)
		}
	})

	t.Run("while half-open, calls beyond the probes are refused at once", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(503), func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 2, OpenDuration: 50 * time.Millisecond, HalfOpenProbes: 1}
		})
		trip(t, c)
		arrived := make(chan struct{})
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			s.Hang(w, r)
		})
		waitFor(t, "half-open", func() bool { return c.State() == upstream.StateHalfOpen })
		ctx, cancel := context.WithCancel(context.Background())
		probeDone := make(chan error)
		go func() {
			_, err := c.Do(ctx, get, nil)
			probeDone <- err
		}()
		<-arrived
		_, err := c.Do(context.Background(), get, nil)
		if !errors.Is(err, upstream.ErrCircuitOpen) {
			t.Errorf("a call while the one probe is out: err = %v, want ErrCircuitOpen", err)
		}
		cancel()
		if err := <-probeDone; !errors.Is(err, context.Canceled) {
			t.Errorf("probe: err = %v, want canceled", err)
		}
		if c.State() != upstream.StateHalfOpen {
			t.Errorf("a probe its caller cancelled moved the breaker to %s; want it still half-open", c.State())
		}
	})

	t.Run("404s, 400s and unreadable bodies do not open it", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			h    http.HandlerFunc
			want error
		}{
			{"404", rectest.JSON(404, `{"error":"not_found"}`), upstream.ErrNotFound},
			{"400", rectest.JSON(400, `{"error":"bad"}`), upstream.ErrBadResponse},
			{"non-JSON", rectest.JSON(200, `<html>`), upstream.ErrBadResponse},
		} {
			s, c := newClient(t, tc.h, func(o *upstream.Options) {
				o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 3, MinRequests: 3, FailureRatio: 0.1}
			})
			for range 30 {
				if _, err := c.Do(context.Background(), get, &struct{}{}); !errors.Is(err, tc.want) {
					t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
				}
			}
			if c.State() != upstream.StateClosed || s.Count() != 30 {
				t.Errorf("%s: after 30 answers the breaker is %s and the server saw %d", tc.name, c.State(), s.Count())
			}
		}
	})

	t.Run("a failure ratio over the minimum of attempts opens it, failures in a row or not", func(t *testing.T) {
		var n atomic.Int32
		s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 0 {
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(204)
		}, func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 1000, FailureRatio: 0.5, MinRequests: 10}
		})
		trip(t, c)
		if got := s.Count(); got != 10 {
			t.Errorf("opened after %d attempts, want 10 (5 of them failed)", got)
		}
	})

	t.Run("calls their caller cancels do not count against the service", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		s := rectest.New(t, nil)
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			s.Hang(w, r)
		})
		c := s.Client(t, "things", func(o *upstream.Options) {
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 2}
		})
		for range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-arrived; cancel() }()
			if _, err := c.Do(ctx, get, nil); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want canceled", err)
			}
		}
		if c.State() != upstream.StateClosed {
			t.Errorf("breaker %s after calls their callers cancelled", c.State())
		}
	})

	t.Run("a disabled breaker never opens", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(503), func(o *upstream.Options) {
			o.MaxAttempts = 1
			o.Breaker = upstream.BreakerSettings{Disabled: true, ConsecutiveFailures: 1}
		})
		for range 20 {
			_, _ = c.Do(context.Background(), get, nil)
		}
		if c.State() != upstream.StateClosed || s.Count() != 20 {
			t.Errorf("state %s after %d requests", c.State(), s.Count())
		}
	})
}

func TestRetryBudget(t *testing.T) {
	t.Run("a storm of failing calls retries no more than the budget's share plus its reserve", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s, c := newClient(t, rectest.Status(503), withMetrics(reg), func(o *upstream.Options) {
			o.Breaker.Disabled = true // the storm must reach the server
			o.RetryBudget = upstream.RetryBudget{Ratio: 0.2, MinPerSecond: 10}
		})
		const calls, workers = 1000, 20
		var next atomic.Int32
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= calls {
					if _, err := c.Do(context.Background(), get, nil); !errors.Is(err, upstream.ErrUnavailable) {
						t.Errorf("err = %v", err)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		retries := s.Count() - calls
		bound := 0.2*calls + 10*(elapsed.Seconds()+1)
		t.Logf("%d calls made %d retries in %v (bound %.0f; without a budget: %d)", calls, retries, elapsed, bound, 2*calls)
		if float64(retries) > bound {
			t.Errorf("%d retries, want at most %.0f", retries, bound)
		}
		if retries < 0.15*calls {
			t.Errorf("%d retries: the budget should still allow about 20%%", retries)
		}
		if got := metric(t, reg, "tutti_upstream_retries_total", "service", "things"); got != float64(retries) {
			t.Errorf("retries metric %v, want %d", got, retries)
		}
		if got := metric(t, reg, "tutti_upstream_retries_denied_total", "service", "things"); got < calls/2 {
			t.Errorf("denied retries metric %v, want most calls denied", got)
		}
	})

	t.Run("a Retry-After is honoured within the budget, and a spent budget ends the call", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		var mu sync.Mutex
		var times []time.Time
		stamp := func(h http.HandlerFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				h(w, r)
			}
		}
		tooMany := func(after string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", after)
				w.WriteHeader(429)
			}
		}
		s, c := newClient(t, stamp(rectest.Sequence(tooMany("1"), rectest.Status(204), tooMany("0"), rectest.Status(204))),
			withMetrics(reg), func(o *upstream.Options) {
				// No share to speak of, and a reserve of one retry per 10s.
				o.RetryBudget = upstream.RetryBudget{Ratio: 0.001, MinPerSecond: 0.1}
			})
		if _, err := c.Do(context.Background(), get, nil); err != nil || s.Count() != 2 {
			t.Fatalf("first call: %v after %d requests, want success after 2", err, s.Count())
		}
		mu.Lock()
		gap := times[1].Sub(times[0])
		mu.Unlock()
		if gap < 900*time.Millisecond {
			t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
		}
		_, err := c.Do(context.Background(), get, nil)
		var ue *upstream.Error
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &ue) || ue.Status != 429 {
			t.Fatalf("second call: err = %v, want the 429: no budget left to retry", err)
		}
		if s.Count() != 3 {
			t.Errorf("%d requests, want 3", s.Count())
		}
		if got := metric(t, reg, "tutti_upstream_retries_denied_total", "service", "things"); got != 1 {
			t.Errorf("denied retries %v, want 1", got)
		}
	})
}

func TestBulkhead(t *testing.T) {
	t.Run("with every slot held by a hanging call, the next fails fast at its deadline and in-flight never passes the limit", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		var running, peak atomic.Int32
		s := rectest.New(t, nil)
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			defer running.Add(-1)
			s.Hang(w, r)
		})
		c := s.Client(t, "things", withMetrics(reg), func(o *upstream.Options) {
			o.MaxConcurrent = 4
			o.OverallTimeout = time.Minute
		})
		inFlight := func() float64 { return metric(t, reg, "tutti_upstream_in_flight", "service", "things") }

		var gaugePeak atomic.Int64
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				if v := int64(inFlight()); v > gaugePeak.Load() {
					gaugePeak.Store(v)
				}
				select {
				case <-stopSampling:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := c.Do(ctx, get, nil); !errors.Is(err, context.Canceled) {
					t.Errorf("a hanging call: err = %v, want canceled", err)
				}
			})
		}
		waitFor(t, "4 calls at the server", func() bool { return s.Count() == 4 })

		short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancelShort()
		start := time.Now()
		_, err := c.Do(short, get, nil)
		el := time.Since(start)
		if !errors.Is(err, upstream.ErrBulkheadFull) || !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("the 5th call: err = %v, want ErrBulkheadFull", err)
		}
		if !strings.Contains(err.Error(), "unavailable: bulkhead full") {
			t.Errorf("err = %q", err)
		}
		if el > 500*time.Millisecond {
			t.Errorf("the 5th call took %v with a 50ms deadline", el)
		}
		if s.Count() != 4 {
			t.Errorf("the server saw %d requests, want 4", s.Count())
		}
		if got := inFlight(); got != 4 {
			t.Errorf("in-flight gauge %v, want 4", got)
		}

		cancel()
		wg.Wait()
		close(stopSampling)
		<-sampled
		if got := inFlight(); got != 0 {
			t.Errorf("in-flight gauge %v after every call ended, want 0", got)
		}
		if p := gaugePeak.Load(); p > 4 {
			t.Errorf("in-flight gauge reached %d, limit 4", p)
		}
		if p := peak.Load(); p > 4 {
			t.Errorf("the server saw %d requests at once, limit 4", p)
		}
		if got := metric(t, reg, "tutti_upstream_calls_total", "service", "things", "outcome", "bulkhead_full"); got != 1 {
			t.Errorf("bulkhead_full calls %v, want 1", got)
		}
	})

	t.Run("cancelling the caller's ctx stops an in-flight call promptly and frees its slot", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		s := rectest.New(t, nil)
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			s.Hang(w, r)
		})
		c := s.Client(t, "things", func(o *upstream.Options) { o.MaxConcurrent = 1 })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := c.Do(ctx, get, nil)
			done <- err
		}()
		<-arrived
		start := time.Now()
		cancel()
		err := <-done
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("the call ended %v after its ctx was cancelled", el)
		}
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want ErrUnavailable and context.Canceled", err)
		}
		s.Handle(rectest.Status(204))
		next, cancelNext := context.WithTimeout(context.Background(), time.Second)
		defer cancelNext()
		if _, err := c.Do(next, get, nil); err != nil {
			t.Errorf("the next call: %v; the slot was not freed", err)
		}
	})
}

func TestOverallTimeout(t *testing.T) {
	t.Run("it bounds a call with retries against a hanging server", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(s.Hang)
		c := s.Client(t, "things", func(o *upstream.Options) {
			o.AttemptTimeout = 100 * time.Millisecond
			o.MaxAttempts = 10
			o.OverallTimeout = 250 * time.Millisecond
		})
		start := time.Now()
		_, err := c.Do(context.Background(), get, nil)
		el := time.Since(start)
		if !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if el < 200*time.Millisecond || el > 600*time.Millisecond {
			t.Errorf("the call took %v, want about the overall timeout of 250ms", el)
		}
		if n := s.Count(); n < 2 || n > 3 {
			t.Errorf("%d attempts, want 2 or 3 within 250ms of 100ms attempts", n)
		}
	})
	t.Run("an overall timeout that ends an attempt says so", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(s.Hang)
		c := s.Client(t, "things", func(o *upstream.Options) {
			o.AttemptTimeout = time.Second
			o.OverallTimeout = 50 * time.Millisecond
		})
		_, err := c.Do(context.Background(), get, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
			err.Error() != "things: get thing: send request: unavailable: overall timeout" {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 1 {
			t.Errorf("%d requests, want 1", s.Count())
		}
	})
	t.Run("the caller's earlier deadline wins", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(s.Hang)
		c := s.Client(t, "things", func(o *upstream.Options) { o.OverallTimeout = time.Minute })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Do(ctx, get, nil)
		if el := time.Since(start); el > 500*time.Millisecond || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("err = %v after %v", err, el)
		}
	})
}

func TestCallsThatAreNotIdempotentAreNeverRetried(t *testing.T) {
	post := upstream.Call{Op: "create thing", Method: http.MethodPost, Path: "/things", Body: map[string]int{"a": 1}}
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"429 with Retry-After 0", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		}},
		{"502", rectest.Status(502)},
		{"503", rectest.Status(503)},
		{"504", rectest.Status(504)},
		{"a reset", rectest.Reset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s, c := newClient(t, tc.h, withMetrics(reg))
			_, err := c.Do(context.Background(), post, nil)
			if !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if s.Count() != 1 {
				t.Errorf("%d requests, want 1", s.Count())
			}
			if got := metric(t, reg, "tutti_upstream_retries_total", "service", "things"); got != 0 {
				t.Errorf("retries metric %v, want 0", got)
			}
		})
	}
}

func TestMetricsAfterAScriptedSequence(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, c := newClient(t, rectest.Sequence(
		rectest.JSON(200, `{}`),        // 1: ok
		rectest.Status(404),            // 2: not found
		rectest.Status(400),            // 3: bad response
		rectest.Status(502),            // 4: retried ...
		rectest.JSON(200, `{}`),        //    ... then ok
		rectest.JSON(200, `{"n":tru}`), // 5: bad response (malformed JSON)
		rectest.Status(503),            // 6: three failed attempts open the breaker
	), withMetrics(reg), func(o *upstream.Options) {
		o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 3, OpenDuration: time.Minute}
	})
	for i := range 7 { // 7: refused by the open breaker
		_, _ = c.Do(context.Background(), get, &struct{}{})
		if i == 5 && c.State() != upstream.StateOpen {
			t.Fatalf("breaker %s after three 503s", c.State())
		}
	}
	if s.Count() != 9 {
		t.Errorf("the server saw %d requests, want 9", s.Count())
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tutti_upstream_calls_total", []string{"outcome", "ok"}, 2},
		{"tutti_upstream_calls_total", []string{"outcome", "not_found"}, 1},
		{"tutti_upstream_calls_total", []string{"outcome", "bad_response"}, 2},
		{"tutti_upstream_calls_total", []string{"outcome", "unavailable"}, 1},
		{"tutti_upstream_calls_total", []string{"outcome", "circuit_open"}, 1},
		{"tutti_upstream_calls_total", []string{"outcome", "bulkhead_full"}, 0},
		{"tutti_upstream_retries_total", nil, 3},
		{"tutti_upstream_retries_denied_total", nil, 0},
		{"tutti_upstream_call_duration_seconds", nil, 6}, // the refused call is not timed
		{"tutti_upstream_in_flight", nil, 0},
		{"tutti_upstream_breaker_state", nil, 2},
		{"tutti_upstream_breaker_transitions_total", []string{"state", "open"}, 1},
	} {
		labels := append([]string{"service", "things"}, tc.labels...)
		if got := metric(t, reg, tc.name, labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Every outcome has its series from the start, so dashboards see zeros.
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "tutti_upstream_calls_total" && len(f.GetMetric()) != 7 {
			t.Errorf("%d outcome series, want 7", len(f.GetMetric()))
		}
	}
}

func TestSentinelsRefineUnavailable(t *testing.T) {
	for _, err := range []error{upstream.ErrCircuitOpen, upstream.ErrBulkheadFull} {
		if !errors.Is(err, upstream.ErrUnavailable) || upstream.OutcomeOf(err) == upstream.OutcomeUnavailable {
			t.Errorf("%v: want an ErrUnavailable with an outcome of its own", err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A transport that breaks its contract (no answer and no error, or an
// answer without a body) fails the call as unavailable; it does not panic.
func TestTransportAnsweringNothingFailsTheCall(t *testing.T) {
	for name, resp := range map[string]*http.Response{"nil": nil, "no body": {StatusCode: 200, Header: http.Header{}}} {
		t.Run(name, func(t *testing.T) {
			c, err := upstream.NewClient(upstream.Options{Service: "things", BaseURL: "http://things.invalid", APIKey: "k", MaxAttempts: 1,
				Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Do(context.Background(), get, nil); !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
		})
	}
}

// A transport that does not frame bodies may hand over more than the
// Content-Length it announced: the size limit still holds.
func TestBodyLongerThanAnnouncedStaysWithinTheLimit(t *testing.T) {
	for _, tc := range []struct {
		body string
		want error
	}{{`{}` + strings.Repeat(" ", 2000), upstream.ErrBadResponse}, {`{} `, nil}} {
		c, err := upstream.NewClient(upstream.Options{Service: "things", BaseURL: "http://things.invalid", APIKey: "k", MaxBodyBytes: 1024,
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: 2,
					Body: io.NopCloser(strings.NewReader(tc.body)), Request: r}, nil
			})})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if _, err := c.Do(context.Background(), get, &out); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%d bytes announced as 2: err = %v, want %v", len(tc.body), err, tc.want)
		}
	}
}

// FuzzDecodeBody feeds arbitrary 200 bodies to Do. Properties: Do never
// panics; it either decodes or fails with ErrBadResponse (never another
// class: a malformed body is UPSTREAM_ERROR); the error never quotes the
// body; a body over the limit is refused.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"customers":[{"id":"c-1"}]}`, `{"a":tru}`, `[`, `null`, "\x00\xff", `{"n":1e999}`,
		`{"s":"\ud800"}`, strings.Repeat("[", 200), `{"id":"x"} trailing`} {
		f.Add([]byte(s))
	}
	const limit = 4096
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := upstream.NewClient(upstream.Options{
			Service: "things", BaseURL: "http://things.invalid", APIKey: "k", MaxBodyBytes: limit,
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1, Request: r}, nil
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			ID        string           `json:"id"`
			N         int              `json:"n"`
			Customers []map[string]any `json:"customers"`
		}
		_, err = c.Do(context.Background(), get, &out)
		if err == nil {
			if len(body) > limit {
				t.Errorf("a body of %d bytes over the limit of %d was accepted", len(body), limit)
			}
			return
		}
		if !errors.Is(err, upstream.ErrBadResponse) || errors.Is(err, upstream.ErrUnavailable) {
			t.Errorf("err = %v, want ErrBadResponse only", err)
		}
		if len(body) >= 8 && strings.Contains(err.Error(), string(body)) {
			t.Errorf("err %q quotes the body", err)
		}
	})
}
