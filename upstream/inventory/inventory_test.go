package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
	"github.com/tutti-gw/tutti/upstream/inventory"
)

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *inventory.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, inventory.New(s.Client(t, inventory.Service))
}

func TestStock(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want string
		err  error
	}{
		{"the bare map is read and unknown skus are absent", `{"S1":12,"S2":0,"NOT-ASKED":5}`, "map[S1:12 S2:0]", nil},
		{"a null body means none", `null`, "map[]", nil},
		{"a count that is not a number is a bad response", `{"S1":"12"}`, "map[]", upstream.ErrBadResponse},
		{"an array is a bad response", `[12]`, "map[]", upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, tc.body))
			got, err := c.Stock(context.Background(), []string{"S1", "S2", "S3", "S1"})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/stock" || r.Raw != "skus=S1,S2,S3" {
				t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
			}
		})
	}
}

func TestStockSplitsAt100(t *testing.T) {
	var skus []string
	for i := range 250 {
		skus = append(skus, fmt.Sprintf("S%d", i))
	}
	s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		var parts []string
		for _, k := range strings.Split(r.URL.Query().Get("skus"), ",") {
			parts = append(parts, fmt.Sprintf("%q:1", k))
		}
		rectest.JSON(200, "{"+strings.Join(parts, ",")+"}")(w, r)
	})
	got, err := c.Stock(context.Background(), append(skus, skus...))
	if err != nil || len(got) != 250 {
		t.Fatalf("got %d, %v", len(got), err)
	}
	if s.Count() != 3 {
		t.Errorf("%d requests, want 3", s.Count())
	}
}

func TestReserve(t *testing.T) {
	lines := []inventory.ReserveLine{{SKU: "SKU-0042", Qty: 2}}
	t.Run("a 201 returns the reservation", func(t *testing.T) {
		s, c := newClient(t, rectest.JSON(201, `{"reservation_id":"r-1","expires_at":"2026-11-25T10:15:00Z"}`))
		r, err := c.Reserve(context.Background(), lines)
		if err != nil || *r != (inventory.Reservation{ID: "r-1", ExpiresAt: "2026-11-25T10:15:00Z"}) {
			t.Fatalf("got %+v, %v", r, err)
		}
		req := s.Requests()[0]
		if req.Method != "POST" || req.Path != "/reservations" || string(req.Body) != `{"lines":[{"sku":"SKU-0042","qty":2}]}` {
			t.Errorf("request %s %s %s", req.Method, req.Path, req.Body)
		}
	})
	t.Run("a 409 names the sku that is short", func(t *testing.T) {
		s, c := newClient(t, rectest.JSON(409, `{"error":"insufficient_stock","sku":"SKU-0042"}`))
		_, err := c.Reserve(context.Background(), lines)
		var ise *inventory.InsufficientStockError
		if !errors.Is(err, inventory.ErrInsufficientStock) || !errors.As(err, &ise) || ise.SKU != "SKU-0042" {
			t.Fatalf("err = %v", err)
		}
		if upstream.ServiceOf(err) != "inventory" || strings.Contains(err.Error(), "SKU-0042") {
			t.Errorf("err = %q", err)
		}
		if s.Count() != 1 {
			t.Errorf("%d requests", s.Count())
		}
	})
	t.Run("an answer without reservation_id is a bad response", func(t *testing.T) {
		_, c := newClient(t, rectest.JSON(201, `{"id":"r-1"}`))
		if _, err := c.Reserve(context.Background(), lines); !errors.Is(err, upstream.ErrBadResponse) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommitAndRelease(t *testing.T) {
	commit := func(ctx context.Context, c *inventory.Client) error { return c.Commit(ctx, "r/1") }
	release := func(ctx context.Context, c *inventory.Client) error { return c.Release(ctx, "r/1") }
	for _, tc := range []struct {
		name   string
		call   func(context.Context, *inventory.Client) error
		h      http.HandlerFunc
		method string
		path   string
		want   error
		n      int
	}{
		{"commit posts to the reservation's commit path", commit, rectest.Status(204), "POST", "/reservations/r%2F1/commit", nil, 1},
		{"commit of a released reservation is ErrReleased", commit, rectest.JSON(409, `{"error":"released"}`), "POST", "/reservations/r%2F1/commit", inventory.ErrReleased, 1},
		{"commit of an unknown reservation is not found", commit, rectest.Status(404), "POST", "/reservations/r%2F1/commit", upstream.ErrNotFound, 1},
		{"commit is retried: it is idempotent", commit, rectest.Sequence(rectest.Status(502), rectest.Status(204)), "POST", "/reservations/r%2F1/commit", nil, 2},
		{"release deletes the reservation", release, rectest.Status(204), "DELETE", "/reservations/r%2F1", nil, 1},
		{"release of an unknown reservation is not found", release, rectest.JSON(404, `{"error":"not_found"}`), "DELETE", "/reservations/r%2F1", upstream.ErrNotFound, 1},
		{"release of a committed reservation is ErrCommitted", release, rectest.JSON(409, `{"error":"committed"}`), "DELETE", "/reservations/r%2F1", inventory.ErrCommitted, 1},
		{"release is retried: it is idempotent", release, rectest.Sequence(rectest.Status(503), rectest.Status(204)), "DELETE", "/reservations/r%2F1", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			err := tc.call(context.Background(), c)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if r := s.Requests()[0]; r.Method != tc.method || r.Path != tc.path || len(r.Body) != 0 {
				t.Errorf("request %s %s %q", r.Method, r.Path, r.Body)
			}
			if s.Count() != tc.n {
				t.Errorf("%d requests, want %d", s.Count(), tc.n)
			}
		})
	}
}

func TestCommonRules(t *testing.T) {
	run := func(f func(context.Context, *inventory.Client) error) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return f(ctx, inventory.New(c)) }
	}
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"Stock", rectest.Method{Idempotent: true, Decodes: true, OK: rectest.JSON(200, `{"S1":1}`),
			Run: run(func(ctx context.Context, c *inventory.Client) error {
				_, err := c.Stock(ctx, []string{"S1"})
				return err
			})}},
		{"Reserve", rectest.Method{Idempotent: false, Decodes: true, OK: rectest.JSON(201, `{"reservation_id":"r-1","expires_at":"x"}`),
			Run: run(func(ctx context.Context, c *inventory.Client) error {
				_, err := c.Reserve(ctx, []inventory.ReserveLine{{SKU: "S1", Qty: 1}})
				return err
			})}},
		{"Commit", rectest.Method{Idempotent: true, OK: rectest.Status(204),
			Run: run(func(ctx context.Context, c *inventory.Client) error { return c.Commit(ctx, "r-1") })}},
		{"Release", rectest.Method{Idempotent: true, OK: rectest.Status(204),
			Run: run(func(ctx context.Context, c *inventory.Client) error { return c.Release(ctx, "r-1") })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Service, tc.m.UserID = inventory.Service, false
			rectest.CheckMethod(t, tc.m)
		})
	}
}
