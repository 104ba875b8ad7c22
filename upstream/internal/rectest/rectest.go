// Package rectest holds test helpers for the upstream clients: an httptest
// server that records every request, canned handlers (JSON answers,
// sequences, resets, hangs), and a fault checklist every typed method runs.
package rectest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
)

// APIKey is the key test clients send.
const APIKey = "k-secret-4242"

// Request is one recorded request.
type Request struct {
	Method  string
	Path    string // escaped, as sent
	Query   url.Values
	Raw     string // raw query, as sent
	Header  http.Header
	Body    []byte
	Attempt int // 1-based arrival order
}

// Server is an httptest server that records every request and answers with
// a handler that tests may swap.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []Request
	handler http.Handler
	release chan struct{}
}

// New starts a recording server answering with h; it closes with the test.
func New(t testing.TB, h http.HandlerFunc) *Server {
	t.Helper()
	s := &Server{handler: h, release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // handlers may read it too
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Raw: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Attempt: len(s.reqs) + 1,
	})
	h := s.handler
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// Handle swaps the handler.
func (s *Server) Handle(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Requests returns the requests so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count returns how many requests arrived.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// Options returns client options for this server with test-sized timings.
func (s *Server) Options(service string) upstream.Options {
	return upstream.Options{
		Service:        service,
		BaseURL:        s.URL,
		APIKey:         APIKey,
		AttemptTimeout: 2 * time.Second,
		BaseBackoff:    time.Millisecond,
		MaxBackoff:     4 * time.Millisecond,
		SendUserID:     true,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// Client returns an upstream client for this server; edit adjusts the
// options first.
func (s *Server) Client(t testing.TB, service string, edit ...func(*upstream.Options)) *upstream.Client {
	t.Helper()
	o := s.Options(service)
	for _, e := range edit {
		e(&o)
	}
	c, err := upstream.NewClient(o)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c
}

// JSON answers status with body as application/json.
func JSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// Status answers status with no body.
func Status(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }
}

// Sequence answers the nth request with hs[n-1]; the last one repeats.
func Sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

// Reset hijacks the connection and closes it without an answer.
func Reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("rectest: hijack: " + err.Error())
	}
	_ = conn.Close()
}

// Hang answers nothing until the client goes away or the test ends.
func (s *Server) Hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.release:
	}
}

// WithIdentity returns ctx carrying request id "req-1" and user "c-0001".
func WithIdentity(ctx context.Context) context.Context {
	return upstream.WithUserID(upstream.WithRequestID(ctx, "req-1"), "c-0001")
}
