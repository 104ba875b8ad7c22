// Package resolvers implements the GraphQL schema. Resolvers stay thin: they
// check who may see what, ask the request's loaders for upstream records and
// map them into models (mapping.go). Which call serves which field is
// declared in schema/ and started by the planner before resolvers ask.
package resolvers

//go:generate go tool gqlgen generate

import (
	"context"
	"time"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/orders"
)

// Resolver is the dependency-injection root.
type Resolver struct {
	// Planner starts the upstream calls of each root field.
	Planner *planner.Planner
	// Catalog serves the product search, which is not a keyed batch call.
	Catalog *catalog.Client
	// Cursors makes and checks Query.products cursors.
	Cursors *Cursors
	// Now is the clock (recentOrderCount, Shipment.delayed).
	Now func() time.Time
}

// Hooks returns the field logic the planner shares with these resolvers, so
// both agree on which records a field returns, which arguments make no call
// and which keys a root field may fetch for the caller.
func (r *Resolver) Hooks() map[string]planner.Hook {
	return map[string]planner.Hook{
		"Customer.orders": {
			Check: func(args map[string]any) error {
				_, err := ordersFirst(intArg(args, "first", defaultOrdersFirst))
				return err
			},
			Select: func(_ context.Context, args map[string]any, recs []any) []any {
				first, _ := ordersFirst(intArg(args, "first", defaultOrdersFirst))
				incl, _ := args["includeCancelled"].(bool)
				return selectOrderRecords(recs, first, incl)
			},
		},
		"Customer.recentOrderCount": {
			Check: func(args map[string]any) error {
				_, err := recentDays(intArg(args, "days", defaultRecentDays))
				return err
			},
		},
		"Query.me": {Keys: func(ctx context.Context, _ map[string]any) []string {
			if p := auth.FromContext(ctx); p != nil {
				return []string{p.Subject}
			}
			return nil
		}},
		"Query.customer": {Keys: func(ctx context.Context, args map[string]any) []string {
			id, _ := args["id"].(string)
			if p := auth.FromContext(ctx); p != nil && canSeeCustomer(p, id) {
				return []string{id}
			}
			return nil
		}},
		"Query.customers": {Keys: func(ctx context.Context, args map[string]any) []string {
			if p := auth.FromContext(ctx); p != nil && canSeeCustomer(p, "") {
				return stringsArg(args, "ids")
			}
			return nil
		}},
		// An order's owner is known only from the order: its calls start
		// for any signed-in caller, and the resolver returns the data to
		// the owner or support only.
		"Query.order": {
			Keys: func(ctx context.Context, args map[string]any) []string {
				if auth.FromContext(ctx) != nil {
					return stringsArg(args, "id")
				}
				return nil
			},
			// Nothing below an order is fetched for a caller who may not
			// see it.
			Select: func(ctx context.Context, _ map[string]any, recs []any) []any {
				p := auth.FromContext(ctx)
				var out []any
				for _, r := range recs {
					if o, ok := r.(*orders.Order); ok && p != nil && canSeeCustomer(p, o.CustomerID) {
						out = append(out, r)
					}
				}
				return out
			},
		},
		"Query.product":       {Keys: func(_ context.Context, args map[string]any) []string { return stringsArg(args, "sku") }},
		"Query.productsBySku": {Keys: func(_ context.Context, args map[string]any) []string { return stringsArg(args, "skus") }},
		"Query.products": {
			Check: func(args map[string]any) error {
				if _, err := productsFirst(intArg(args, "first", defaultProductsFirst)); err != nil {
					return err
				}
				if after, ok := args["after"].(string); ok {
					search, _ := args["search"].(string)
					if _, err := r.Cursors.decode(after, search); err != nil {
						return err
					}
				}
				return nil
			},
		},
	}
}
