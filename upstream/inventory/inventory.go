// Package inventory is the client of the inventory service
// (upstreams.md §4). Its data is the same for everyone: calls never carry
// X-User-Id, whatever the upstream.Client's options say. Stock changes all
// the time: callers must not cache it for more than one second.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "inventory"

// Sentinels for the answers the contract gives meaning to.
var (
	// ErrInsufficientStock is wrapped by Reserve's error on 409; errors.As
	// with *InsufficientStockError tells which sku.
	ErrInsufficientStock = errors.New("insufficient stock")
	// ErrReleased is wrapped by Commit's error on 409: the reservation was
	// released (or expired).
	ErrReleased = errors.New("reservation released")
	// ErrCommitted is wrapped by Release's error on 409: the reservation
	// was committed, its stock is gone.
	ErrCommitted = errors.New("reservation committed")
)

// InsufficientStockError is the 409 answer of Reserve. It unwraps to
// ErrInsufficientStock. SKU is empty when the service did not name one.
type InsufficientStockError struct {
	SKU string
}

// Error leaves the sku out: it comes from the service's body.
func (e *InsufficientStockError) Error() string { return ErrInsufficientStock.Error() }

// Unwrap returns ErrInsufficientStock.
func (e *InsufficientStockError) Unwrap() error { return ErrInsufficientStock }

// ReserveLine is one line of a reservation.
type ReserveLine struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Reservation is the answer of Reserve.
type Reservation struct {
	ID        string `json:"reservation_id"`
	ExpiresAt string `json:"expires_at"` // RFC 3339
}

// Client calls the inventory service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// Stock fetches units in stock: GET /stock?skus=a,b, at most 100 skus a
// request, in parallel. Unknown skus are absent (callers read them as 0).
func (c *Client) Stock(ctx context.Context, skus []string) (map[string]int, error) {
	return upstream.Batch(upstream.WithUserID(ctx, ""), skus, func(ctx context.Context, chunk []string) (map[string]int, error) {
		var m map[string]int
		if _, err := c.Do(ctx, upstream.Call{
			Op: "get stock", Method: http.MethodGet, Path: "/stock",
			Query:      url.Values{"skus": {strings.Join(chunk, ",")}},
			Idempotent: true, Keys: len(chunk),
		}, &m); err != nil {
			return nil, err
		}
		return m, nil
	})
}

// Reserve reserves stock for lines: POST /reservations. Not idempotent: made
// once, never retried; on a failure wrapping upstream.ErrOutcomeUnknown a
// reservation may exist (it expires by itself). A 409 is an error wrapping
// *InsufficientStockError.
func (c *Client) Reserve(ctx context.Context, lines []ReserveLine) (*Reservation, error) {
	const op = "reserve stock"
	var r Reservation
	meta, err := c.Do(upstream.WithUserID(ctx, ""), upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/reservations",
		Body: struct {
			Lines []ReserveLine `json:"lines"`
		}{lines},
		OKStatus: []int{http.StatusConflict}, Keys: len(lines),
	}, &r)
	if err != nil {
		return nil, err
	}
	if meta.Status == http.StatusConflict {
		return nil, c.Fail(op, meta.Status, &InsufficientStockError{SKU: meta.ErrBody.SKU})
	}
	if r.ID == "" {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: no reservation_id", upstream.ErrBadResponse))
	}
	return &r, nil
}

// Commit makes a reservation final: POST /reservations/{id}/commit.
// Idempotent, so retried. A 409 (released) is an error wrapping
// ErrReleased; an unknown id, upstream.ErrNotFound.
func (c *Client) Commit(ctx context.Context, id string) error {
	return c.change(ctx, "commit reservation", http.MethodPost, id, "/commit", ErrReleased)
}

// Release gives a reservation's stock back: DELETE /reservations/{id}.
// Idempotent (releasing a released one is fine), so retried. A 409
// (committed) is an error wrapping ErrCommitted; an unknown id,
// upstream.ErrNotFound.
func (c *Client) Release(ctx context.Context, id string) error {
	return c.change(ctx, "release reservation", http.MethodDelete, id, "", ErrCommitted)
}

func (c *Client) change(ctx context.Context, op, method, id, suffix string, conflict error) error {
	if id == "" {
		return c.Fail(op, 0, upstream.ErrNotFound)
	}
	meta, err := c.Do(upstream.WithUserID(ctx, ""), upstream.Call{
		Op: op, Method: method, Path: "/reservations/" + url.PathEscape(id) + suffix,
		Idempotent: true, NotFound: true, OKStatus: []int{http.StatusConflict}, Keys: 1,
	}, nil)
	if err != nil {
		return err
	}
	if meta.Status == http.StatusConflict {
		return c.Fail(op, meta.Status, conflict)
	}
	return nil
}
