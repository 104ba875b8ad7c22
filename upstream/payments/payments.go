// Package payments is the client of the payments service
// (upstreams.md §6). Build its upstream.Client with SendUserID true.
package payments

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
const Service = "payments"

// Payment statuses.
const (
	StatusCaptured = "captured"
	StatusRefunded = "refunded"
	StatusDeclined = "declined"
)

// ErrDeclined is wrapped by Charge's error when the service answers 402:
// the card was declined (and a declined payment recorded).
var ErrDeclined = errors.New("card declined")

// Payment is the service's payment, as sent.
type Payment struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	Status  string `json:"status"` // captured, refunded, declined
	Amount  Amount `json:"amount"`
	Method  string `json:"method"`
}

// Amount is money in minor units.
type Amount struct {
	Value    int64  `json:"value"`    // minor units (cents)
	Currency string `json:"currency"` // lower case: "eur"
}

// ChargeRequest is the body of POST /payments.
type ChargeRequest struct {
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"` // "EUR" when empty
	Token       string `json:"token"`
}

// Client calls the payments service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// ByOrders lists the payments of orders: GET /payments?order_ids=a,b, at
// most 100 ids a request, in parallel. Each order's list keeps the service's
// order (the order payments were made, declined attempts included), so the
// last is the latest; orders without payments are absent.
func (c *Client) ByOrders(ctx context.Context, orderIDs []string) (map[string][]*Payment, error) {
	return upstream.Batch(ctx, orderIDs, func(ctx context.Context, chunk []string) (map[string][]*Payment, error) {
		var list []*Payment
		if _, err := c.Do(ctx, upstream.Call{
			Op: "list payments", Method: http.MethodGet, Path: "/payments",
			Query:      url.Values{"order_ids": {strings.Join(chunk, ",")}},
			Idempotent: true, Keys: len(chunk),
		}, &list); err != nil {
			return nil, err
		}
		m := make(map[string][]*Payment, len(chunk))
		for _, p := range list {
			if p != nil && p.OrderID != "" {
				m[p.OrderID] = append(m[p.OrderID], p)
			}
		}
		return m, nil
	})
}

// Charge charges a payment: POST /payments with Idempotency-Key. The key
// makes it idempotent (the same key returns the first answer and charges
// nothing more), so it is retried. A 402 is an error wrapping ErrDeclined.
// An empty key is refused without a call (the service would answer 400).
func (c *Client) Charge(ctx context.Context, idempotencyKey string, in ChargeRequest) (*Payment, error) {
	const op = "charge"
	if idempotencyKey == "" {
		return nil, errors.New("payments: charge: empty idempotency key")
	}
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	var p Payment
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/payments", Body: in,
		Header:     http.Header{"Idempotency-Key": {idempotencyKey}},
		Idempotent: true, OKStatus: []int{http.StatusPaymentRequired}, Keys: 1,
	}, &p)
	if err != nil {
		return nil, err
	}
	if meta.Status == http.StatusPaymentRequired {
		return nil, c.Fail(op, meta.Status, ErrDeclined)
	}
	return c.check(op, meta, &p)
}

// Refund refunds a payment: POST /payments/{id}/refund. Idempotent, so
// retried. Unknown (or empty, without a call): upstream.ErrNotFound.
func (c *Client) Refund(ctx context.Context, paymentID string) (*Payment, error) {
	const op = "refund payment"
	if paymentID == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	var p Payment
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/payments/" + url.PathEscape(paymentID) + "/refund",
		Idempotent: true, NotFound: true, Keys: 1,
	}, &p)
	if err != nil {
		return nil, err
	}
	return c.check(op, meta, &p)
}

func (c *Client) check(op string, meta upstream.Meta, p *Payment) (*Payment, error) {
	if p.ID == "" {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: payment without id", upstream.ErrBadResponse))
	}
	return p, nil
}
