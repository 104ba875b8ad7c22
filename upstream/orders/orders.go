// Package orders is the client of the orders service (upstreams.md §2).
// Build its upstream.Client with SendUserID true.
package orders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "orders"

// Order statuses.
const (
	StatusPending   = "pending"
	StatusPaid      = "paid"
	StatusShipped   = "shipped"
	StatusDelivered = "delivered"
	StatusCancelled = "cancelled"
)

// MaxLimit is the most orders per customer the service returns.
const MaxLimit = 100

// ErrInvalidTransition is wrapped by SetStatus's error when the service
// answers 409: the order cannot take that status (cancelling a shipped
// order, say).
var ErrInvalidTransition = errors.New("invalid transition")

// Order is the service's order, as sent.
type Order struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Status     string `json:"status"`
	PlacedAt   int64  `json:"placed_at"` // Unix seconds, UTC
	Currency   string `json:"currency"`
	Lines      []Line `json:"lines"`
}

// Line is one order line.
type Line struct {
	SKU            string `json:"sku"`
	Qty            int    `json:"qty"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// CreateOrder is the body of POST /orders.
type CreateOrder struct {
	CustomerID    string `json:"customer_id"`
	Lines         []Line `json:"lines"`
	Currency      string `json:"currency"` // "EUR" when empty
	ReservationID string `json:"reservation_id"`
}

// Client calls the orders service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// Get fetches one order: GET /orders/{id}. Unknown (or empty, without a
// call): an error wrapping upstream.ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (*Order, error) {
	const op = "get order"
	if id == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	var o Order
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/orders/" + url.PathEscape(id),
		Idempotent: true, NotFound: true, Keys: 1,
	}, &o)
	if err != nil {
		return nil, err
	}
	return c.check(op, meta, &o)
}

// GetMany fetches orders by id: GET /orders?ids=a,b, at most 100 ids a
// request, in parallel. The map holds the orders that exist.
func (c *Client) GetMany(ctx context.Context, ids []string) (map[string]*Order, error) {
	const op = "get orders"
	return upstream.Batch(ctx, ids, func(ctx context.Context, chunk []string) (map[string]*Order, error) {
		list, err := c.list(ctx, op, url.Values{"ids": {strings.Join(chunk, ",")}}, len(chunk))
		if err != nil {
			return nil, err
		}
		m := make(map[string]*Order, len(list))
		for _, o := range list {
			m[o.ID] = o
		}
		return m, nil
	})
}

// ByCustomers fetches each customer's newest orders:
// GET /orders?customer_ids=a,b&limit=N, at most 100 customers a request, in
// parallel. limit <= 0 leaves the service's default (20); above MaxLimit
// counts as MaxLimit. Each list is newest first (placed_at descending;
// orders placed in the same second keep the service's order, which the
// contract makes newest first) and at most limit long; customers without
// orders are absent.
func (c *Client) ByCustomers(ctx context.Context, customerIDs []string, limit int) (map[string][]*Order, error) {
	const op = "list orders by customer"
	limit = min(limit, MaxLimit)
	return upstream.Batch(ctx, customerIDs, func(ctx context.Context, chunk []string) (map[string][]*Order, error) {
		q := url.Values{"customer_ids": {strings.Join(chunk, ",")}}
		if limit > 0 {
			q.Set("limit", strconv.Itoa(limit))
		}
		list, err := c.list(ctx, op, q, len(chunk))
		if err != nil {
			return nil, err
		}
		m := make(map[string][]*Order, len(chunk))
		for _, o := range list {
			m[o.CustomerID] = append(m[o.CustomerID], o)
		}
		for k, os := range m {
			slices.SortStableFunc(os, func(a, b *Order) int { return cmp.Compare(b.PlacedAt, a.PlacedAt) })
			if limit > 0 && len(os) > limit {
				m[k] = os[:limit:limit]
			}
		}
		return m, nil
	})
}

// list makes one GET /orders call and returns the orders of its
// {"data": [...]} envelope, null entries and entries without id dropped.
func (c *Client) list(ctx context.Context, op string, q url.Values, keys int) ([]*Order, error) {
	var env struct {
		Data upstream.Field[[]*Order] `json:"data"`
	}
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/orders", Query: q,
		Idempotent: true, Keys: keys,
	}, &env)
	if err != nil {
		return nil, err
	}
	if !env.Data.Set {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: no data member", upstream.ErrBadResponse))
	}
	return slices.DeleteFunc(env.Data.Value, func(o *Order) bool { return o == nil || o.ID == "" }), nil
}

// Create places an order: POST /orders, answered 201 with the order
// (status pending). Not idempotent: made once, never retried; on a failure
// wrapping upstream.ErrOutcomeUnknown the order may exist.
func (c *Client) Create(ctx context.Context, in CreateOrder) (*Order, error) {
	const op = "create order"
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	var o Order
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/orders", Body: in, Keys: 1,
	}, &o)
	if err != nil {
		return nil, err
	}
	return c.check(op, meta, &o)
}

// SetStatus sets an order's status ("paid" or "cancelled"):
// POST /orders/{id}/status. Idempotent, so retried. A 409 is an error
// wrapping ErrInvalidTransition; an unknown order, upstream.ErrNotFound.
func (c *Client) SetStatus(ctx context.Context, id, status string) (*Order, error) {
	const op = "set order status"
	if id == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	var o Order
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/orders/" + url.PathEscape(id) + "/status",
		Body: struct {
			Status string `json:"status"`
		}{status},
		Idempotent: true, NotFound: true, OKStatus: []int{http.StatusConflict}, Keys: 1,
	}, &o)
	if err != nil {
		return nil, err
	}
	if meta.Status == http.StatusConflict {
		return nil, c.Fail(op, meta.Status, ErrInvalidTransition)
	}
	return c.check(op, meta, &o)
}

func (c *Client) check(op string, meta upstream.Meta, o *Order) (*Order, error) {
	if o.ID == "" {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: order without id", upstream.ErrBadResponse))
	}
	return o, nil
}
