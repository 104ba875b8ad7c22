package notifications_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
	"github.com/tutti-gw/tutti/upstream/notifications"
)

var email = notifications.Email{To: "ada@example.com", Template: notifications.TemplateOrderConfirmation,
	Data: map[string]any{"order_id": "o-1", "total": "19.99"}}

func noUser(o *upstream.Options) { o.SendUserID = false }

func TestSendPostsTheEmail(t *testing.T) {
	s := rectest.New(t, rectest.JSON(202, `{"id":"em_1"}`))
	c := notifications.New(s.Client(t, notifications.Service, noUser))
	id, err := c.Send(context.Background(), email)
	if err != nil || id != "em_1" {
		t.Fatalf("got %q, %v", id, err)
	}
	r := s.Requests()[0]
	if r.Method != "POST" || r.Path != "/emails" ||
		string(r.Body) != `{"to":"ada@example.com","template":"order_confirmation","data":{"order_id":"o-1","total":"19.99"}}` {
		t.Errorf("request %s %s %s", r.Method, r.Path, r.Body)
	}
}

func TestSendTellsNotSentFromMaybeSent(t *testing.T) {
	for _, tc := range []struct {
		name         string
		h            func(*rectest.Server) http.HandlerFunc
		deadline     time.Duration
		notSent      bool
		maybeSent    bool
		badResponse  bool
		wantRequests int
	}{
		{"a 429 means not sent", func(*rectest.Server) http.HandlerFunc { return rectest.Status(429) }, 0, true, false, false, 1},
		{"a 500 means not sent", func(*rectest.Server) http.HandlerFunc { return rectest.Status(500) }, 0, true, false, false, 1},
		{"a 503 means not sent", func(*rectest.Server) http.HandlerFunc { return rectest.Status(503) }, 0, true, false, false, 1},
		{"a reset after the request means maybe sent", func(*rectest.Server) http.HandlerFunc { return rectest.Reset }, 0, false, true, false, 1},
		{"a timeout after the request means maybe sent", func(s *rectest.Server) http.HandlerFunc { return s.Hang }, 50 * time.Millisecond, false, true, false, 1},
		{"a 400 is refused: neither, and a bad response", func(*rectest.Server) http.HandlerFunc { return rectest.JSON(400, `{"error":"bad_template"}`) }, 0, false, false, true, 1},
		{"a 202 without id was accepted: neither", func(*rectest.Server) http.HandlerFunc { return rectest.JSON(202, `{}`) }, 0, false, false, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := rectest.New(t, nil)
			s.Handle(tc.h(s))
			c := notifications.New(s.Client(t, notifications.Service, noUser))
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err := c.Send(ctx, email)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, notifications.ErrNotSent) != tc.notSent || errors.Is(err, notifications.ErrMaybeSent) != tc.maybeSent ||
				errors.Is(err, upstream.ErrBadResponse) != tc.badResponse {
				t.Errorf("err = %v: not sent %v, maybe sent %v, bad response %v", err,
					errors.Is(err, notifications.ErrNotSent), errors.Is(err, notifications.ErrMaybeSent), errors.Is(err, upstream.ErrBadResponse))
			}
			if (tc.notSent || tc.maybeSent) && !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable too", err)
			}
			if upstream.ServiceOf(err) != notifications.Service {
				t.Errorf("ServiceOf = %q", upstream.ServiceOf(err))
			}
			if s.Count() != tc.wantRequests {
				t.Errorf("%d requests, want %d: Send is never retried", s.Count(), tc.wantRequests)
			}
		})
	}
	t.Run("a call the open breaker refuses means not sent, and nothing goes out", func(t *testing.T) {
		s := rectest.New(t, rectest.Status(503))
		c := notifications.New(s.Client(t, notifications.Service, noUser, func(o *upstream.Options) {
			o.Breaker = upstream.BreakerSettings{ConsecutiveFailures: 2, OpenDuration: time.Minute}
		}))
		for range 2 {
			_, _ = c.Send(context.Background(), email)
		}
		_, err := c.Send(context.Background(), email)
		if !errors.Is(err, upstream.ErrCircuitOpen) || !errors.Is(err, notifications.ErrNotSent) || errors.Is(err, notifications.ErrMaybeSent) {
			t.Fatalf("err = %v, want ErrCircuitOpen and ErrNotSent", err)
		}
		if s.Count() != 2 {
			t.Errorf("%d requests, want the 2 before the breaker opened", s.Count())
		}
	})
	t.Run("a refused connection means not sent", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		up, err := upstream.NewClient(upstream.Options{Service: notifications.Service, BaseURL: dead.URL, APIKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = notifications.New(up).Send(context.Background(), email)
		if !errors.Is(err, notifications.ErrNotSent) || errors.Is(err, notifications.ErrMaybeSent) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommonRules(t *testing.T) {
	rectest.CheckMethod(t, rectest.Method{
		Service: notifications.Service, Idempotent: false, UserID: false, Decodes: true, Edit: noUser,
		OK: rectest.JSON(202, `{"id":"em_1"}`),
		Run: func(ctx context.Context, c *upstream.Client) error {
			_, err := notifications.New(c).Send(ctx, email)
			return err
		},
	})
}
