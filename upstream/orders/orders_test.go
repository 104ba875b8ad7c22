package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
	"github.com/tutti-gw/tutti/upstream/orders"
)

const order = `{"id": "o-000123", "customer_id": "c-0001", "status": "delivered",
 "placed_at": 1763631000, "currency": "EUR",
 "lines": [{"sku": "SKU-0042", "qty": 2, "unit_price_cents": 1999}]}`

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *orders.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, orders.New(s.Client(t, orders.Service))
}

func TestGetDecodesTheOrder(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, order))
	got, err := c.Get(context.Background(), "o-000123")
	if err != nil {
		t.Fatal(err)
	}
	want := orders.Order{ID: "o-000123", CustomerID: "c-0001", Status: "delivered", PlacedAt: 1763631000, Currency: "EUR",
		Lines: []orders.Line{{SKU: "SKU-0042", Qty: 2, UnitPriceCents: 1999}}}
	if got.ID != want.ID || got.CustomerID != want.CustomerID || got.Status != want.Status || got.PlacedAt != want.PlacedAt ||
		got.Currency != want.Currency || !slices.Equal(got.Lines, want.Lines) {
		t.Errorf("got %+v", got)
	}
	if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/orders/o-000123" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
}

func TestGetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		h    http.HandlerFunc
		want error
	}{
		{"an unknown order is not found", "o-9", rectest.JSON(404, `{"error":"not_found"}`), upstream.ErrNotFound},
		{"an empty id is not found", "", rectest.JSON(200, order), upstream.ErrNotFound},
		{"placed_at as a string is a bad response", "o-1", rectest.JSON(200, `{"id":"o-1","placed_at":"2025-01-01"}`), upstream.ErrBadResponse},
		{"an order without id is a bad response", "o-1", rectest.JSON(200, `{"status":"paid"}`), upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, tc.h)
			if _, err := c.Get(context.Background(), tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGetManyReadsTheDataEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
		err  error
	}{
		{"found orders are keyed by id", `{"data":[{"id":"o-2"},{"id":"o-1"}]}`, []string{"o-1", "o-2"}, nil},
		{"a null data means none", `{"data":null}`, nil, nil},
		{"a missing data member is a bad response", `{"orders":[]}`, nil, upstream.ErrBadResponse},
		{"a bare array is a bad response", `[]`, nil, upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, tc.body))
			got, err := c.GetMany(context.Background(), []string{"o-1", "o-2", "o-1"})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Errorf("keys %v, want %v", keys, tc.want)
			}
			if r := s.Requests()[0]; r.Path != "/orders" || r.Raw != "ids=o-1,o-2" {
				t.Errorf("request %s?%s", r.Path, r.Raw)
			}
		})
	}
}

