package gqlhttp_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tutti-gw/tutti/gqlhttp"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRecover(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "3")
		panic(errors.New("db password is hunter2"))
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"data":`))
		w.(http.Flusher).Flush()
		panic("late")
	})
	mux.HandleFunc("/fine", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(gqlhttp.Recover(logger, mux))
	t.Cleanup(srv.Close)

	t.Run("a panic becomes 500 INTERNAL without details, and is logged with its stack", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/boom")
		if err != nil {
			t.Fatal(err)
		}
		r := decode(t, resp)
		if r.status != 500 || len(r.errors) != 1 || r.code(0) != "INTERNAL" || r.hasData {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
		if strings.Contains(string(r.raw), "hunter2") || strings.Contains(string(r.raw), "goroutine") {
			t.Errorf("body shows the panic: %s", r.raw)
		}
		if l := logs.String(); !strings.Contains(l, "hunter2") || !strings.Contains(l, "stack=") {
			t.Errorf("log lacks the panic or its stack: %s", l)
		}
	})
	t.Run("a panic after the response started aborts the connection", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/late")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("the truncated response looked complete")
		}
	})
	t.Run("no panic passes through", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/fine")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	})
}
