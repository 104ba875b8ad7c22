// Package shipping is the client of the shipping service
// (upstreams.md §5). There is no batch call: one order, one request. Build
// its upstream.Client with SendUserID true.
package shipping

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "shipping"

// Shipment is the service's shipment, as sent.
type Shipment struct {
	TrackingNo string `json:"tracking_no"`
	Carrier    string `json:"carrier"`
	State      string `json:"state"` // label_created, in_transit, delivered, returned
	// Shipped and ETA are DD/MM/YYYY, nil when null or left out.
	Shipped *string `json:"shipped"`
	ETA     *string `json:"eta"`
}

// Address is where a shipment goes.
type Address struct {
	Line1    string `json:"line1"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// Client calls the shipping service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// ByOrder fetches an order's shipment: GET /shipments/by-order/{order_id}.
// None (or an empty id, without a call): an error wrapping
// upstream.ErrNotFound.
func (c *Client) ByOrder(ctx context.Context, orderID string) (*Shipment, error) {
	const op = "get shipment"
	if orderID == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	return c.shipment(ctx, upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/shipments/by-order/" + url.PathEscape(orderID),
		Idempotent: true, NotFound: true, Keys: 1,
	})
}

// Create creates an order's shipment: POST /shipments, answered 201 (or 200
// when it existed). Idempotent per order, so retried.
func (c *Client) Create(ctx context.Context, orderID string, addr Address) (*Shipment, error) {
	return c.shipment(ctx, upstream.Call{
		Op: "create shipment", Method: http.MethodPost, Path: "/shipments",
		Body: struct {
			OrderID string  `json:"order_id"`
			Address Address `json:"address"`
		}{orderID, addr},
		Idempotent: true, Keys: 1,
	})
}

// Delete deletes an order's shipment: DELETE /shipments/by-order/{order_id},
// answered 204. Idempotent, so retried. A 404 is an error wrapping
// upstream.ErrNotFound (nothing to undo).
func (c *Client) Delete(ctx context.Context, orderID string) error {
	const op = "delete shipment"
	if orderID == "" {
		return c.Fail(op, 0, upstream.ErrNotFound)
	}
	_, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodDelete, Path: "/shipments/by-order/" + url.PathEscape(orderID),
		Idempotent: true, NotFound: true, Keys: 1,
	}, nil)
	return err
}

// shipment makes a call answered {"shipment": Shipment}.
func (c *Client) shipment(ctx context.Context, call upstream.Call) (*Shipment, error) {
	var env struct {
		Shipment *Shipment `json:"shipment"`
	}
	meta, err := c.Do(ctx, call, &env)
	if err != nil {
		return nil, err
	}
	if env.Shipment == nil {
		return nil, c.Fail(call.Op, meta.Status, fmt.Errorf("decode body: %w: no shipment", upstream.ErrBadResponse))
	}
	return env.Shipment, nil
}
