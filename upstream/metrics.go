package upstream

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Outcomes of a call, the outcome label of tutti_upstream_calls_total.
const (
	OutcomeOK           = "ok"
	OutcomeNotFound     = "not_found"
	OutcomeUnavailable  = "unavailable"
	OutcomeBadResponse  = "bad_response"
	OutcomeCircuitOpen  = "circuit_open"
	OutcomeBulkheadFull = "bulkhead_full"
	OutcomeInvalidCall  = "invalid_call"
)

var outcomes = []string{OutcomeOK, OutcomeNotFound, OutcomeUnavailable, OutcomeBadResponse,
	OutcomeCircuitOpen, OutcomeBulkheadFull, OutcomeInvalidCall}

// OutcomeOf names the outcome of a call from Do's error, as
// tutti_upstream_calls_total counts it. An answer the call lists in
// OKStatus (402, 409) is OutcomeOK: Do returns no error for it.
func OutcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrCircuitOpen):
		return OutcomeCircuitOpen
	case errors.Is(err, ErrBulkheadFull):
		return OutcomeBulkheadFull
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrUnavailable):
		return OutcomeUnavailable
	case errors.Is(err, ErrBadResponse):
		return OutcomeBadResponse
	}
	return OutcomeInvalidCall
}

// Metrics are the Prometheus series of the upstream clients, labelled
// service=<Options.Service>:
//
//	tutti_upstream_calls_total{service,outcome}   calls by outcome (OutcomeOf), once per call
//	tutti_upstream_retries_total                  retries made (attempts after the first)
//	tutti_upstream_retries_denied_total           retries the retry budget refused
//	tutti_upstream_call_duration_seconds          whole calls, retries included (histogram);
//	                                              calls refused by breaker or bulkhead excluded
//	tutti_upstream_in_flight                      calls holding a bulkhead slot
//	tutti_upstream_breaker_state                  0 closed, 1 half-open, 2 open, read when scraped
//	tutti_upstream_breaker_transitions_total{service,state}  changes into state
//
// Attach it to clients with Options.Metrics. Per-attempt series stay with
// Options.Observer.
type Metrics struct {
	calls       *prometheus.CounterVec
	retries     *prometheus.CounterVec
	denied      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	inFlight    *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	stateDesc   *prometheus.Desc

	mu      sync.Mutex
	clients map[string]*Client // by service; the latest attached wins
}

// NewMetrics makes the series and registers them with reg (nil: with
// none; Metrics is itself a prometheus.Collector that can be registered
// later). It panics, as prometheus.MustRegister does, when reg already
// holds them: make one per registry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_upstream_calls_total",
			Help: "Upstream calls by service and outcome (ok, not_found, unavailable, bad_response, circuit_open, bulkhead_full, invalid_call); a call counts once, whatever its retries.",
		}, []string{"service", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_upstream_retries_total",
			Help: "Upstream retries made (attempts after a call's first), by service.",
		}, []string{"service"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_upstream_retries_denied_total",
			Help: "Upstream retries the retry budget refused, by service.",
		}, []string{"service"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tutti_upstream_call_duration_seconds",
			Help:    "Duration of an upstream call, retries and back-off included, by service; calls refused by the breaker or the bulkhead are not observed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"service"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tutti_upstream_in_flight",
			Help: "Upstream calls holding a bulkhead slot, by service.",
		}, []string{"service"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_upstream_breaker_transitions_total",
			Help: "Circuit breaker state changes, by service and the state entered.",
		}, []string{"service", "state"}),
		stateDesc: prometheus.NewDesc("tutti_upstream_breaker_state",
			"Circuit breaker state by service: 0 closed, 1 half-open, 2 open.", []string{"service"}, nil),
		clients: map[string]*Client{},
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.calls.Describe(ch)
	m.retries.Describe(ch)
	m.denied.Describe(ch)
	m.latency.Describe(ch)
	m.inFlight.Describe(ch)
	m.transitions.Describe(ch)
	ch <- m.stateDesc
}

// Collect implements prometheus.Collector. The breaker state is read at
// collection: gobreaker moves from open to half-open when asked.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.calls.Collect(ch)
	m.retries.Collect(ch)
	m.denied.Collect(ch)
	m.latency.Collect(ch)
	m.inFlight.Collect(ch)
	m.transitions.Collect(ch)
	m.mu.Lock()
	clients := make([]*Client, 0, len(m.clients))
	for _, c := range m.clients {
		clients = append(clients, c)
	}
	m.mu.Unlock()
	for _, c := range clients {
		ch <- prometheus.MustNewConstMetric(m.stateDesc, prometheus.GaugeValue, float64(c.br.state()), c.o.Service)
	}
}

// serviceMetrics are one client's series, resolved once. A nil
// *serviceMetrics records nothing.
type serviceMetrics struct {
	calls       map[string]prometheus.Counter
	retries     prometheus.Counter
	denied      prometheus.Counter
	latency     prometheus.Observer
	inFlight    prometheus.Gauge
	transitions *prometheus.CounterVec
}

// attach makes c's series (at zero, so dashboards see every outcome) and
// has Collect report c's breaker state.
func (m *Metrics) attach(c *Client) *serviceMetrics {
	if m == nil {
		return nil
	}
	s := c.o.Service
	sm := &serviceMetrics{
		calls:       make(map[string]prometheus.Counter, len(outcomes)),
		retries:     m.retries.WithLabelValues(s),
		denied:      m.denied.WithLabelValues(s),
		latency:     m.latency.WithLabelValues(s),
		inFlight:    m.inFlight.WithLabelValues(s),
		transitions: m.transitions.MustCurryWith(prometheus.Labels{"service": s}),
	}
	for _, o := range outcomes {
		sm.calls[o] = m.calls.WithLabelValues(s, o)
	}
	m.mu.Lock()
	m.clients[s] = c
	m.mu.Unlock()
	return sm
}

func (sm *serviceMetrics) call(err error, attempted bool, d time.Duration) {
	if sm == nil {
		return
	}
	sm.calls[OutcomeOf(err)].Inc()
	if attempted {
		sm.latency.Observe(d.Seconds())
	}
}

func (sm *serviceMetrics) retry() {
	if sm != nil {
		sm.retries.Inc()
	}
}

func (sm *serviceMetrics) retryDenied() {
	if sm != nil {
		sm.denied.Inc()
	}
}

func (sm *serviceMetrics) addInFlight(d float64) {
	if sm != nil {
		sm.inFlight.Add(d)
	}
}

func (sm *serviceMetrics) transition(to gobreaker.State) {
	if sm != nil {
		sm.transitions.WithLabelValues(stateName(to)).Inc()
	}
}
