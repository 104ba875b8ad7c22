// Package loaders holds the request-scoped batch calls of the gateway: one
// dataloader/v7 loader per (service, key kind), each fed by a batch function
// that sends one upstream call per 100 distinct keys. The planner announces
// the keys a query needs (Prefetch) the moment they are known; resolvers read
// the answers (Load). Nothing here knows GraphQL.
package loaders

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/tutti-gw/tutti/cache"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/customers"
	"github.com/tutti-gw/tutti/upstream/inventory"
	"github.com/tutti-gw/tutti/upstream/orders"
	"github.com/tutti-gw/tutti/upstream/payments"
	"github.com/tutti-gw/tutti/upstream/shipping"
)

// maxBatch is the most keys one upstream batch request takes (upstreams.md).
const maxBatch = 100

// OrdersPerCustomer is how many of a customer's newest orders the gateway
// reads: the orders service's maximum. Customer.orders, totalSpent and
// recentOrderCount all read this one list.
const OrdersPerCustomer = 100

var (
	errBatchShort = errors.New("batch returned fewer results than keys")
	errBatchPanic = errors.New("batch function panicked")
)

// Names of the calls, as schema/ declares them in @fetch(call: ...).
const (
	CustomersByID    = "customers.byId"
	OrdersByID       = "orders.byId"
	OrdersByCustomer = "orders.byCustomer"
	ProductsBySKU    = "catalog.bySku"
	StockBySKU       = "inventory.stock"
	ShipmentByOrder  = "shipping.byOrder"
	PaymentsByOrder  = "payments.byOrder"
)

// Clients are what the batch functions call: the upstream clients and the
// shared cache in front of them.
type Clients struct {
	// Cache, when not nil, answers from the shared cache tiers before the
	// upstream, per the calls' Policies.
	Cache    *cache.Cache
	Policies map[string]Policy

	Customers *customers.Client
	Orders    *orders.Client
	Catalog   *catalog.Client
	Inventory *inventory.Client
	Shipping  *shipping.Client
	Payments  *payments.Client
}

// Loaders is one request's set of batch calls. Create one per GraphQL
// request with New; it must not outlive the request.
type Loaders struct {
	CustomerByID     *Call[*customers.Customer]
	OrderByID        *Call[*orders.Order]
	OrdersByCustomer *Call[[]*orders.Order]
	ProductBySKU     *Call[*catalog.Product]
	StockBySKU       *Call[int]
	ShipmentByOrder  *Call[*shipping.Shipment]
	PaymentsByOrder  *Call[[]*payments.Payment]

	byName map[string]Prefetcher
	trace  *Trace
	stats  *requestStats
}

// Prefetcher is the untyped face of a Call that the planner drives.
type Prefetcher interface {
	Name() string
	// Prefetch starts one batch now for the keys not asked for yet and
	// hands then, per key, the wire records found (none for a missing or
	// failed key; a list call gives each key its list) before resolvers
	// see them.
	Prefetch(ctx context.Context, keys []string, then func(groups [][]any))
}

// Names lists every call name, for checking schema declarations at start-up.
func Names() []string {
	return []string{CustomersByID, OrdersByID, OrdersByCustomer, ProductsBySKU, StockBySKU, ShipmentByOrder, PaymentsByOrder}
}

// Mode selects how loads become upstream calls. Only ModePlanned is for
// production; the others are the baselines the benchmarks measure against.
type Mode int

const (
	// ModePlanned: the planner announces keys; batches start at once.
	ModePlanned Mode = iota
	// ModeDataloader: no planner; dataloader/v7 with its default 16 ms
	// window, the usual way of writing a gqlgen backend.
	ModeDataloader
	// ModeNaive: no planner, no batching, no request cache: one upstream
	// request per key, as plain resolvers would make.
	ModeNaive
)

// ParseMode reads a mode name: planned, dataloader or naive.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "planned":
		return ModePlanned, nil
	case "dataloader":
		return ModeDataloader, nil
	case "naive":
		return ModeNaive, nil
	}
	return 0, fmt.Errorf("unknown mode %q: want planned, dataloader or naive", s)
}

