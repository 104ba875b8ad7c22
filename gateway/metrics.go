package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tutti-gw/tutti/upstream"
)

// metrics are the gateway's Prometheus series, on a registry of its own so
// that several gateways in one process (tests) do not collide.
type metrics struct {
	reg              *prometheus.Registry
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	upstreamAttempts *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tutti_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"route"}),
		upstreamAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tutti_upstream_attempts_total",
			Help: "Upstream HTTP attempts, by service and outcome (ok, not_found, unavailable, bad_response, error); retries count as attempts.",
		}, []string{"service", "outcome"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tutti_upstream_attempt_duration_seconds",
			Help:    "Duration of one upstream attempt, by service.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"service"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.upstreamAttempts, m.upstreamDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeUpstream is the upstream clients' Observer.
func (m *metrics) observeUpstream(c upstream.ObservedCall) {
	outcome := "ok"
	switch {
	case c.Err == nil:
	case errors.Is(c.Err, upstream.ErrNotFound):
		outcome = "not_found"
	case errors.Is(c.Err, upstream.ErrUnavailable):
		outcome = "unavailable"
	case errors.Is(c.Err, upstream.ErrBadResponse):
		outcome = "bad_response"
	default:
		outcome = "error"
	}
	m.upstreamAttempts.WithLabelValues(c.Service, outcome).Inc()
	m.upstreamDuration.WithLabelValues(c.Service).Observe(c.Duration.Seconds())
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument counts requests to route.
func (m *metrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.httpRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