func TestGetManySplitsAt100(t *testing.T) {
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprintf("o-%d", i))
	}
	s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		var parts []string
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			parts = append(parts, fmt.Sprintf(`{"id":%q}`, id))
		}
		rectest.JSON(200, `{"data":[`+strings.Join(parts, ",")+`]}`)(w, r)
	})
	got, err := c.GetMany(context.Background(), append(ids, ids...))
	if err != nil || len(got) != 250 {
		t.Fatalf("got %d, err %v", len(got), err)
	}
	if n := s.Count(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestByCustomers(t *testing.T) {
	interleaved := `{"data":[
		{"id":"o-1","customer_id":"c-1","placed_at":100},
		{"id":"o-5","customer_id":"c-2","placed_at":500},
		{"id":"o-2","customer_id":"c-1","placed_at":300},
		{"id":"o-3","customer_id":"c-1","placed_at":300},
		{"id":"o-9","customer_id":"c-other","placed_at":900}]}`
	for _, tc := range []struct {
		name    string
		limit   int
		wantRaw string
		want    map[string][]string
	}{
		// o-2 and o-3 were placed in the same second: the service's
		// order stands.
		{"orders are grouped by customer, newest first, ties as the service lists them", 20, "customer_ids=c-1,c-2,c-3&limit=20",
			map[string][]string{"c-1": {"o-2", "o-3", "o-1"}, "c-2": {"o-5"}}},
		{"a limit of 0 leaves the service's default", 0, "customer_ids=c-1,c-2,c-3",
			map[string][]string{"c-1": {"o-2", "o-3", "o-1"}, "c-2": {"o-5"}}},
		{"a limit above 100 is sent as 100", 500, "customer_ids=c-1,c-2,c-3&limit=100",
			map[string][]string{"c-1": {"o-2", "o-3", "o-1"}, "c-2": {"o-5"}}},
		{"each list is cut at the limit", 2, "customer_ids=c-1,c-2,c-3&limit=2",
			map[string][]string{"c-1": {"o-2", "o-3"}, "c-2": {"o-5"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, interleaved))
			got, err := c.ByCustomers(context.Background(), []string{"c-1", "c-2", "c-3", "c-1"}, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string][]string{}
			for k, os := range got {
				for _, o := range os {
					ids[k] = append(ids[k], o.ID)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/orders" || r.Raw != tc.wantRaw {
				t.Errorf("request %s %s?%s, want ?%s", r.Method, r.Path, r.Raw, tc.wantRaw)
			}
		})
	}
}

func TestCreatePostsTheOrderOnce(t *testing.T) {
	s, c := newClient(t, rectest.JSON(201, `{"id":"o-7","customer_id":"c-1","status":"pending","placed_at":1,"currency":"EUR","lines":[]}`))
	got, err := c.Create(context.Background(), orders.CreateOrder{
		CustomerID: "c-1", Lines: []orders.Line{{SKU: "S-1", Qty: 2, UnitPriceCents: 150}}, ReservationID: "r-1",
	})
	if err != nil || got.ID != "o-7" || got.Status != orders.StatusPending {
		t.Fatalf("got %+v, %v", got, err)
	}
	r := s.Requests()[0]
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := `map[currency:EUR customer_id:c-1 lines:[map[qty:2 sku:S-1 unit_price_cents:150]] reservation_id:r-1]`
	if r.Method != "POST" || r.Path != "/orders" || fmt.Sprint(body) != want {
		t.Errorf("request %s %s %v", r.Method, r.Path, body)
	}
}

func TestSetStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
		n    int
	}{
		{"a 200 returns the order", rectest.JSON(200, `{"id":"o-1","status":"cancelled"}`), nil, 1},
		{"a 409 is an invalid transition, not retried", rectest.JSON(409, `{"error":"invalid_transition"}`), orders.ErrInvalidTransition, 1},
		{"a 404 is not found", rectest.JSON(404, `{"error":"not_found"}`), upstream.ErrNotFound, 1},
		{"a 503 is retried: setting a status is idempotent", rectest.Sequence(rectest.Status(503), rectest.JSON(200, `{"id":"o-1"}`)), nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			_, err := c.SetStatus(context.Background(), "o/1", orders.StatusCancelled)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && upstream.ServiceOf(err) != "orders" {
				t.Errorf("ServiceOf = %q", upstream.ServiceOf(err))
			}
			r := s.Requests()[0]
			if r.Method != "POST" || r.Path != "/orders/o%2F1/status" || string(r.Body) != `{"status":"cancelled"}` {
				t.Errorf("request %s %s %s", r.Method, r.Path, r.Body)
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
}

func TestCommonRules(t *testing.T) {
	run := func(f func(context.Context, *orders.Client) error) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return f(ctx, orders.New(c)) }
	}
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"Get", rectest.Method{Idempotent: true, OK: rectest.JSON(200, order),
			Run: run(func(ctx context.Context, c *orders.Client) error { _, err := c.Get(ctx, "o-1"); return err })}},
		{"GetMany", rectest.Method{Idempotent: true, OK: rectest.JSON(200, `{"data":[`+order+`]}`),
			Run: run(func(ctx context.Context, c *orders.Client) error {
				_, err := c.GetMany(ctx, []string{"o-1"})
				return err
			})}},
		{"ByCustomers", rectest.Method{Idempotent: true, OK: rectest.JSON(200, `{"data":[`+order+`]}`),
			Run: run(func(ctx context.Context, c *orders.Client) error {
				_, err := c.ByCustomers(ctx, []string{"c-0001"}, 5)
				return err
			})}},
		{"Create", rectest.Method{Idempotent: false, OK: rectest.JSON(201, order),
			Run: run(func(ctx context.Context, c *orders.Client) error {
				_, err := c.Create(ctx, orders.CreateOrder{CustomerID: "c-1"})
				return err
			})}},
		{"SetStatus", rectest.Method{Idempotent: true, OK: rectest.JSON(200, order),
			Run: run(func(ctx context.Context, c *orders.Client) error {
				_, err := c.SetStatus(ctx, "o-1", orders.StatusPaid)
				return err
			})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Service, tc.m.UserID, tc.m.Decodes = orders.Service, true, true
			rectest.CheckMethod(t, tc.m)
		})
	}
}