// Options configure one request's loaders.
type Options struct {
	// Trace, when not nil, records every batch sent.
	Trace *Trace
	// Mode is ModePlanned unless a benchmark asks for a baseline.
	Mode Mode
	// Fields are the sparse field sets of the calls that take one, by call
	// name (planner.Fields); a call without an entry asks for whole records.
	Fields map[string][]string

	// inflight counts the request's prefetched batches still running.
	inflight *atomic.Int32
}

// New returns the loaders of one request.
func New(c Clients, o Options) *Loaders {
	st := &requestStats{stale: map[string]int{}}
	o.inflight = &st.inflight
	fields := o.Fields[ProductsBySKU]
	l := &Loaders{
		CustomerByID: newCall(CustomersByID,
			cached(c.Cache, CustomersByID, c.Policies[CustomersByID], nil, st, byKey(c.Customers.Get, c.Customers.GetMany), nil),
			one[*customers.Customer], o),
		OrderByID: newCall(OrdersByID,
			cached(c.Cache, OrdersByID, c.Policies[OrdersByID], nil, st, byKey(c.Orders.Get, c.Orders.GetMany), nil),
			one[*orders.Order], o),
		OrdersByCustomer: newCall(OrdersByCustomer,
			cached(c.Cache, OrdersByCustomer, c.Policies[OrdersByCustomer], nil, st, ordersByCustomer(c.Orders), &derived[[]*orders.Order]{
				call: OrdersByID, pol: c.Policies[OrdersByID],
				split: func(os []*orders.Order) map[string]any {
					// The newest ones, which a screen shows and then opens.
					os = os[:min(len(os), derivedOrdersPerCustomer)]
					m := make(map[string]any, len(os))
					for _, o := range os {
						if o != nil && o.ID != "" {
							m[o.ID] = o
						}
					}
					return m
				},
			}),
			list[*orders.Order], o),
		ProductBySKU: newCall(ProductsBySKU,
			cached(c.Cache, ProductsBySKU, c.Policies[ProductsBySKU], fields, st, productsBySKU(c.Catalog, fields), nil),
			one[*catalog.Product], o),
		StockBySKU: newCall(StockBySKU,
			cached(c.Cache, StockBySKU, c.Policies[StockBySKU], nil, st, stockBySKU(c.Inventory), nil),
			one[int], o),
		ShipmentByOrder: newCall(ShipmentByOrder,
			cached(c.Cache, ShipmentByOrder, c.Policies[ShipmentByOrder], nil, st, shipmentByOrder(c.Shipping), nil),
			one[*shipping.Shipment], o),
		PaymentsByOrder: newCall(PaymentsByOrder,
			cached(c.Cache, PaymentsByOrder, c.Policies[PaymentsByOrder], nil, st, paymentsByOrder(c.Payments), nil),
			list[*payments.Payment], o),
		stats: st,
	}
	l.trace = o.Trace
	l.byName = map[string]Prefetcher{}
	for _, p := range []Prefetcher{l.CustomerByID, l.OrderByID, l.OrdersByCustomer, l.ProductBySKU, l.StockBySKU, l.ShipmentByOrder, l.PaymentsByOrder} {
		l.byName[p.Name()] = p
	}
	return l
}

// Traced records, for the explain output, a call made outside the batch
// calls (a search page); call the returned function when it ends.
func (l *Loaders) Traced(call string, keys int) func(failed bool) {
	end := l.trace.begin(call, keys, false) // made at once by its resolver: no window
	return func(failed bool) {
		o := outcome{}
		if failed {
			o.failed = keys
		}
		end(o)
	}
}

// InFlight is the number of batches the plan started that have not ended:
// at the answer, those nothing in it needed (an unknown order's shipment).
func (l *Loaders) InFlight() int { return int(l.stats.inflight.Load()) }

