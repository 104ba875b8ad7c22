package gateway_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/demo"
)

// richCustomer returns the demo customer with the most orders.
func richCustomer(d *demo.Dataset) string {
	count := map[string]int{}
	for _, o := range d.Orders {
		count[o.CustomerID]++
	}
	best := ""
	for _, c := range d.Customers {
		if best == "" || count[c.ID] > count[best] {
			best = c.ID
		}
	}
	return best
}

// ordersOf returns the customer's orders, newest first.
func ordersOf(d *demo.Dataset, customerID string) []demo.Order {
	var out []demo.Order
	for _, o := range d.Orders {
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b demo.Order) int {
		if a.PlacedAt != b.PlacedAt {
			return int(b.PlacedAt - a.PlacedAt)
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

func skus(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SKU-%04d", i+1)
	}
	return out
}

func quoted(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TestUpstreamCallCounts runs queries against the demo services and
// asserts the exact number of calls each service received: the batching
// and planning rules of graphql-api.md ("How few upstream calls").
func TestUpstreamCallCounts(t *testing.T) {
	e := newEnv(t, nil)
	data := e.demo.Data()
	rich := richCustomer(data)
	richOrders := ordersOf(data, rich)
	if len(richOrders) < 12 {
		t.Fatalf("demo customer %s has %d orders; the test needs at least 12", rich, len(richOrders))
	}
	someOrder := richOrders[0]
	other := data.Customers[1].ID
	support := e.token("staff-1", "support")

	tests := []struct {
		name  string
		token string
		query string
		want  map[string]int
		codes []string
	}{
		{
			name:  "one product is one catalog call",
			query: `{ product(sku: "SKU-0001") { title price { amount } } }`,
			want:  map[string]int{"catalog": 1},
		},
		{
			name:  "stock of a product asked by sku starts with the catalog call",
			query: `{ product(sku: "SKU-0002") { title stock inStock } }`,
			want:  map[string]int{"catalog": 1, "inventory": 1},
		},
		{
			name:  "150 skus are split at 100 keys, for catalog and inventory alike",
			query: `{ productsBySku(skus: ` + quoted(skus(150)) + `) { sku stock } }`,
			want:  map[string]int{"catalog": 2, "inventory": 2},
		},
		{
			name:  "aliases naming the same sku twice fetch it once",
			query: `{ a: product(sku: "SKU-0003") { title } b: product(sku: "SKU-0003") { sku price { cents } } }`,
			want:  map[string]int{"catalog": 1},
		},
		{
			name:  "orders, totalSpent and recentOrderCount share one orders call",
			token: e.token(rich),
			query: `{ me { name orders(first: 5) { id total { cents } } totalSpent { cents } recentOrderCount(days: 365) } }`,
			want:  map[string]int{"customers": 1, "orders": 1},
		},
		{
			name:  "the customer dashboard: one call per batchable service, one shipping call per order",
			token: support,
			query: `{ customer(id: "` + rich + `") { name orders(first: 10) { id lines { quantity product { title stock } } shipment { status } payment { status } customer { id } } } }`,
			want:  map[string]int{"customers": 1, "orders": 1, "catalog": 1, "inventory": 1, "shipping": 10, "payments": 1},
		},
		{
			name:  "the customer behind an order, asked for its id only, costs no customers call",
			token: e.token(someOrder.CustomerID),
			query: `{ order(id: "` + someOrder.ID + `") { id customer { id } } }`,
			want:  map[string]int{"orders": 1},
		},
		{
			name:  "an order with its customer, shipment and payment",
			token: e.token(someOrder.CustomerID),
			query: `{ order(id: "` + someOrder.ID + `") { status customer { name } shipment { carrier } payment { id } } }`,
			want:  map[string]int{"orders": 1, "customers": 1, "shipping": 1, "payments": 1},
		},
		{
			name:  "several customers and their orders are two batch calls",
			token: support,
			query: `{ customers(ids: ` + quoted([]string{data.Customers[0].ID, data.Customers[1].ID, data.Customers[2].ID}) + `) { name orders(first: 3) { id } } }`,
			want:  map[string]int{"customers": 1, "orders": 1},
		},
		{
			name:  "a catalog search with stock is one catalog and one inventory call",
			query: `{ products(first: 5) { edges { node { sku stock } } pageInfo { hasNextPage } } }`,
			want:  map[string]int{"catalog": 1, "inventory": 1},
		},
		{
			name:  "the same customer by two root fields is fetched once",
			token: e.token(rich),
			query: `{ me { id name } customer(id: "` + rich + `") { email } }`,
			want:  map[string]int{"customers": 1},
		},
		{
			name:  "an out-of-range first makes no orders call",
			token: e.token(rich),
			query: `{ me { name orders(first: 0) { id } } }`,
			want:  map[string]int{"customers": 1},
			codes: []string{"BAD_USER_INPUT"},
		},
		{
			name:  "a forbidden customer makes no call at all",
			token: e.token(rich),
			query: `{ customer(id: "` + other + `") { name orders { id } } }`,
			want:  map[string]int{},
			codes: []string{"FORBIDDEN"},
		},
		{
			name:  "an anonymous me makes no call",
			query: `{ me { name } }`,
			want:  map[string]int{},
			codes: []string{"UNAUTHENTICATED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.demo.ResetCounters()
			r := e.query(tt.token, tt.query, nil)
			if !slices.Equal(r.codes(), tt.codes) {
				t.Fatalf("error codes = %v, want %v: %+v", r.codes(), tt.codes, r.Errors)
			}
			if got := e.calls(); !maps.Equal(got, tt.want) {
				t.Errorf("upstream calls = %v, want %v\nby endpoint: %v", got, tt.want, e.demo.CallsByEndpoint())
			}
		})
	}
}

// TestKeyOnlyIsDecidedWhereTheFieldIsUsed: a fragment that selects only
// `customer { id }` must not make the customer key-only where other
// selections merge into the same field: the name is still fetched.
func TestKeyOnlyIsDecidedWhereTheFieldIsUsed(t *testing.T) {
	e := newEnv(t, nil)
	data := e.demo.Data()
	rich := richCustomer(data)
	order := ordersOf(data, rich)[0]
	var name string
	for _, c := range data.Customers {
		if c.ID == rich {
			name = c.FullName
		}
	}
	q := `query($o: ID!) { me { orders(first: 1) { ...C customer { name } } } order(id: $o) { ...C } }
fragment C on Order { customer { id } }`
	r := e.query(e.token(rich), q, map[string]any{"o": order.ID}).mustOK(t)
	var got struct {
		Me struct {
			Orders []struct {
				Customer struct{ ID, Name string }
			}
		}
		Order struct {
			Customer struct{ ID, Name string }
		}
	}
	r.decode(t, &got)
	if len(got.Me.Orders) != 1 || got.Me.Orders[0].Customer.Name != name || got.Me.Orders[0].Customer.ID != rich {
		t.Errorf("me.orders[0].customer = %+v, want id %s name %q", got.Me.Orders, rich, name)
	}
	if got.Order.Customer.ID != rich {
		t.Errorf("order.customer.id = %q, want %s", got.Order.Customer.ID, rich)
	}
}

// TestPendingBatchFinishesAfterTheAnswer: a batch the plan starts from an
// argument that the answer turns out not to need (an unknown customer's
// orders, while orders is slow) is not cut short by the answer: it ends
// with the service's answer (outcome ok), so that what a query calls, and
// what it caches, does not depend on timing.
func TestPendingBatchFinishesAfterTheAnswer(t *testing.T) {
	e := newEnv(t, nil)
	const latency = 100 * time.Millisecond
	e.demo.SetFault("orders", demo.Fault{Latency: latency})
	const q = `{ customer(id: "c-9999") { name orders { status } } }`
	start := time.Now()
	if r := e.query(e.token("staff-1", "support"), q, nil); strings.TrimSpace(string(r.Data)) != `{"customer":null}` {
		t.Fatalf("%s %+v, want customer null", r.Data, r.Errors)
	}
	if took := time.Since(start); took >= latency {
		t.Fatalf("the answer took %v: it waited for orders, so nothing was pending at the answer", took)
	}
	time.Sleep(3 * latency)
	const ok = `tutti_upstream_calls_total{outcome="ok",service="orders"}`
	if n := e.mustMetric(ok); n != 1 {
		t.Errorf("%s = %v, want 1: the orders batch the plan started was cut short by the answer instead of finishing", ok, n)
	}
}
