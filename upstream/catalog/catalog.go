// Package catalog is the client of the catalog service (upstreams.md §3).
// Its data is the same for everyone: calls never carry X-User-Id, whatever
// the upstream.Client's options say.
package catalog

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "catalog"

// Product is the service's product, as sent. With a sparse field set the
// fields not asked for are zero.
type Product struct {
	SKU   string `json:"sku"`
	Title string `json:"title"`
	// Description is nil when null or left out.
	Description *string `json:"description"`
	Price       Price   `json:"price"`
	// Tags is nil when left out (meaning none).
	Tags []string `json:"tags"`
}

// Price is a product's price.
type Price struct {
	Amount   string `json:"amount"` // decimal string, up to two decimals: "20", "20.5", "20.50"
	Currency string `json:"currency"`
}

// Page is one page of Search.
type Page struct {
	Items []*Product `json:"items"`
	// Next is the cursor of the next page, nil on the last page.
	Next *string `json:"next"`
}

// Client calls the catalog service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// Get fetches one product: GET /products/{sku}?fields=a,b (fields left out
// when empty: the whole product). Unknown (or empty, without a call): an
// error wrapping upstream.ErrNotFound.
func (c *Client) Get(ctx context.Context, sku string, fields []string) (*Product, error) {
	const op = "get product"
	if sku == "" {
		return nil, c.Fail(op, 0, upstream.ErrNotFound)
	}
	var q url.Values
	if len(fields) > 0 {
		q = url.Values{"fields": {strings.Join(fields, ",")}}
	}
	var p Product
	meta, err := c.Do(upstream.WithUserID(ctx, ""), upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/products/" + url.PathEscape(sku), Query: q,
		Idempotent: true, NotFound: true, Keys: 1,
	}, &p)
	if err != nil {
		return nil, err
	}
	if p.SKU == "" {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: product without sku", upstream.ErrBadResponse))
	}
	return &p, nil
}

// BatchGet fetches products by sku: POST /products:batchGet, at most 100
// skus a request, in parallel. The POST is a read, so it is retried like a
// GET. fields as for Get. The map holds the skus that exist.
func (c *Client) BatchGet(ctx context.Context, skus, fields []string) (map[string]*Product, error) {
	const op = "batch get products"
	ctx = upstream.WithUserID(ctx, "")
	return upstream.Batch(ctx, skus, func(ctx context.Context, chunk []string) (map[string]*Product, error) {
		var env struct {
			Products upstream.Field[map[string]*Product] `json:"products"`
		}
		meta, err := c.Do(ctx, upstream.Call{
			Op: op, Method: http.MethodPost, Path: "/products:batchGet",
			Body: struct {
				SKUs   []string `json:"skus"`
				Fields []string `json:"fields,omitempty"`
			}{chunk, fields},
			Idempotent: true, Keys: len(chunk),
		}, &env)
		if err != nil {
			return nil, err
		}
		if !env.Products.Set {
			return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: no products member", upstream.ErrBadResponse))
		}
		m := env.Products.Value
		for sku, p := range m {
			if p == nil {
				delete(m, sku)
			} else if p.SKU == "" {
				p.SKU = sku
			}
		}
		return m, nil
	})
}

// Search lists products newest first: GET /products?q=&limit=&cursor=, each
// parameter left out when empty (limit when <= 0). Null items and items
// without sku are dropped; an empty next reads as nil.
func (c *Client) Search(ctx context.Context, q string, limit int, cursor string) (*Page, error) {
	const op = "search products"
	query := url.Values{}
	if q != "" {
		query.Set("q", q)
	}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		query.Set("cursor", cursor)
	}
	var env struct {
		Items upstream.Field[[]*Product] `json:"items"`
		Next  *string                    `json:"next"`
	}
	meta, err := c.Do(upstream.WithUserID(ctx, ""), upstream.Call{
		Op: op, Method: http.MethodGet, Path: "/products", Query: query,
		Idempotent: true, Keys: 1,
	}, &env)
	if err != nil {
		return nil, err
	}
	if !env.Items.Set {
		return nil, c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: no items member", upstream.ErrBadResponse))
	}
	items := slices.DeleteFunc(env.Items.Value, func(p *Product) bool { return p == nil || p.SKU == "" })
	next := env.Next
	if next != nil && *next == "" {
		next = nil
	}
	return &Page{Items: items, Next: next}, nil
}
