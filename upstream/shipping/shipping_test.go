package shipping_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
	"github.com/tutti-gw/tutti/upstream/shipping"
)

const shipment = `{"shipment": {"tracking_no": "1Z999AA10123456784", "carrier": "DHL", "state": "in_transit",
 "shipped": "20/11/2026", "eta": "27/11/2026"}}`

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *shipping.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, shipping.New(s.Client(t, shipping.Service))
}

func TestByOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     http.HandlerFunc
		check func(*shipping.Shipment) bool
		err   error
	}{
		{"the shipment envelope is read", rectest.JSON(200, shipment), func(s *shipping.Shipment) bool {
			return s.TrackingNo == "1Z999AA10123456784" && s.Carrier == "DHL" && s.State == "in_transit" &&
				*s.Shipped == "20/11/2026" && *s.ETA == "27/11/2026"
		}, nil},
		{"null dates are nil", rectest.JSON(200, `{"shipment":{"tracking_no":"T","state":"label_created","shipped":null,"eta":null}}`),
			func(s *shipping.Shipment) bool { return s.Shipped == nil && s.ETA == nil }, nil},
		{"missing dates are nil", rectest.JSON(200, `{"shipment":{"tracking_no":"T"}}`),
			func(s *shipping.Shipment) bool { return s.Shipped == nil && s.ETA == nil }, nil},
		{"an order without shipment is not found", rectest.JSON(404, `{"error":"not_found"}`), nil, upstream.ErrNotFound},
		{"a missing envelope is a bad response", rectest.JSON(200, `{"tracking_no":"T"}`), nil, upstream.ErrBadResponse},
		{"a null shipment is a bad response", rectest.JSON(200, `{"shipment":null}`), nil, upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			got, err := c.ByOrder(context.Background(), "o-1/2")
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.check != nil && !tc.check(got) {
				t.Errorf("got %+v", got)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/shipments/by-order/o-1%2F2" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	addr := shipping.Address{Line1: "12 Analytical Row", City: "London", Postcode: "N1 9GU", Country: "GB"}
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		n    int
	}{
		{"a 201 returns the new shipment", rectest.JSON(201, shipment), 1},
		{"a 200 returns the existing shipment", rectest.JSON(200, shipment), 1},
		{"a 503 is retried: creation is idempotent per order", rectest.Sequence(rectest.Status(503), rectest.JSON(201, shipment)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			got, err := c.Create(context.Background(), "o-1", addr)
			if err != nil || got.TrackingNo != "1Z999AA10123456784" {
				t.Fatalf("got %+v, %v", got, err)
			}
			want := `{"order_id":"o-1","address":{"line1":"12 Analytical Row","city":"London","postcode":"N1 9GU","country":"GB"}}`
			for _, r := range s.Requests() {
				if r.Method != "POST" || r.Path != "/shipments" || string(r.Body) != want {
					t.Errorf("request %s %s %s", r.Method, r.Path, r.Body)
				}
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
		n    int
	}{
		{"a 204 is done", rectest.Status(204), nil, 1},
		{"a 404 is not found", rectest.Status(404), upstream.ErrNotFound, 1},
		{"a 503 is retried", rectest.Sequence(rectest.Status(503), rectest.Status(204)), nil, 2},
		{"a 500 is retried", rectest.Sequence(rectest.Status(500), rectest.Status(204)), nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			err := c.Delete(context.Background(), "o 1")
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v", err)
			}
			if r := s.Requests()[0]; r.Method != "DELETE" || r.Path != "/shipments/by-order/o%201" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
}

func TestCommonRules(t *testing.T) {
	run := func(f func(context.Context, *shipping.Client) error) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return f(ctx, shipping.New(c)) }
	}
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"ByOrder", rectest.Method{Decodes: true, OK: rectest.JSON(200, shipment),
			Run: run(func(ctx context.Context, c *shipping.Client) error { _, err := c.ByOrder(ctx, "o-1"); return err })}},
		{"Create", rectest.Method{Decodes: true, OK: rectest.JSON(201, shipment),
			Run: run(func(ctx context.Context, c *shipping.Client) error {
				_, err := c.Create(ctx, "o-1", shipping.Address{City: "London"})
				return err
			})}},
		{"Delete", rectest.Method{OK: rectest.Status(204),
			Run: run(func(ctx context.Context, c *shipping.Client) error { return c.Delete(ctx, "o-1") })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Service, tc.m.Idempotent, tc.m.UserID = shipping.Service, true, true
			rectest.CheckMethod(t, tc.m)
		})
	}
}