// Call returns the call of that name, or nil.
func (l *Loaders) Call(name string) Prefetcher { return l.byName[name] }

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the request's loaders; it panics when the request has none,
// which is a wiring bug, not a client error.
func From(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context")
	}
	return l
}

// byKey makes a batch function from a service's single and batch reads: one
// key uses the single-record endpoint (GET /customers/{id}), several the
// batch endpoint, split at 100 keys by the client.
func byKey[V any](one func(context.Context, string) (V, error), many func(context.Context, []string) (map[string]V, error)) BatchFunc[V] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		if len(keys) == 1 {
			v, err := one(ctx, keys[0])
			return []*dataloader.Result[V]{{Data: v, Error: err}}
		}
		m, err := many(ctx, keys)
		return fromMap(keys, m, err)
	}
}

func ordersByCustomer(c *orders.Client) BatchFunc[[]*orders.Order] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[[]*orders.Order] {
		m, err := c.ByCustomers(ctx, keys, OrdersPerCustomer)
		// A customer without orders is an empty list, not a miss.
		return spread(keys, m, err)
	}
}

// productsBySKU asks the catalog for fields only (all fields when empty).
func productsBySKU(c *catalog.Client, fields []string) BatchFunc[*catalog.Product] {
	return byKey(
		func(ctx context.Context, sku string) (*catalog.Product, error) { return c.Get(ctx, sku, fields) },
		func(ctx context.Context, skus []string) (map[string]*catalog.Product, error) {
			return c.BatchGet(ctx, skus, fields)
		})
}

func stockBySKU(c *inventory.Client) BatchFunc[int] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[int] {
		m, err := c.Stock(ctx, keys)
		// An sku the inventory does not list has no stock.
		return spread(keys, m, err)
	}
}

// shipmentByOrder has no batch endpoint: one request per order, all at once.
func shipmentByOrder(c *shipping.Client) BatchFunc[*shipping.Shipment] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[*shipping.Shipment] {
		res := make([]*dataloader.Result[*shipping.Shipment], len(keys))
		done := make(chan struct{}, len(keys))
		for i, k := range keys {
			go func() {
				defer func() {
					if p := recover(); p != nil {
						res[i] = &dataloader.Result[*shipping.Shipment]{Error: fmt.Errorf("shipping.byOrder %s: %w", k, errBatchPanic)}
					}
					done <- struct{}{}
				}()
				s, err := c.ByOrder(ctx, k)
				res[i] = &dataloader.Result[*shipping.Shipment]{Data: s, Error: err}
			}()
		}
		for range keys {
			<-done
		}
		return res
	}
}

func paymentsByOrder(c *payments.Client) BatchFunc[[]*payments.Payment] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[[]*payments.Payment] {
		m, err := c.ByOrders(ctx, keys)
		return spread(keys, m, err)
	}
}

// spread spreads a batch answer over keys where an absent key is the zero
// value (no orders, no stock), not a miss; err goes to every key.
func spread[V any](keys []string, m map[string]V, err error) []*dataloader.Result[V] {
	res := make([]*dataloader.Result[V], len(keys))
	for i, k := range keys {
		res[i] = &dataloader.Result[V]{Data: m[k], Error: err}
	}
	return res
}

// fromMap spreads a batch answer over keys: absent keys are not found.
func fromMap[V any](keys []string, m map[string]V, err error) []*dataloader.Result[V] {
	res := make([]*dataloader.Result[V], len(keys))
	for i, k := range keys {
		switch v, ok := m[k]; {
		case err != nil:
			res[i] = &dataloader.Result[V]{Error: err}
		case !ok:
			res[i] = &dataloader.Result[V]{Error: fmt.Errorf("%s: %w", k, upstream.ErrNotFound)}
		default:
			res[i] = &dataloader.Result[V]{Data: v}
		}
	}
	return res
}

// one is the records of a value that is one record.
func one[V any](v V) []any { return []any{v} }

// list is the records of a value that is a list of records.
func list[V any](vs []V) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}
