// Package customers is the client of the customers service
// (upstreams.md §1). Build its upstream.Client with SendUserID true.
package customers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "customers"

// Customer is the service's customer, as sent.
type Customer struct {
	ID       string `json:"id"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	Tier     string `json:"tier"`    // gold, silver or bronze
	Created  string `json:"created"` // RFC 3339, any offset
	// Address is nil when the service sends null or leaves it out.
	Address *Address `json:"address"`
}

// Address is a customer's postal address.
type Address struct {
	Line1    string `json:"line1"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// Client calls the customers service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// Get fetches one customer: GET /customers/{id}. An unknown id (or an empty
// one, without a call) is an error wrapping upstream.ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (*Customer, error) {
	const op = "get customer"
	if id == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	var cu Customer
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/customers/" + url.PathEscape(id),
		Idempotent: true, NotFound: true, Keys: 1,
	}, &cu)
	if err != nil {
		return nil, err
	}
	if cu.ID == "" {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: customer without id", upstream.ErrBadResponse))
	}
	return &cu, nil
}

// GetMany fetches customers by id: GET /customers?ids=a,b, at most 100 ids a
// request, the requests in parallel. The map holds the ids that exist;
// duplicates and empty ids are asked once or not at all.
func (c *Client) GetMany(ctx context.Context, ids []string) (map[string]*Customer, error) {
	return upstream.Batch(ctx, ids, func(ctx context.Context, chunk []string) (map[string]*Customer, error) {
		var env struct {
			Customers upstream.Field[[]*Customer] `json:"customers"`
		}
		meta, err := c.Do(ctx, upstream.Call{
			Op: "get customers", Method: http.MethodGet, Path: "/customers",
			Query:      url.Values{"ids": {strings.Join(chunk, ",")}},
			Idempotent: true, Keys: len(chunk),
		}, &env)
		if err != nil {
			return nil, err
		}
		if !env.Customers.Set {
			return nil, c.Fail("get customers", meta.Status, fmt.Errorf("decode body: %w: no customers member", upstream.ErrBadResponse))
		}
		m := make(map[string]*Customer, len(env.Customers.Value))
		for _, cu := range env.Customers.Value {
			if cu != nil && cu.ID != "" {
				m[cu.ID] = cu
			}
		}
		return m, nil
	})
}
