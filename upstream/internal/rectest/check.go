package rectest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
)

// Method describes one typed method for CheckMethod.
type Method struct {
	// Service is the upstream's name.
	Service string
	// Run calls the method on a typed client built over c.
	Run func(ctx context.Context, c *upstream.Client) error
	// OK answers the call successfully.
	OK http.HandlerFunc
	// Idempotent: retried on 429/500/502/503/504/resets. Otherwise made
	// exactly once.
	Idempotent bool
	// UserID: X-User-Id goes out when ctx carries one (customers, orders,
	// shipping, payments). Otherwise it never does, even from a client
	// misconfigured with SendUserID.
	UserID bool
	// Decodes: the answer has a body the method decodes.
	Decodes bool
	// Edit adjusts the client options (notifications: SendUserID false).
	Edit func(*upstream.Options)
}

// secretBody is in every error body, so tests can check it never reaches
// an error string.
const secretBody = `{"error":"body-text-that-must-not-leak"}`

// CheckMethod runs the contract's common rules against one method: headers,
// status mapping, retries (or none), unusable bodies, resets, and safe
// error strings.
func CheckMethod(t *testing.T, m Method) {
	t.Helper()
	setup := func(t *testing.T, h http.HandlerFunc, edit ...func(*upstream.Options)) (*Server, *upstream.Client, *atomic.Int32) {
		t.Helper()
		s := New(t, h)
		var attempts atomic.Int32
		edits := []func(*upstream.Options){func(o *upstream.Options) {
			o.Observer = func(upstream.ObservedCall) { attempts.Add(1) }
		}}
		if m.Edit != nil {
			edits = append(edits, m.Edit)
		}
		return s, s.Client(t, m.Service, append(edits, edit...)...), &attempts
	}
	noLeak := func(t *testing.T, s *Server, err error) {
		t.Helper()
		msg := err.Error()
		for _, bad := range []string{s.URL, strings.TrimPrefix(s.URL, "http://"), APIKey, "body-text-that-must-not-leak"} {
			if strings.Contains(msg, bad) {
				t.Errorf("error %q shows %q", msg, bad)
			}
		}
		if !strings.HasPrefix(msg, m.Service+": ") {
			t.Errorf("error %q does not start with the service name", msg)
		}
		if got := upstream.ServiceOf(err); got != m.Service {
			t.Errorf("ServiceOf = %q, want %q", got, m.Service)
		}
	}

	t.Run("it sends the key, the request id and the user id where the contract says, never Authorization", func(t *testing.T) {
		s, c, _ := setup(t, m.OK)
		if err := m.Run(WithIdentity(context.Background()), c); err != nil {
			t.Fatalf("call: %v", err)
		}
		if err := m.Run(context.Background(), c); err != nil {
			t.Fatalf("call without identity: %v", err)
		}
		reqs := s.Requests()
		if len(reqs) != 2 {
			t.Fatalf("got %d requests, want 2", len(reqs))
		}
		with, without := reqs[0].Header, reqs[1].Header
		for _, h := range []http.Header{with, without} {
			if got := h.Get("X-Api-Key"); got != APIKey {
				t.Errorf("X-Api-Key = %q", got)
			}
			if _, ok := h["Authorization"]; ok {
				t.Errorf("Authorization header sent")
			}
			if got := h.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q", got)
			}
		}
		if got := with.Get("X-Request-Id"); got != "req-1" {
			t.Errorf("X-Request-Id = %q, want req-1", got)
		}
		if _, ok := without["X-Request-Id"]; ok {
			t.Errorf("X-Request-Id sent without one in ctx")
		}
		wantUser := ""
		if m.UserID {
			wantUser = "c-0001"
		}
		if got := with.Get("X-User-Id"); got != wantUser {
			t.Errorf("X-User-Id = %q, want %q", got, wantUser)
		}
		if _, ok := without["X-User-Id"]; ok {
			t.Errorf("X-User-Id sent without one in ctx")
		}
		if len(reqs[0].Body) > 0 && with.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q for a body", with.Get("Content-Type"))
		}
	})

	for _, st := range []int{400, 401, 403} {
		t.Run(fmt.Sprintf("a %d is a bad response with its status, asked once", st), func(t *testing.T) {
			s, c, attempts := setup(t, JSON(st, secretBody))
			err := m.Run(context.Background(), c)
			var ue *upstream.Error
			if !errors.Is(err, upstream.ErrBadResponse) || !errors.As(err, &ue) || ue.Status != st {
				t.Fatalf("err = %v, want ErrBadResponse with status %d", err, st)
			}
			if n := attempts.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			noLeak(t, s, err)
		})
	}

	for _, st := range []int{429, 500, 502, 503, 504} {
		want, verb := 1, "made once"
		if m.Idempotent {
			want, verb = upstream.DefaultMaxAttempts, "retried"
		}
		t.Run(fmt.Sprintf("a %d is %s, then unavailable", st, verb), func(t *testing.T) {
			s, c, attempts := setup(t, JSON(st, secretBody))
			err := m.Run(context.Background(), c)
			var ue *upstream.Error
			if !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &ue) || ue.Status != st {
				t.Fatalf("err = %v, want ErrUnavailable with status %d", err, st)
			}
			if n := s.Count(); n != want {
				t.Errorf("server saw %d requests, want %d", n, want)
			}
			if n := attempts.Load(); int(n) != want {
				t.Errorf("%d attempts observed, want %d", n, want)
			}
			noLeak(t, s, err)
		})
	}

	if m.Idempotent {
		t.Run("a 503 then a success is a success", func(t *testing.T) {
			s, c, _ := setup(t, Sequence(JSON(503, secretBody), m.OK))
			if err := m.Run(context.Background(), c); err != nil {
				t.Fatalf("err = %v", err)
			}
			if n := s.Count(); n != 2 {
				t.Errorf("server saw %d requests, want 2", n)
			}
		})
	}

	if m.Decodes {
		t.Run("a body that is not JSON is a bad response, not retried", func(t *testing.T) {
			s, c, attempts := setup(t, JSON(200, "<html>body-text-that-must-not-leak</html>"))
			err := m.Run(context.Background(), c)
			if !errors.Is(err, upstream.ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if n := attempts.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			noLeak(t, s, err)
		})
		t.Run("a body over the size limit is a bad response", func(t *testing.T) {
			big := `{"pad":"` + strings.Repeat("x", 4096) + `"}`
			s, c, _ := setup(t, JSON(200, big), func(o *upstream.Options) { o.MaxBodyBytes = 1024 })
			err := m.Run(context.Background(), c)
			if !errors.Is(err, upstream.ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			noLeak(t, s, err)
		})
	}

	t.Run("a reset connection is unavailable", func(t *testing.T) {
		s, c, attempts := setup(t, Reset)
		err := m.Run(context.Background(), c)
		var ue *upstream.Error
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.As(err, &ue) || ue.Status != 0 {
			t.Fatalf("err = %v, want ErrUnavailable without status", err)
		}
		want := 1
		if m.Idempotent {
			want = upstream.DefaultMaxAttempts
		}
		if n := attempts.Load(); int(n) != want {
			t.Errorf("%d attempts, want %d", n, want)
		}
		if !m.Idempotent && !errors.Is(err, upstream.ErrOutcomeUnknown) {
			t.Errorf("err = %v, want ErrOutcomeUnknown: the request was written", err)
		}
		noLeak(t, s, err)
	})
}
