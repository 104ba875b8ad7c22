package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
	"github.com/tutti-gw/tutti/upstream/payments"
)

const captured = `{"id": "pay_8f2c", "order_id": "o-000123", "status": "captured",
 "amount": {"value": 3998, "currency": "eur"}, "method": "card"}`

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *payments.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, payments.New(s.Client(t, payments.Service))
}

func TestByOrders(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want string
		err  error
	}{
		{"payments are grouped by order in the service's order", `[
			{"id":"p2","order_id":"o-1","status":"declined","amount":{"value":5,"currency":"eur"}},
			{"id":"p9","order_id":"o-2","status":"captured"},
			{"id":"p1","order_id":"o-1","status":"captured"},
			{"id":"px","order_id":"o-not-asked"},
			null]`, "map[o-1:[p2 p1] o-2:[p9]]", nil},
		{"a null body means none", `null`, "map[]", nil},
		{"an envelope instead of the bare array is a bad response", `{"data":[]}`, "map[]", upstream.ErrBadResponse},
		{"an amount that is a string is a bad response", `[{"id":"p","order_id":"o-1","amount":{"value":"5"}}]`, "map[]", upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, tc.body))
			got, err := c.ByOrders(context.Background(), []string{"o-1", "o-2", "o-3", "o-2"})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			ids := map[string][]string{}
			for k, ps := range got {
				for _, p := range ps {
					ids[k] = append(ids[k], p.ID)
				}
			}
			if fmt.Sprint(ids) != tc.want {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/payments" || r.Raw != "order_ids=o-1,o-2,o-3" {
				t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
			}
		})
	}
	t.Run("amounts are decoded", func(t *testing.T) {
		_, c := newClient(t, rectest.JSON(200, "["+captured+"]"))
		got, err := c.ByOrders(context.Background(), []string{"o-000123"})
		if err != nil {
			t.Fatal(err)
		}
		p := got["o-000123"][0]
		if *p != (payments.Payment{ID: "pay_8f2c", OrderID: "o-000123", Status: "captured", Amount: payments.Amount{Value: 3998, Currency: "eur"}, Method: "card"}) {
			t.Errorf("got %+v", p)
		}
	})
	t.Run("250 orders go in 3 requests", func(t *testing.T) {
		var ids []string
		for i := range 250 {
			ids = append(ids, fmt.Sprint("o-", i))
		}
		s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			var parts []string
			for _, id := range strings.Split(r.URL.Query().Get("order_ids"), ",") {
				parts = append(parts, fmt.Sprintf(`{"id":"p-%s","order_id":%q}`, id, id))
			}
			rectest.JSON(200, "["+strings.Join(parts, ",")+"]")(w, r)
		})
		got, err := c.ByOrders(context.Background(), append(ids, ids...))
		if err != nil || len(got) != 250 || s.Count() != 3 {
			t.Fatalf("got %d in %d requests, %v", len(got), s.Count(), err)
		}
	})
}

func TestCharge(t *testing.T) {
	in := payments.ChargeRequest{OrderID: "o-1", AmountCents: 3998, Token: "tok_visa"}
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
		n    int
	}{
		{"a 201 returns the captured payment", rectest.JSON(201, captured), nil, 1},
		{"a 402 is declined, not retried", rectest.JSON(402, `{"error":"card_declined"}`), payments.ErrDeclined, 1},
		{"a 502 is retried with the same key", rectest.Sequence(rectest.Status(502), rectest.JSON(201, captured)), nil, 2},
		{"a 400 is a bad response", rectest.JSON(400, `{"error":"missing_key"}`), upstream.ErrBadResponse, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			p, err := c.Charge(context.Background(), "idem-1", in)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && p.Status != payments.StatusCaptured {
				t.Errorf("got %+v", p)
			}
			for _, r := range s.Requests() {
				if r.Method != "POST" || r.Path != "/payments" || r.Header.Get("Idempotency-Key") != "idem-1" ||
					string(r.Body) != `{"order_id":"o-1","amount_cents":3998,"currency":"EUR","token":"tok_visa"}` {
					t.Errorf("request %s %s key %q %s", r.Method, r.Path, r.Header.Get("Idempotency-Key"), r.Body)
				}
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
	t.Run("an empty key is refused without a call", func(t *testing.T) {
		s, c := newClient(t, rectest.JSON(201, captured))
		if _, err := c.Charge(context.Background(), "", in); err == nil || s.Count() != 0 {
			t.Fatalf("err %v after %d requests", err, s.Count())
		}
	})
}

func TestRefund(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
		n    int
	}{
		{"a 200 returns the refunded payment", rectest.JSON(200, `{"id":"pay/1","status":"refunded"}`), nil, 1},
		{"an unknown payment is not found", rectest.Status(404), upstream.ErrNotFound, 1},
		{"a 504 is retried: refunds are idempotent", rectest.Sequence(rectest.Status(504), rectest.JSON(200, `{"id":"pay/1"}`)), nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			_, err := c.Refund(context.Background(), "pay/1")
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v", err)
			}
			if r := s.Requests()[0]; r.Method != "POST" || r.Path != "/payments/pay%2F1/refund" || len(r.Body) != 0 {
				t.Errorf("request %s %s %q", r.Method, r.Path, r.Body)
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
}

func TestCommonRules(t *testing.T) {
	run := func(f func(context.Context, *payments.Client) error) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return f(ctx, payments.New(c)) }
	}
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"ByOrders", rectest.Method{OK: rectest.JSON(200, "["+captured+"]"),
			Run: run(func(ctx context.Context, c *payments.Client) error {
				_, err := c.ByOrders(ctx, []string{"o-000123"})
				return err
			})}},
		{"Charge", rectest.Method{OK: rectest.JSON(201, captured),
			Run: run(func(ctx context.Context, c *payments.Client) error {
				_, err := c.Charge(ctx, "k-1", payments.ChargeRequest{OrderID: "o-1", AmountCents: 1, Token: "tok_x"})
				return err
			})}},
		{"Refund", rectest.Method{OK: rectest.JSON(200, captured),
			Run: run(func(ctx context.Context, c *payments.Client) error { _, err := c.Refund(ctx, "pay_8f2c"); return err })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Service, tc.m.Idempotent, tc.m.UserID, tc.m.Decodes = payments.Service, true, true, true
			rectest.CheckMethod(t, tc.m)
		})
	}
}
