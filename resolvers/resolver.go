// Package resolvers implements the GraphQL schema. Resolvers stay thin: they
// check who may see what, ask the request's loaders for upstream records and
// map them into models (mapping.go). Which call serves which field is
// declared in schema/ and started by the planner before resolvers ask.
package resolvers

//go:generate go tool gqlgen generate

import (
	"time"

	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/upstream/catalog"
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
// both agree on which records a field returns and which arguments make no
// call.
func Hooks() map[string]planner.Hook {
	return map[string]planner.Hook{
		"Customer.orders": {
			Check: func(args map[string]any) error {
				_, err := ordersFirst(intArg(args, "first", defaultOrdersFirst))
				return err
			},
			Select: func(args map[string]any, recs []any) []any {
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
		"Query.products": {
			Check: func(args map[string]any) error {
				_, err := productsFirst(intArg(args, "first", defaultProductsFirst))
				return err
			},
		},
	}
}
