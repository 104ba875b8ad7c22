package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/orders"
)

// Business rules and argument ranges of graphql-api.md, shared by the
// resolvers and the planner hooks.

const (
	defaultOrdersFirst   = 10
	defaultRecentDays    = 30
	defaultProductsFirst = 20
	secondsPerDay        = 86400
)

func ordersFirst(n int) (int, error) {
	if n < 1 || n > 50 {
		return 0, gqlerr.New(gqlerr.BadUserInput, fmt.Sprintf("first must be between 1 and 50, got %d", n))
	}
	return n, nil
}

func recentDays(n int) (int, error) {
	if n < 1 || n > 365 {
		return 0, gqlerr.New(gqlerr.BadUserInput, fmt.Sprintf("days must be between 1 and 365, got %d", n))
	}
	return n, nil
}

func productsFirst(n int) (int, error) {
	if n < 1 || n > 100 {
		return 0, gqlerr.New(gqlerr.BadUserInput, fmt.Sprintf("first must be between 1 and 100, got %d", n))
	}
	return n, nil
}

// selectOrders returns a customer's orders as Customer.orders does: newest
// first (as the service lists them), cancelled ones only when incl, at most
// first of them.
func selectOrders(all []*orders.Order, first int, incl bool) []*orders.Order {
	out := make([]*orders.Order, 0, min(first, len(all)))
	for _, o := range all {
		if len(out) == first {
			break
		}
		if o.Status == "cancelled" && !incl {
			continue
		}
		out = append(out, o)
	}
	return out
}

func selectOrderRecords(recs []any, first int, incl bool) []any {
	all := make([]*orders.Order, 0, len(recs))
	for _, r := range recs {
		if o, ok := r.(*orders.Order); ok {
			all = append(all, o)
		}
	}
	sel := selectOrders(all, first, incl)
	out := make([]any, len(sel))
	for i, o := range sel {
		out[i] = o
	}
	return out
}

// intArg reads an Int argument as the planner sees it (literal, variable
// or default); absent or null means def. Values that do not fit an int
// become out of range.
func intArg(args map[string]any, name string, def int) int {
	switch v := args[name].(type) {
	case int:
		return v
	case int64:
		return clampInt(v)
	case float64:
		return clampInt(int64(v))
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return clampInt(n)
		}
		return math.MinInt32
	case nil:
		return def
	default:
		return math.MinInt32
	}
}

// stringsArg reads an ID or [ID] argument as a list of keys.
func stringsArg(args map[string]any, name string) []string {
	switch v := args[name].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func clampInt(v int64) int {
	return int(max(min(v, math.MaxInt32), math.MinInt32))
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// canSeeCustomer is the customer rule: the customer themself, or support.
func canSeeCustomer(p *auth.Principal, customerID string) bool {
	return p.HasScope(auth.ScopeSupport) || p.Subject == customerID
}

func unauthenticated() error {
	return gqlerr.New(gqlerr.Unauthenticated, "this field requires a bearer token")
}

func forbidden() error {
	return gqlerr.New(gqlerr.Forbidden, "this token may not read this data")
}

// principal returns the caller, or UNAUTHENTICATED for an anonymous request.
func principal(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, unauthenticated()
	}
	return p, nil
}

// notFound turns a not-found upstream answer into a null without error.
func notFound(err error) bool { return errors.Is(err, upstream.ErrNotFound) }
