package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/demo"
)

// This file queries every field of spec/schema.graphql against the demo
// services and compares each answer with the value spec/graphql-api.md
// gives, computed here from the demo's Dataset. None of the gateway's own
// mapping code is used for the expected values.

// ---------------------------------------------------------------------------
// GraphQL documents: fragments shared by the queries below.

// fragmentDefs are the fragments a document may spread; fieldsDoc appends
// the ones it uses (GraphQL refuses unused fragments).
var fragmentDefs = map[string]string{
	"MoneyParts":    `fragment MoneyParts on Money { cents currency amount }`,
	"AddressParts":  `fragment AddressParts on Address { line1 city postcode country }`,
	"CustomerParts": `fragment CustomerParts on Customer { id name email tier memberSince address { ...AddressParts } }`,
	"ProductParts":  `fragment ProductParts on Product { sku title description price { ...MoneyParts } tags stock inStock }`,
	"ShipmentParts": `fragment ShipmentParts on Shipment { trackingNumber carrier status shippedOn estimatedDelivery delayed }`,
	"PaymentParts":  `fragment PaymentParts on Payment { id status amount { ...MoneyParts } method }`,
	"LineParts":     `fragment LineParts on OrderLine { product { ...ProductParts } sku quantity unitPrice { ...MoneyParts } subtotal { ...MoneyParts } }`,
	"OrderParts": `fragment OrderParts on Order { id status placedAt customer { ...CustomerParts } lines { ...LineParts }
		total { ...MoneyParts } shipment { ...ShipmentParts } payment { ...PaymentParts } }`,
	"OrderSummary": `fragment OrderSummary on Order { id status placedAt total { ...MoneyParts } }`,
}

var spreadRE = regexp.MustCompile(`\.\.\.([A-Za-z_][A-Za-z0-9_]*)`)

// fieldsDoc returns query followed by the fragments it spreads, directly or
// through other fragments.
func fieldsDoc(query string) string {
	used := map[string]bool{}
	todo := []string{query}
	for len(todo) > 0 {
		text := todo[0]
		todo = todo[1:]
		for _, m := range spreadRE.FindAllStringSubmatch(text, -1) {
			name := m[1]
			def, ok := fragmentDefs[name]
			if !ok || used[name] {
				continue
			}
			used[name] = true
			todo = append(todo, def)
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(query)
	for _, n := range names {
		b.WriteString("\n")
		b.WriteString(fragmentDefs[n])
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Expected values, from the Dataset and the rules of graphql-api.md.

// amountString is Money.amount: cents with exactly two decimal places.
func amountString(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// priceCents reads a catalog price ("20", "20.5", "20.50") into cents.
func priceCents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(frac) > 2 {
		t.Fatalf("catalog price %q is not a decimal with up to two places", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		t.Fatalf("catalog price %q is not a decimal with up to two places", s)
	}
	return w*100 + f
}

// isoFromDDMMYYYY turns the shipping service's DD/MM/YYYY into YYYY-MM-DD;
// null stays null.
func isoFromDDMMYYYY(t *testing.T, s *string) any {
	t.Helper()
	if s == nil {
		return nil
	}
	d := *s
	if len(d) != 10 || d[2] != '/' || d[5] != '/' {
		t.Fatalf("shipping date %q is not DD/MM/YYYY", d)
	}
	return d[6:10] + "-" + d[3:5] + "-" + d[0:2]
}

// utcDate is the UTC calendar date of an RFC 3339 instant.
func utcDate(t *testing.T, s string) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("created %q is not RFC 3339: %v", s, err)
	}
	return at.UTC().Format("2006-01-02")
}

// rfc3339Z is Order.placedAt: Unix seconds as RFC 3339 in UTC with Z.
func rfc3339Z(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04:05Z")
}

// lineTotal is the sum of qty × unit price of an order's lines.
func lineTotal(o demo.Order) int64 {
	var sum int64
	for _, l := range o.Lines {
		sum += int64(l.Qty) * l.UnitPriceCents
	}
	return sum
}

// newestOrders returns the customer's orders newest first (placed_at
// descending, then id descending, as the demo orders service lists them).
func newestOrders(ds *demo.Dataset, customerID string) []demo.Order {
	var out []demo.Order
	for _, o := range ds.Orders {
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PlacedAt != out[j].PlacedAt {
			return out[i].PlacedAt > out[j].PlacedAt
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// selectedOrders is Customer.orders(first, includeCancelled).
func selectedOrders(ds *demo.Dataset, customerID string, first int, includeCancelled bool) []demo.Order {
	out := []demo.Order{}
	for _, o := range newestOrders(ds, customerID) {
		if len(out) == first {
			break
		}
		if o.Status == demo.StatusCancelled && !includeCancelled {
			continue
		}
		out = append(out, o)
	}
	return out
}

// hundredNewest are the orders totalSpent and recentOrderCount look at.
func hundredNewest(ds *demo.Dataset, customerID string) []demo.Order {
	all := newestOrders(ds, customerID)
	return all[:min(100, len(all))]
}

// totalSpentCents is Customer.totalSpent in cents.
func totalSpentCents(ds *demo.Dataset, customerID string) int64 {
	var sum int64
	for _, o := range hundredNewest(ds, customerID) {
		if o.Status != demo.StatusCancelled {
			sum += lineTotal(o)
		}
	}
	return sum
}

// recentCount is Customer.recentOrderCount(days) at the instant now.
func recentCount(ds *demo.Dataset, customerID string, days int, now int64) int {
	since := now - int64(days)*86400
	n := 0
	for _, o := range hundredNewest(ds, customerID) {
		if o.Status != demo.StatusCancelled && o.PlacedAt >= since {
			n++
		}
	}
	return n
}

// lastPayment is the payment Order.payment shows: the last one made.
func lastPayment(ds *demo.Dataset, orderID string) (demo.Payment, bool) {
	var last demo.Payment
	found := false
	for _, p := range ds.Payments {
		if p.OrderID == orderID {
			last, found = p, true
		}
	}
	return last, found
}

// searchResult is the catalog search for q, newest first (the demo adds
// products in sku order, so newest first is sku descending).
func searchResult(ds *demo.Dataset, q string) []demo.Product {
	q = strings.ToLower(q)
	var out []demo.Product
	for _, p := range ds.Products {
		match := q == "" || strings.Contains(strings.ToLower(p.Title), q)
		for _, tag := range p.Tags {
			match = match || strings.Contains(strings.ToLower(tag), q)
		}
		if match {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SKU > out[j].SKU })
	return out
}

// expect builds expected GraphQL values, shaped like the fragments above.
type expect struct {
	t  *testing.T
	ds *demo.Dataset
	// today is the UTC date the query ran on, for Shipment.delayed; empty
	// when the test asks for no shipment.
	today string
}

func (x expect) money(cents int64, currency string) map[string]any {
	return map[string]any{"cents": cents, "currency": strings.ToUpper(currency), "amount": amountString(cents)}
}

// customer is CustomerParts for id, or nil for an unknown id.
func (x expect) customer(id string) any {
	x.t.Helper()
	c, ok := x.ds.Customer(id)
	if !ok {
		return nil
	}
	var addr any
	if c.Address != nil {
		addr = map[string]any{"line1": c.Address.Line1, "city": c.Address.City,
			"postcode": c.Address.Postcode, "country": c.Address.Country}
	}
	return map[string]any{
		"id":          c.ID,
		"name":        c.FullName,
		"email":       c.Email,
		"tier":        strings.ToUpper(c.Tier),
		"memberSince": utcDate(x.t, c.Created),
		"address":     addr,
	}
}

func (x expect) stock(sku string) int { return x.ds.Stock[sku] }

// product is ProductParts for sku, or nil for an unknown sku.
func (x expect) product(sku string) any {
	x.t.Helper()
	p, ok := x.ds.Product(sku)
	if !ok {
		return nil
	}
	tags := []string{}
	tags = append(tags, p.Tags...)
	var desc any
	if p.Description != nil {
		desc = *p.Description
	}
	return map[string]any{
		"sku":         p.SKU,
		"title":       p.Title,
		"description": desc,
		"price":       x.money(priceCents(x.t, p.Price.Amount), p.Price.Currency),
		"tags":        tags,
		"stock":       x.stock(sku),
		"inStock":     x.stock(sku) > 0,
	}
}

// delayed is Shipment.delayed.
func (x expect) delayed(s demo.Shipment) bool {
	x.t.Helper()
	if x.today == "" {
		x.t.Fatal("expect.today is not set; the test must time its query")
	}
	if s.State != demo.ShipmentLabelCreated && s.State != demo.ShipmentInTransit {
		return false
	}
	eta := isoFromDDMMYYYY(x.t, s.ETA)
	return eta != nil && eta.(string) < x.today
}

// shipment is ShipmentParts of an order's shipment, or nil when it has none.
func (x expect) shipment(orderID string) any {
	x.t.Helper()
	s, ok := x.ds.Shipments[orderID]
	if !ok {
		return nil
	}
	return map[string]any{
		"trackingNumber":    s.TrackingNo,
		"carrier":           s.Carrier,
		"status":            strings.ToUpper(s.State),
		"shippedOn":         isoFromDDMMYYYY(x.t, s.Shipped),
		"estimatedDelivery": isoFromDDMMYYYY(x.t, s.ETA),
		"delayed":           x.delayed(s),
	}
}

// payment is PaymentParts of an order's last payment, or nil.
func (x expect) payment(orderID string) any {
	p, ok := lastPayment(x.ds, orderID)
	if !ok {
		return nil
	}
	return map[string]any{
		"id":     p.ID,
		"status": strings.ToUpper(p.Status),
		"amount": x.money(p.Amount.Value, p.Amount.Currency),
		"method": p.Method,
	}
}

func (x expect) line(o demo.Order, l demo.OrderLine) map[string]any {
	x.t.Helper()
	return map[string]any{
		"product":   x.product(l.SKU),
		"sku":       l.SKU,
		"quantity":  l.Qty,
		"unitPrice": x.money(l.UnitPriceCents, o.Currency),
		"subtotal":  x.money(int64(l.Qty)*l.UnitPriceCents, o.Currency),
	}
}

// order is OrderParts for id, or nil for an unknown id.
func (x expect) order(id string) any {
	x.t.Helper()
	o, ok := x.ds.Order(id)
	if !ok {
		return nil
	}
	lines := []any{}
	for _, l := range o.Lines {
		lines = append(lines, x.line(o, l))
	}
	return map[string]any{
		"id":       o.ID,
		"status":   strings.ToUpper(o.Status),
		"placedAt": rfc3339Z(o.PlacedAt),
		"customer": x.customer(o.CustomerID),
		"lines":    lines,
		"total":    x.money(lineTotal(o), o.Currency),
		"shipment": x.shipment(o.ID),
		"payment":  x.payment(o.ID),
	}
}

// summary is OrderSummary.
func (x expect) summary(o demo.Order) map[string]any {
	return map[string]any{
		"id":       o.ID,
		"status":   strings.ToUpper(o.Status),
		"placedAt": rfc3339Z(o.PlacedAt),
		"total":    x.money(lineTotal(o), o.Currency),
	}
}

func (x expect) summaries(os []demo.Order) []any {
	out := []any{}
	for _, o := range os {
		out = append(out, x.summary(o))
	}
	return out
}

func orderIDs(os []demo.Order) []any {
	out := []any{}
	for _, o := range os {
		out = append(out, map[string]any{"id": o.ID})
	}
	return out
}

// ---------------------------------------------------------------------------
// Timing: rules that depend on the clock are computed from the instants
// just before and just after the query.

// window is when a query ran.
type window struct{ from, to time.Time }

// timedQuery runs a query and notes when it ran.
func (e *env) timedQuery(token, query string, vars map[string]any) (response, window) {
	e.t.Helper()
	from := time.Now()
	r := e.query(token, query, vars)
	return r, window{from: from, to: time.Now()}
}

// today is the UTC date the query ran on. A query that ran across midnight
// UTC has no single answer for Shipment.delayed: the test is skipped.
func (w window) today(t *testing.T) string {
	t.Helper()
	a, b := w.from.UTC().Format("2006-01-02"), w.to.UTC().Format("2006-01-02")
	if a != b {
		t.Skipf("the query ran across midnight UTC (%s to %s)", a, b)
	}
	return a
}

// recent is the recentOrderCount the query must have answered. The count
// can only fall as time passes, so when an order left the window while the
// query ran, either answer is right and got is taken when it is one of them.
func (w window) recent(ds *demo.Dataset, customerID string, days int, got any) int {
	hi := recentCount(ds, customerID, days, w.from.Unix())
	lo := recentCount(ds, customerID, days, w.to.Unix()+1)
	if n, ok := got.(json.Number); ok {
		if v, err := n.Int64(); err == nil && int(v) >= lo && int(v) <= hi {
			return int(v)
		}
	}
	return hi
}

// ---------------------------------------------------------------------------
// Comparing answers.

// normalize turns a value (or raw JSON) into what encoding/json decodes it
// to, numbers kept exact.
func normalize(t *testing.T, v any) any {
	t.Helper()
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatalf("marshal expected value: %v", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return out
}

// jsonDiff lists where got and want differ, at most 25 places.
func jsonDiff(path string, got, want any, out *[]string) {
	if len(*out) >= 25 {
		return
	}
	show := func(v any) string {
		b, _ := json.Marshal(v)
		if len(b) > 300 {
			return string(b[:300]) + "…"
		}
		return string(b)
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want)))
			return
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: missing, want %s", path, k, show(wv)))
			case !wok:
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected %s", path, k, show(gv)))
			default:
				jsonDiff(path+"."+k, gv, wv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want)))
			return
		}
		if len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: got %d items, want %d", path, len(g), len(w)))
		}
		for i := range min(len(g), len(w)) {
			jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
	default:
		if !reflect.DeepEqual(got, want) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want)))
		}
	}
}

// assertJSON fails the test when got (raw JSON or a value) is not exactly
// want as JSON.
func assertJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	var diffs []string
	jsonDiff(what, normalize(t, got), normalize(t, want), &diffs)
	if len(diffs) > 0 {
		t.Errorf("the answer differs from the spec's:\n  %s", strings.Join(diffs, "\n  "))
	}
}

// dataOf decodes the response data into a generic value.
func dataOf(t *testing.T, r response) map[string]any {
	t.Helper()
	m, ok := normalize(t, r.Data).(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %s", r.Data)
	}
	return m
}

// mustOneError checks that the response has exactly one error, with that
// code at that path.
func mustOneError(t *testing.T, r response, code string, path ...any) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want one %s error at %v, got %d: %+v\ndata: %s", code, path, len(r.Errors), r.Errors, r.Data)
	}
	got := r.Errors[0]
	if c, _ := got.Extensions["code"].(string); c != code {
		t.Errorf("error code = %q, want %q (%s)", c, code, got.Message)
	}
	if fmt.Sprintf("%v", got.Path) != fmt.Sprintf("%v", path) {
		t.Errorf("error path = %v, want %v", got.Path, path)
	}
}

// ---------------------------------------------------------------------------
// Customers.

// TestCustomerFields checks every Customer field, first for every customer
// at once through customers(ids), then the fixed awkward cases through me.
func TestCustomerFields(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	support := e.token("staff-1", "support")

	t.Run("customers(ids) with every id answers every customer in the order asked", func(t *testing.T) {
		x := x
		x.t = t
		ids := make([]string, 0, len(ds.Customers))
		want := []any{}
		for i := len(ds.Customers) - 1; i >= 0; i-- { // reverse id order
			ids = append(ids, ds.Customers[i].ID)
			want = append(want, x.customer(ds.Customers[i].ID))
		}
		r := e.query(support, fieldsDoc(`query Everyone($ids: [ID!]!) { customers(ids: $ids) { ...CustomerParts } }`),
			map[string]any{"ids": ids}).mustOK(t)
		assertJSON(t, "customers", dataOf(t, r)["customers"], want)
	})

	tests := []struct {
		name string
		id   string
		// check holds assertions written out by hand from the demo's
		// documented fixtures, as a cross-check of the helpers.
		check func(t *testing.T, c map[string]any)
	}{
		{
			name: "a gold customer with an address created at Z",
			id:   demo.CustomerMostOrders,
			check: func(t *testing.T, c map[string]any) {
				want := map[string]any{"id": "c-0001", "name": "Ada Lovelace", "email": "ada@example.com", "tier": "GOLD",
					"memberSince": "2021-03-04", "address": map[string]any{"line1": "12 Analytical Row", "city": "London",
						"postcode": "N1 9GU", "country": "GB"}}
				assertJSON(t, "me", c, want)
			},
		},
		{
			name: "a silver customer's tier is upper-cased",
			id:   demo.CustomerNoOrders,
			check: func(t *testing.T, c map[string]any) {
				assertJSON(t, "me.tier", c["tier"], "SILVER")
			},
		},
		{
			name: "an address that is null is null",
			id:   demo.CustomerAddressNull,
			check: func(t *testing.T, c map[string]any) {
				if v, ok := c["address"]; !ok || v != nil {
					t.Errorf("address = %v (present %v), want null", v, ok)
				}
			},
		},
		{
			name: "an address key that is missing is null",
			id:   demo.CustomerAddressMissing,
			check: func(t *testing.T, c map[string]any) {
				if v, ok := c["address"]; !ok || v != nil {
					t.Errorf("address = %v (present %v), want null", v, ok)
				}
			},
		},
		{
			name: "memberSince of a +02:00 afternoon is the same day in UTC",
			id:   demo.CustomerOffsetCreated,
			check: func(t *testing.T, c map[string]any) {
				assertJSON(t, "me.memberSince", c["memberSince"], "2022-07-14")
			},
		},
		{
			name: "memberSince of half past midnight at +02:00 is the day before in UTC",
			id:   demo.CustomerCreatedDayBefore,
			check: func(t *testing.T, c map[string]any) {
				assertJSON(t, "me.memberSince", c["memberSince"], "2021-03-04")
			},
		},
		{
			name: "memberSince of 22:00 at -05:00 on New Year's Eve is New Year's Day in UTC",
			id:   demo.CustomerCreatedDayAfter,
			check: func(t *testing.T, c map[string]any) {
				assertJSON(t, "me.memberSince", c["memberSince"], "2021-01-01")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := x
			x.t = t
			r := e.query(e.token(tt.id), fieldsDoc(`{ me { ...CustomerParts } }`), nil).mustOK(t)
			me, _ := dataOf(t, r)["me"].(map[string]any)
			assertJSON(t, "me", me, x.customer(tt.id))
			tt.check(t, me)
		})
	}
}

// TestCustomerRootFieldAccess checks Query.me and Query.customer: who may
// read which customer, and the answers for unknown ids.
func TestCustomerRootFieldAccess(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	support := e.token("staff-1", "support")
	tests := []struct {
		name  string
		token string
		query string
		vars  map[string]any
		field string
		want  any // expected value of field when no error
		code  string
	}{
		{
			name:  "me answers the token's subject",
			token: e.token("c-0005"),
			query: `{ me { ...CustomerParts } }`,
			field: "me",
			want:  x.customer("c-0005"),
		},
		{
			name:  "a customer reads themself by id",
			token: e.token("c-0003"),
			query: `query One($id: ID!) { customer(id: $id) { ...CustomerParts } }`,
			vars:  map[string]any{"id": "c-0003"},
			field: "customer",
			want:  x.customer("c-0003"),
		},
		{
			name:  "support reads any customer",
			token: support,
			query: `query One($id: ID!) { customer(id: $id) { ...CustomerParts } }`,
			vars:  map[string]any{"id": "c-0042"},
			field: "customer",
			want:  x.customer("c-0042"),
		},
		{
			name:  "an unknown id asked by support is null without an error",
			token: support,
			query: `{ customer(id: "c-9999") { id name } }`,
			field: "customer",
			want:  nil,
		},
		{
			name:  "a customer asking for another customer is FORBIDDEN",
			token: e.token("c-0001"),
			query: `{ customer(id: "c-0002") { id name } }`,
			field: "customer",
			code:  "FORBIDDEN",
		},
		{
			name:  "customer without a token is UNAUTHENTICATED",
			query: `{ customer(id: "c-0001") { id } }`,
			field: "customer",
			code:  "UNAUTHENTICATED",
		},
		{
			name:  "me without a token is UNAUTHENTICATED",
			query: `{ me { id } }`,
			field: "me",
			code:  "UNAUTHENTICATED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.query(tt.token, fieldsDoc(tt.query), tt.vars)
			if tt.code != "" {
				mustOneError(t, r, tt.code, tt.field)
				assertJSON(t, "data", r.Data, map[string]any{tt.field: nil})
				return
			}
			r.mustOK(t)
			assertJSON(t, "data", r.Data, map[string]any{tt.field: tt.want})
		})
	}
}

// TestCustomersBatch checks Query.customers: the order of ids, nulls for
// unknown ids, repeated ids, long lists, and who may ask.
func TestCustomersBatch(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	support := e.token("staff-1", "support")

	// 150 ids: c-0001..c-0097 in a scrambled order, so repeats after the
	// 97th and those above c-0080 unknown, plus a few ids of another shape.
	var mixed []string
	for i := range 150 {
		switch i {
		case 10, 77, 149:
			mixed = append(mixed, fmt.Sprintf("nobody-%d", i))
		default:
			mixed = append(mixed, fmt.Sprintf("c-%04d", (i*7)%97+1))
		}
	}
	known, unknown, seen, repeated := 0, 0, map[string]bool{}, 0
	for _, id := range mixed {
		if _, ok := ds.Customer(id); ok {
			known++
		} else {
			unknown++
		}
		if seen[id] {
			repeated++
		}
		seen[id] = true
	}
	if known == 0 || unknown == 0 || repeated == 0 {
		t.Fatalf("the id list needs known (%d), unknown (%d) and repeated (%d) ids", known, unknown, repeated)
	}

	t.Run("150 ids mixing known, unknown and repeated ones answer in their order", func(t *testing.T) {
		want := []any{}
		for _, id := range mixed {
			c, ok := ds.Customer(id)
			if !ok {
				want = append(want, nil)
				continue
			}
			want = append(want, map[string]any{"id": c.ID, "name": c.FullName, "tier": strings.ToUpper(c.Tier)})
		}
		r := e.query(support, `query Many($ids: [ID!]!) { customers(ids: $ids) { id name tier } }`,
			map[string]any{"ids": mixed}).mustOK(t)
		assertJSON(t, "customers", dataOf(t, r)["customers"], want)
	})
	t.Run("a short list with aliases and an unknown id in the middle", func(t *testing.T) {
		x := x
		x.t = t
		r := e.query(support, fieldsDoc(`{
			people: customers(ids: ["c-0007", "c-0404", "c-0003"]) { ...CustomerParts }
			again: customers(ids: ["c-0004"]) { who: id since: memberSince address { country } }
		}`), nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{
			"people": []any{x.customer("c-0007"), nil, x.customer("c-0003")},
			"again":  []any{map[string]any{"who": "c-0004", "since": utcDate(t, mustCustomer(t, ds, "c-0004").Created), "address": nil}},
		})
	})
	t.Run("an empty list of ids answers an empty list", func(t *testing.T) {
		r := e.query(support, `{ customers(ids: []) { id } }`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"customers": []any{}})
	})
	t.Run("customers without scope support is FORBIDDEN", func(t *testing.T) {
		r := e.query(e.token("c-0001"), `{ customers(ids: ["c-0001"]) { id } }`, nil)
		mustOneError(t, r, "FORBIDDEN", "customers")
		assertJSON(t, "data", r.Data, map[string]any{"customers": nil})
	})
	t.Run("customers without a token is UNAUTHENTICATED", func(t *testing.T) {
		r := e.query("", `{ customers(ids: ["c-0001"]) { id } }`, nil)
		mustOneError(t, r, "UNAUTHENTICATED", "customers")
		assertJSON(t, "data", r.Data, map[string]any{"customers": nil})
	})
}

func mustCustomer(t *testing.T, ds *demo.Dataset, id string) demo.Customer {
	t.Helper()
	c, ok := ds.Customer(id)
	if !ok {
		t.Fatalf("demo has no customer %s", id)
	}
	return c
}

// TestCustomerOrdersArguments checks Customer.orders with its defaults and
// with every kind of first and includeCancelled.
func TestCustomerOrdersArguments(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	ada := demo.CustomerMostOrders
	cancelled := 0
	for _, o := range newestOrders(ds, ada) {
		if o.Status == demo.StatusCancelled {
			cancelled++
		}
	}
	if n := len(newestOrders(ds, ada)); n != 30 || cancelled == 0 {
		t.Fatalf("%s has %d orders, %d cancelled; the test needs 30 with some cancelled", ada, n, cancelled)
	}

	tests := []struct {
		name     string
		customer string
		args     string
		vars     map[string]any
		first    int
		incl     bool
	}{
		{name: "the default is the 10 newest orders that are not cancelled", customer: ada, args: "", first: 10},
		{name: "first 5 is the 5 newest that are not cancelled", customer: ada, args: "(first: 5)", first: 5},
		{name: "first 1 is the newest that is not cancelled", customer: ada, args: "(first: 1)", first: 1},
		{name: "includeCancelled keeps cancelled orders in their place", customer: ada, args: "(includeCancelled: true)", first: 10, incl: true},
		{name: "includeCancelled false is the default's answer", customer: ada, args: "(first: 10, includeCancelled: false)", first: 10},
		{name: "first 50 with cancelled ones returns all 30", customer: ada, args: "(first: 50, includeCancelled: true)", first: 50, incl: true},
		{name: "first 50 without cancelled ones returns every one not cancelled", customer: ada, args: "(first: 50)", first: 50},
		{name: "first 25 with cancelled ones stops at 25", customer: ada, args: "(first: 25, includeCancelled: true)", first: 25, incl: true},
		{
			name: "first and includeCancelled from variables", customer: ada,
			args: "(first: $first, includeCancelled: $incl)", vars: map[string]any{"first": 12, "incl": true},
			first: 12, incl: true,
		},
		{name: "a customer without orders has an empty list", customer: demo.CustomerNoOrders, args: "(first: 50, includeCancelled: true)", first: 50, incl: true},
		{name: "another customer's default list", customer: "c-0010", args: "", first: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := x
			x.t = t
			decl := ""
			if tt.vars != nil {
				decl = "($first: Int, $incl: Boolean)"
			}
			q := fieldsDoc(`query Orders` + decl + ` { me { id orders` + tt.args + ` { ...OrderSummary } } }`)
			r := e.query(e.token(tt.customer), q, tt.vars).mustOK(t)
			want := selectedOrders(ds, tt.customer, tt.first, tt.incl)
			assertJSON(t, "data", r.Data, map[string]any{"me": map[string]any{
				"id": tt.customer, "orders": x.summaries(want)}})
		})
	}

	bad := []struct {
		name  string
		field string
		query string
	}{
		{name: "orders first 0 is BAD_USER_INPUT and only orders is null", field: "orders", query: `{ me { id orders(first: 0) { id } } }`},
		{name: "orders first 51 is BAD_USER_INPUT and only orders is null", field: "orders", query: `{ me { id orders(first: 51) { id } } }`},
		{name: "orders first -1 is BAD_USER_INPUT and only orders is null", field: "orders", query: `{ me { id orders(first: -1) { id } } }`},
		{name: "recentOrderCount days 0 is BAD_USER_INPUT and only it is null", field: "recentOrderCount", query: `{ me { id recentOrderCount(days: 0) } }`},
		{name: "recentOrderCount days 366 is BAD_USER_INPUT and only it is null", field: "recentOrderCount", query: `{ me { id recentOrderCount(days: 366) } }`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := e.query(e.token(ada), tt.query, nil)
			mustOneError(t, r, "BAD_USER_INPUT", "me", tt.field)
			assertJSON(t, "data", r.Data, map[string]any{"me": map[string]any{"id": ada, tt.field: nil}})
		})
	}
}

// TestEveryCustomersOrdersAndTotals checks, for every demo customer, the
// summary of each order, Customer.orders with and without cancelled ones,
// totalSpent and recentOrderCount for 1, 7, 30 (the default) and 365 days.
func TestEveryCustomersOrdersAndTotals(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	support := e.token("staff-1", "support")
	query := fieldsDoc(`query Customer($id: ID!) {
		customer(id: $id) {
			...CustomerParts
			orders(first: 50, includeCancelled: true) { ...OrderSummary }
			notCancelled: orders(first: 50) { id }
			byDefault: orders { id }
			totalSpent { ...MoneyParts }
			recentOrderCount
			day: recentOrderCount(days: 1)
			week: recentOrderCount(days: 7)
			year: recentOrderCount(days: 365)
		}
	}`)

	// The fixed customer, with numbers worked out by hand from data.go:
	// 8 recent orders, one of them cancelled, the newest placed today
	// before the start of the day or yesterday.
	t.Run("c-0001 has 7 not-cancelled orders in the last 30 days", func(t *testing.T) {
		r, w := e.timedQuery(support, query, map[string]any{"id": demo.CustomerMostOrders})
		r.mustOK(t)
		c, _ := dataOf(t, r)["customer"].(map[string]any)
		if got := w.recent(ds, demo.CustomerMostOrders, 30, c["recentOrderCount"]); got != 7 {
			t.Errorf("recentOrderCount by the rule = %d; the demo documents 7", got)
		}
		assertJSON(t, "customer.recentOrderCount", c["recentOrderCount"], 7)
	})

	for _, c := range ds.Customers {
		t.Run("every field of customer "+c.ID+" and of its orders", func(t *testing.T) {
			x := expect{t: t, ds: ds}
			r, w := e.timedQuery(support, query, map[string]any{"id": c.ID})
			r.mustOK(t)
			got, _ := dataOf(t, r)["customer"].(map[string]any)
			want := x.customer(c.ID).(map[string]any)
			want["orders"] = x.summaries(selectedOrders(ds, c.ID, 50, true))
			want["notCancelled"] = orderIDs(selectedOrders(ds, c.ID, 50, false))
			want["byDefault"] = orderIDs(selectedOrders(ds, c.ID, 10, false))
			want["totalSpent"] = x.money(totalSpentCents(ds, c.ID), "EUR")
			want["recentOrderCount"] = w.recent(ds, c.ID, 30, got["recentOrderCount"])
			want["day"] = w.recent(ds, c.ID, 1, got["day"])
			want["week"] = w.recent(ds, c.ID, 7, got["week"])
			want["year"] = w.recent(ds, c.ID, 365, got["year"])
			assertJSON(t, "customer", got, want)
		})
	}
}

// TestTotalsAmongTheHundredNewestOrders gives a customer more than 100
// orders and checks that totalSpent and recentOrderCount look at the 100
// newest only (cancelled ones among them dropped), as graphql-api.md says.
func TestTotalsAmongTheHundredNewestOrders(t *testing.T) {
	e := newEnv(t, nil)
	cust := demo.CustomerNoOrders
	var ids []string
	for i := range 103 {
		ids = append(ids, postDemoOrder(t, e.demo, cust, int64(1000+i)))
	}
	// The newest order and one in the middle are cancelled: the 100 newest
	// hold 98 that count; the 2 oldest of all are not among them.
	cancelDemoOrder(t, e.demo, ids[102])
	cancelDemoOrder(t, e.demo, ids[50])
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	if n := len(newestOrders(ds, cust)); n != 103 {
		t.Fatalf("%s has %d orders, want 103", cust, n)
	}
	var wantCents int64
	for i := 3; i < 102; i++ {
		if i != 50 {
			wantCents += int64(1000 + i)
		}
	}
	if got := totalSpentCents(ds, cust); got != wantCents {
		t.Fatalf("the test's own rule gives %d, the hand count %d", got, wantCents)
	}

	r, w := e.timedQuery(e.token(cust), fieldsDoc(`{ me {
		orders(first: 50) { ...OrderSummary }
		withCancelled: orders(first: 3, includeCancelled: true) { id status }
		totalSpent { ...MoneyParts }
		recentOrderCount(days: 1)
	} }`), nil)
	r.mustOK(t)
	me, _ := dataOf(t, r)["me"].(map[string]any)
	newest := newestOrders(ds, cust)
	assertJSON(t, "me", me, map[string]any{
		"orders": x.summaries(selectedOrders(ds, cust, 50, false)),
		"withCancelled": []any{
			map[string]any{"id": newest[0].ID, "status": "CANCELLED"},
			map[string]any{"id": newest[1].ID, "status": "PENDING"},
			map[string]any{"id": newest[2].ID, "status": "PENDING"},
		},
		"totalSpent":       x.money(wantCents, "EUR"),
		"recentOrderCount": w.recent(ds, cust, 1, me["recentOrderCount"]),
	})
	assertJSON(t, "me.recentOrderCount", me["recentOrderCount"], 98)
}

// postDemoOrder creates an order of one line straight at the demo orders
// service and returns its id.
func postDemoOrder(t *testing.T, d *demo.Demo, customerID string, cents int64) string {
	t.Helper()
	body := fmt.Sprintf(`{"customer_id": %q, "currency": "EUR", "lines": [{"sku": "SKU-0001", "qty": 1, "unit_price_cents": %d}]}`,
		customerID, cents)
	rec := demoCall(t, d, http.MethodPost, "/orders", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /orders: %d %s", rec.Code, rec.Body)
	}
	var o demo.Order
	if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
		t.Fatalf("decode order: %v", err)
	}
	return o.ID
}

// cancelDemoOrder cancels an order straight at the demo orders service.
func cancelDemoOrder(t *testing.T, d *demo.Demo, id string) {
	t.Helper()
	rec := demoCall(t, d, http.MethodPost, "/orders/"+id+"/status", `{"status": "cancelled"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel %s: %d %s", id, rec.Code, rec.Body)
	}
}

func demoCall(t *testing.T, d *demo.Demo, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", d.APIKey("orders"))
	rec := httptest.NewRecorder()
	d.Handler("orders").ServeHTTP(rec, req)
	return rec
}

// ---------------------------------------------------------------------------
// Orders.

// TestOrderRootFieldAccess checks Query.order: own orders, other customers'
// orders, unknown ids and support staff.
func TestOrderRootFieldAccess(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	someoneElses := newestOrders(ds, "c-0010")[0].ID
	tests := []struct {
		name    string
		token   string
		id      string
		visible bool
		code    string
	}{
		{name: "a customer reads their own order", token: e.token("c-0001"), id: demo.OrderDeclinedThenCaptured, visible: true},
		{name: "another customer's order is null without an error", token: e.token("c-0003"), id: demo.OrderDeclinedThenCaptured},
		{name: "an unknown order is null without an error", token: e.token("c-0001"), id: "o-999999"},
		{name: "support reads any customer's order", token: e.token("staff-1", "support"), id: someoneElses, visible: true},
		{name: "support asking for an unknown order gets null without an error", token: e.token("staff-1", "support"), id: "o-999999"},
		{name: "order without a token is UNAUTHENTICATED", id: demo.OrderDeclinedThenCaptured, code: "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := e.timedQuery(tt.token, fieldsDoc(`query One($id: ID!) { order(id: $id) { ...OrderParts } }`),
				map[string]any{"id": tt.id})
			if tt.code != "" {
				mustOneError(t, r, tt.code, "order")
				assertJSON(t, "data", r.Data, map[string]any{"order": nil})
				return
			}
			r.mustOK(t)
			var want any
			if tt.visible {
				want = expect{t: t, ds: ds, today: w.today(t)}.order(tt.id)
			}
			assertJSON(t, "data", r.Data, map[string]any{"order": want})
		})
	}
}

// TestOrderFields checks every field of Order, OrderLine, Shipment, Payment
// and Money on every order of c-0001, which holds every awkward case, and on
// a sample of the other customers' orders.
func TestOrderFields(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	ada := e.token(demo.CustomerMostOrders)
	query := fieldsDoc(`query One($id: ID!) { order(id: $id) { ...OrderParts } }`)

	// fetch runs the query and compares the whole order; it returns the
	// order as answered for the hand-written checks.
	fetch := func(t *testing.T, token, id string) map[string]any {
		t.Helper()
		r, w := e.timedQuery(token, query, map[string]any{"id": id})
		r.mustOK(t)
		got, _ := dataOf(t, r)["order"].(map[string]any)
		assertJSON(t, "order", got, expect{t: t, ds: ds, today: w.today(t)}.order(id))
		return got
	}
	path := func(v any, keys ...any) any {
		for _, k := range keys {
			switch k := k.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}

	// Each fixed case, with the point it makes checked by hand besides the
	// whole comparison.
	tests := []struct {
		name  string
		id    string
		check func(t *testing.T, o map[string]any)
	}{
		{
			name: "a line whose sku the catalog does not know has product null and no error",
			id:   demo.OrderUnknownSKU,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.lines[2].sku", path(o, "lines", 2, "sku"), demo.UnknownSKU)
				if p, ok := path(o, "lines", 2).(map[string]any)["product"]; !ok || p != nil {
					t.Errorf("lines[2].product = %v, want null", p)
				}
				if path(o, "lines", 0, "product") == nil {
					t.Errorf("lines[0].product is null, want the product")
				}
			},
		},
		{
			name: "of a declined then a captured payment, the captured one counts",
			id:   demo.OrderDeclinedThenCaptured,
			check: func(t *testing.T, o map[string]any) {
				if n := len(ds.PaymentsOf(demo.OrderDeclinedThenCaptured)); n != 2 {
					t.Fatalf("demo fixture: %d payments, want 2", n)
				}
				assertJSON(t, "order.payment.status", path(o, "payment", "status"), "CAPTURED")
				assertJSON(t, "order.status", o["status"], "DELIVERED")
			},
		},
		{
			name: "an in-transit shipment with an eta long past is delayed",
			id:   demo.OrderDelayed,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.status", path(o, "shipment", "status"), "IN_TRANSIT")
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), true)
			},
		},
		{
			name: "a delivered order without a shipment has shipment null and no error",
			id:   demo.OrderDeliveredNoShipment,
			check: func(t *testing.T, o map[string]any) {
				if s, ok := o["shipment"]; !ok || s != nil {
					t.Errorf("shipment = %v, want null", s)
				}
			},
		},
		{
			name: "a returned shipment is not delayed and a refunded payment is REFUNDED",
			id:   demo.OrderReturned,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.status", path(o, "shipment", "status"), "RETURNED")
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), false)
				assertJSON(t, "order.payment.status", path(o, "payment", "status"), "REFUNDED")
			},
		},
		{
			name: "a label with shipped null and an eta past is delayed",
			id:   demo.OrderLabelPastETA,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.status", path(o, "shipment", "status"), "LABEL_CREATED")
				assertJSON(t, "order.shipment.shippedOn", path(o, "shipment", "shippedOn"), nil)
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), true)
			},
		},
		{
			name: "an order without any payment has payment null and no error",
			id:   demo.OrderNoPayment,
			check: func(t *testing.T, o map[string]any) {
				if p, ok := o["payment"]; !ok || p != nil {
					t.Errorf("payment = %v, want null", p)
				}
			},
		},
		{
			name: "a cancelled order is CANCELLED with neither shipment nor payment",
			id:   "o-000010",
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.status", o["status"], "CANCELLED")
			},
		},
		{
			name: "an in-transit shipment without an eta is not delayed",
			id:   demo.OrderInTransitNoETA,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.estimatedDelivery", path(o, "shipment", "estimatedDelivery"), nil)
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), false)
			},
		},
		{
			name: "a label without shipped and eta has both dates null and is not delayed",
			id:   demo.OrderLabelNoDates,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.shippedOn", path(o, "shipment", "shippedOn"), nil)
				assertJSON(t, "order.shipment.estimatedDelivery", path(o, "shipment", "estimatedDelivery"), nil)
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), false)
			},
		},
		{
			name: "an order of five lines answers five lines in order",
			id:   demo.OrderFiveLines,
			check: func(t *testing.T, o map[string]any) {
				if l, _ := o["lines"].([]any); len(l) != 5 {
					t.Errorf("%d lines, want 5", len(l))
				}
			},
		},
		{
			name: "a recent cancelled order has its refunded payment",
			id:   demo.OrderCancelledRefunded,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.status", o["status"], "CANCELLED")
				assertJSON(t, "order.payment.status", path(o, "payment", "status"), "REFUNDED")
			},
		},
		{
			name: "a shipment due yesterday is delayed",
			id:   demo.OrderETAYesterday,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment.delayed", path(o, "shipment", "delayed"), true)
			},
		},
		{
			name:  "a shipment due on the demo's day is not delayed that day",
			id:    demo.OrderETAToday,
			check: func(t *testing.T, o map[string]any) {}, // day-dependent: the whole comparison decides
		},
		{
			name: "a paid order without a shipment, declined then captured",
			id:   demo.OrderPaidNoShipment,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.shipment", o["shipment"], nil)
				assertJSON(t, "order.payment.status", path(o, "payment", "status"), "CAPTURED")
			},
		},
		{
			name: "a pending order whose only payment was declined shows it DECLINED",
			id:   demo.OrderOnlyDeclined,
			check: func(t *testing.T, o map[string]any) {
				assertJSON(t, "order.status", o["status"], "PENDING")
				assertJSON(t, "order.payment.status", path(o, "payment", "status"), "DECLINED")
			},
		},
	}
	done := map[string]bool{}
	for _, tt := range tests {
		done[tt.id] = true
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, fetch(t, ada, tt.id))
		})
	}
	for _, o := range newestOrders(ds, demo.CustomerMostOrders) {
		if done[o.ID] {
			continue
		}
		t.Run("every field of c-0001's order "+o.ID, func(t *testing.T) {
			fetch(t, ada, o.ID)
		})
	}
	support := e.token("staff-1", "support")
	for i := 40; i < len(ds.Orders); i += 37 {
		o := ds.Orders[i]
		t.Run("every field of "+o.CustomerID+"'s order "+o.ID+" read by support", func(t *testing.T) {
			fetch(t, support, o.ID)
		})
	}
	t.Run("Money in every currency position: total, unit price, subtotal and payment amount of o-000001", func(t *testing.T) {
		// Worked by hand from the wire: a single line.
		o, _ := ds.Order("o-000001")
		if len(o.Lines) != 1 {
			t.Fatalf("demo fixture: o-000001 has %d lines, want 1", len(o.Lines))
		}
		l := o.Lines[0]
		cents := int64(l.Qty) * l.UnitPriceCents
		r := e.query(ada, `{ order(id: "o-000001") {
			total { cents currency amount }
			lines { unitPrice { cents currency amount } subtotal { cents amount } }
			payment { amount { cents currency amount } }
		} }`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"order": map[string]any{
			"total": map[string]any{"cents": cents, "currency": "EUR", "amount": amountString(cents)},
			"lines": []any{map[string]any{
				"unitPrice": map[string]any{"cents": l.UnitPriceCents, "currency": "EUR", "amount": amountString(l.UnitPriceCents)},
				"subtotal":  map[string]any{"cents": cents, "amount": amountString(cents)},
			}},
			"payment": map[string]any{"amount": map[string]any{"cents": cents, "currency": "EUR", "amount": amountString(cents)}},
		}})
	})
}

// ---------------------------------------------------------------------------
// Products.

// TestProductFields checks every Product field on the demo's fixed products
// through product(sku) and productsBySku.
func TestProductFields(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	tests := []struct {
		name  string
		sku   string
		check func(t *testing.T, p map[string]any)
	}{
		{
			name: "a whole-euro price \"20\" is 2000 cents",
			sku:  demo.SKUPriceWhole,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.price", p["price"], map[string]any{"cents": 2000, "currency": "EUR", "amount": "20.00"})
			},
		},
		{
			name: "a one-decimal price \"20.5\" is 2050 cents and a null description stays null",
			sku:  demo.SKUPriceOneDecimal,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.price", p["price"], map[string]any{"cents": 2050, "currency": "EUR", "amount": "20.50"})
				assertJSON(t, "product.description", p["description"], nil)
			},
		},
		{
			name: "a two-decimal price \"20.50\" is 2050 cents and missing tags are []",
			sku:  demo.SKUPriceTwoDecimals,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.price", p["price"], map[string]any{"cents": 2050, "currency": "EUR", "amount": "20.50"})
				assertJSON(t, "product.tags", p["tags"], []any{})
			},
		},
		{
			name: "empty tags are []",
			sku:  demo.SKUTagsEmpty,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.tags", p["tags"], []any{})
				assertJSON(t, "product.price.cents", path2(p, "price", "cents"), 1999)
			},
		},
		{
			name: "a sku absent from stock has stock 0 and is not in stock",
			sku:  demo.SKUNotStocked,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.stock", p["stock"], 0)
				assertJSON(t, "product.inStock", p["inStock"], false)
			},
		},
		{
			name: "a sku with 0 units is not in stock",
			sku:  demo.SKUOutOfStock,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.stock", p["stock"], 0)
				assertJSON(t, "product.inStock", p["inStock"], false)
			},
		},
		{
			name: "a sku with 2 units is in stock",
			sku:  demo.SKULowStock,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product.stock", p["stock"], 2)
				assertJSON(t, "product.inStock", p["inStock"], true)
			},
		},
		{
			name: "the spec's example product",
			sku:  demo.SKUEngine,
			check: func(t *testing.T, p map[string]any) {
				assertJSON(t, "product", p, map[string]any{"sku": "SKU-0042", "title": "Brass Difference Engine",
					"description": nil, "price": map[string]any{"cents": 1999, "currency": "EUR", "amount": "19.99"},
					"tags": []any{"brass", "engines"}, "stock": x.stock("SKU-0042"), "inStock": x.stock("SKU-0042") > 0})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := x
			x.t = t
			r := e.query("", fieldsDoc(`query One($sku: ID!) { product(sku: $sku) { ...ProductParts } }`),
				map[string]any{"sku": tt.sku}).mustOK(t)
			p, _ := dataOf(t, r)["product"].(map[string]any)
			assertJSON(t, "product", p, x.product(tt.sku))
			tt.check(t, p)
		})
	}
	t.Run("an unknown sku is null without an error", func(t *testing.T) {
		r := e.query("", `{ product(sku: "SKU-9999") { sku title } }`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"product": nil})
	})
	t.Run("aliases of product with inline fragments answer each sku", func(t *testing.T) {
		r := e.query("", `{
			whole: product(sku: "SKU-0001") { ... on Product { price { cents amount } } }
			half: product(sku: "SKU-0002") { price { cents amount } units: stock }
			nothing: product(sku: "nope") { sku }
		}`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{
			"whole":   map[string]any{"price": map[string]any{"cents": 2000, "amount": "20.00"}},
			"half":    map[string]any{"price": map[string]any{"cents": 2050, "amount": "20.50"}, "units": x.stock("SKU-0002")},
			"nothing": nil,
		})
	})
	t.Run("the price of every product in the catalog", func(t *testing.T) {
		x := x
		x.t = t
		skus := make([]string, 0, len(ds.Products))
		want := []any{}
		for _, p := range ds.Products[:100] {
			skus = append(skus, p.SKU)
			want = append(want, map[string]any{"sku": p.SKU, "price": x.money(priceCents(t, p.Price.Amount), p.Price.Currency)})
		}
		r := e.query("", fieldsDoc(`query Prices($skus: [ID!]!) { productsBySku(skus: $skus) { sku price { ...MoneyParts } } }`),
			map[string]any{"skus": skus}).mustOK(t)
		assertJSON(t, "productsBySku", dataOf(t, r)["productsBySku"], want)
	})
}

func path2(m map[string]any, a, b string) any {
	inner, _ := m[a].(map[string]any)
	return inner[b]
}

// TestProductsBySku checks Query.productsBySku: the order of skus, nulls
// for unknown ones, repeats and long lists.
func TestProductsBySku(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}

	t.Run("skus keep their order, unknown ones are null and repeated ones repeat", func(t *testing.T) {
		x := x
		x.t = t
		skus := []string{"SKU-0007", demo.UnknownSKU, "SKU-0001", "SKU-0007", "not-a-sku", "SKU-0300", "SKU-0005"}
		want := []any{}
		for _, s := range skus {
			want = append(want, x.product(s))
		}
		r := e.query("", fieldsDoc(`query Some($skus: [ID!]!) { productsBySku(skus: $skus) { ...ProductParts } }`),
			map[string]any{"skus": skus}).mustOK(t)
		assertJSON(t, "productsBySku", dataOf(t, r)["productsBySku"], want)
	})
	t.Run("150 skus mixing known, unknown and repeated ones answer in their order", func(t *testing.T) {
		var skus []string
		for i := range 150 {
			skus = append(skus, fmt.Sprintf("SKU-%04d", 300-(i*11)%320)) // SKU-0300 down; some <= 0 or repeated
		}
		skus[3], skus[99], skus[100] = demo.UnknownSKU, "SKU-0001", "SKU-0001"
		known, unknown := 0, 0
		for _, s := range skus {
			if _, ok := ds.Product(s); ok {
				known++
			} else {
				unknown++
			}
		}
		if known < 100 || unknown == 0 {
			t.Fatalf("the sku list needs over 100 known (%d) and some unknown (%d) skus", known, unknown)
		}
		want := []any{}
		for _, s := range skus {
			p, ok := ds.Product(s)
			if !ok {
				want = append(want, nil)
				continue
			}
			want = append(want, map[string]any{"sku": p.SKU, "title": p.Title,
				"price": map[string]any{"cents": priceCents(t, p.Price.Amount)}, "stock": x.stock(s), "inStock": x.stock(s) > 0})
		}
		r := e.query("", `query Many($skus: [ID!]!) { productsBySku(skus: $skus) { sku title price { cents } stock inStock } }`,
			map[string]any{"skus": skus}).mustOK(t)
		assertJSON(t, "productsBySku", dataOf(t, r)["productsBySku"], want)
	})
	t.Run("an empty list of skus answers an empty list", func(t *testing.T) {
		r := e.query("", `{ productsBySku(skus: []) { sku } }`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"productsBySku": []any{}})
	})
}

// connection is a decoded ProductConnection.
type connection struct {
	Edges []struct {
		Cursor string          `json:"cursor"`
		Node   json.RawMessage `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

// productsPage runs a products query and decodes its connection; query must
// select edges { cursor node { ... } } and pageInfo { hasNextPage endCursor }.
func productsPage(t *testing.T, e *env, query string, vars map[string]any) connection {
	t.Helper()
	r := e.query("", query, vars).mustOK(t)
	var d struct {
		Products *connection `json:"products"`
	}
	r.decode(t, &d)
	if d.Products == nil {
		t.Fatalf("products is null: %s", r.Data)
	}
	return *d.Products
}

// checkPage compares a page with the products it must hold, and checks its
// cursors and pageInfo.
func checkPage(t *testing.T, c connection, want []any, hasNext bool) {
	t.Helper()
	if want == nil {
		want = []any{}
	}
	nodes := make([]json.RawMessage, len(c.Edges))
	seen := map[string]bool{}
	for i, edge := range c.Edges {
		nodes[i] = edge.Node
		if edge.Cursor == "" {
			t.Errorf("edge %d has an empty cursor", i)
		}
		if seen[edge.Cursor] {
			t.Errorf("edge %d repeats the cursor of an earlier edge", i)
		}
		seen[edge.Cursor] = true
	}
	assertJSON(t, "products.edges[].node", nodes, want)
	if c.PageInfo.HasNextPage != hasNext {
		t.Errorf("pageInfo.hasNextPage = %v, want %v", c.PageInfo.HasNextPage, hasNext)
	}
	switch {
	case len(c.Edges) == 0 && c.PageInfo.EndCursor != nil:
		t.Errorf("pageInfo.endCursor = %q with no edges, want null", *c.PageInfo.EndCursor)
	case len(c.Edges) > 0 && c.PageInfo.EndCursor == nil:
		t.Errorf("pageInfo.endCursor is null, want the last edge's cursor")
	case len(c.Edges) > 0 && *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor:
		t.Errorf("pageInfo.endCursor = %q, want the last edge's cursor %q", *c.PageInfo.EndCursor, c.Edges[len(c.Edges)-1].Cursor)
	}
}

// lightNodes is the node { sku title tags } of each product.
func lightNodes(ps []demo.Product) []any {
	out := []any{}
	for _, p := range ps {
		tags := append([]string{}, p.Tags...)
		out = append(out, map[string]any{"sku": p.SKU, "title": p.Title, "tags": tags})
	}
	return out
}

const lightSearch = `query Search($q: String, $first: Int, $after: String) {
	products(search: $q, first: $first, after: $after) {
		edges { cursor node { sku title tags } }
		pageInfo { hasNextPage endCursor }
	}
}`

// TestProductsSearch checks Query.products: search text, first and
// pageInfo on single pages.
func TestProductsSearch(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	all := searchResult(ds, "")
	if len(all) != len(ds.Products) || all[0].SKU != "SKU-0300" {
		t.Fatalf("the whole catalog search starts at %s with %d products", all[0].SKU, len(all))
	}
	titleOnly, tagOnly := "kETTLE", "Kitchen"
	for _, p := range searchResult(ds, titleOnly) {
		for _, tag := range p.Tags {
			if strings.Contains(strings.ToLower(tag), "kettle") {
				t.Fatalf("%q must match titles only; %s has tag %q", titleOnly, p.SKU, tag)
			}
		}
	}
	for _, p := range searchResult(ds, tagOnly) {
		if strings.Contains(strings.ToLower(p.Title), "kitchen") {
			t.Fatalf("%q must match tags only; %s is %q", tagOnly, p.SKU, p.Title)
		}
	}
	kettles := searchResult(ds, titleOnly)
	if len(kettles) < 3 || len(searchResult(ds, tagOnly)) < 3 {
		t.Fatalf("the searches need a few matches each")
	}

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  []demo.Product
		next  bool
	}{
		{
			name:  "no search and no first is the 20 newest products",
			query: `{ products { edges { cursor node { sku title tags } } pageInfo { hasNextPage endCursor } } }`,
			want:  all[:20], next: true,
		},
		{
			name: "search null is the whole catalog", query: lightSearch,
			vars: map[string]any{"q": nil, "first": 100}, want: all[:100], next: true,
		},
		{
			name: "search empty is the whole catalog", query: lightSearch,
			vars: map[string]any{"q": "", "first": 100}, want: all[:100], next: true,
		},
		{
			name: "first 1 is the newest product", query: lightSearch,
			vars: map[string]any{"first": 1}, want: all[:1], next: true,
		},
		{
			name: "search matches titles case-insensitively", query: lightSearch,
			vars: map[string]any{"q": titleOnly, "first": 100}, want: kettles, next: false,
		},
		{
			name: "search matches tags case-insensitively", query: lightSearch,
			vars: map[string]any{"q": tagOnly, "first": 100}, want: searchResult(ds, tagOnly), next: false,
		},
		{
			name: "search matching titles or tags, upper case", query: lightSearch,
			vars: map[string]any{"q": "BRASS", "first": 100}, want: searchResult(ds, "brass"), next: false,
		},
		{
			name: "first exactly the number of matches: no next page", query: lightSearch,
			vars: map[string]any{"q": titleOnly, "first": len(kettles)}, want: kettles, next: false,
		},
		{
			name: "first one less than the number of matches: a next page", query: lightSearch,
			vars: map[string]any{"q": titleOnly, "first": len(kettles) - 1}, want: kettles[:len(kettles)-1], next: true,
		},
		{
			name: "a search that matches nothing has no edges, a null endCursor and no next page", query: lightSearch,
			vars: map[string]any{"q": "no product is called this", "first": 10}, want: nil, next: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := productsPage(t, e, tt.query, tt.vars)
			checkPage(t, c, lightNodes(tt.want), tt.next)
		})
	}
}

// TestProductsCursors checks after: resuming right behind any edge, paging
// through whole lists, and refusing cursors the gateway did not make.
func TestProductsCursors(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	x := expect{t: t, ds: ds}
	all := searchResult(ds, "")

	t.Run("after an edge's cursor returns the products right after that edge", func(t *testing.T) {
		first := productsPage(t, e, lightSearch, map[string]any{"first": 10})
		checkPage(t, first, lightNodes(all[:10]), true)
		for _, i := range []int{0, 3, 9} {
			c := productsPage(t, e, lightSearch, map[string]any{"first": 5, "after": first.Edges[i].Cursor})
			checkPage(t, c, lightNodes(all[i+1:i+6]), true)
		}
	})
	t.Run("after an edge's cursor in a search returns the matches right after it", func(t *testing.T) {
		brass := searchResult(ds, "brass")
		first := productsPage(t, e, lightSearch, map[string]any{"q": "brass", "first": 8})
		checkPage(t, first, lightNodes(brass[:8]), true)
		c := productsPage(t, e, lightSearch, map[string]any{"q": "brass", "first": 4, "after": first.Edges[5].Cursor})
		checkPage(t, c, lightNodes(brass[6:10]), true)
	})
	t.Run("after an edge deep in the catalog, past a catalog page of 100", func(t *testing.T) {
		p1 := productsPage(t, e, lightSearch, map[string]any{"first": 100})
		p2 := productsPage(t, e, lightSearch, map[string]any{"first": 100, "after": p1.Edges[97].Cursor})
		checkPage(t, p2, lightNodes(all[98:198]), true)
		p3 := productsPage(t, e, lightSearch, map[string]any{"first": 100, "after": p2.Edges[99].Cursor})
		checkPage(t, p3, lightNodes(all[198:298]), true)
	})
	t.Run("paging the whole catalog by 37 visits every product once, newest first, every field right", func(t *testing.T) {
		x := x
		x.t = t
		q := fieldsDoc(`query Page($after: String) { products(first: 37, after: $after) {
			edges { cursor node { ...ProductParts } }
			pageInfo { hasNextPage endCursor }
		} }`)
		var after any
		visited := map[string]int{}
		for start := 0; ; start += 37 {
			if start > len(all) {
				t.Fatalf("paging did not end after %d products", start)
			}
			c := productsPage(t, e, q, map[string]any{"after": after})
			end := min(start+37, len(all))
			want := []any{}
			for _, p := range all[start:end] {
				want = append(want, x.product(p.SKU))
			}
			checkPage(t, c, want, end < len(all))
			for _, edge := range c.Edges {
				var n struct{ SKU string }
				_ = json.Unmarshal(edge.Node, &n)
				visited[n.SKU]++
			}
			if !c.PageInfo.HasNextPage || c.PageInfo.EndCursor == nil {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		for _, p := range ds.Products {
			if visited[p.SKU] != 1 {
				t.Errorf("%s visited %d times, want once", p.SKU, visited[p.SKU])
			}
		}
	})
	t.Run("paging by 100 ends exactly at the last product with no next page", func(t *testing.T) {
		var after any
		for start := 0; start < len(all); start += 100 {
			c := productsPage(t, e, lightSearch, map[string]any{"first": 100, "after": after})
			checkPage(t, c, lightNodes(all[start:start+100]), start+100 < len(all))
			if c.PageInfo.EndCursor == nil {
				t.Fatal("endCursor is null on a full page")
			}
			after = *c.PageInfo.EndCursor
		}
		c := productsPage(t, e, lightSearch, map[string]any{"first": 100, "after": after})
		checkPage(t, c, nil, false)
	})
	t.Run("paging a search by 7 visits every match once", func(t *testing.T) {
		steel := searchResult(ds, "steel")
		var after any
		var got []string
		for page := 0; page < 20; page++ {
			c := productsPage(t, e, lightSearch, map[string]any{"q": "Steel", "first": 7, "after": after})
			start := min(page*7, len(steel))
			end := min(start+7, len(steel))
			checkPage(t, c, lightNodes(steel[start:end]), end < len(steel))
			for _, edge := range c.Edges {
				var n struct{ SKU string }
				_ = json.Unmarshal(edge.Node, &n)
				got = append(got, n.SKU)
			}
			if !c.PageInfo.HasNextPage {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		var want []string
		for _, p := range steel {
			want = append(want, p.SKU)
		}
		if !slices.Equal(got, want) {
			t.Errorf("visited %v, want %v", got, want)
		}
	})
	t.Run("after the last product's cursor there are no edges and endCursor is null", func(t *testing.T) {
		brass := searchResult(ds, "brass")
		c := productsPage(t, e, lightSearch, map[string]any{"q": "brass", "first": 100})
		checkPage(t, c, lightNodes(brass), false)
		last := productsPage(t, e, lightSearch, map[string]any{"q": "brass", "first": 10, "after": c.Edges[len(c.Edges)-1].Cursor})
		checkPage(t, last, nil, false)
	})

	real := productsPage(t, e, lightSearch, map[string]any{"first": 3})
	forged := forgeCursor(t, real.Edges[1].Cursor)
	bad := []struct {
		name string
		vars map[string]any
	}{
		{name: "first 0 is BAD_USER_INPUT", vars: map[string]any{"first": 0}},
		{name: "first 101 is BAD_USER_INPUT", vars: map[string]any{"first": 101}},
		{name: "first -5 is BAD_USER_INPUT", vars: map[string]any{"first": -5}},
		{name: "a cursor of random text is BAD_USER_INPUT", vars: map[string]any{"first": 5, "after": "not-a-cursor"}},
		{name: "the catalog's own cursor format is BAD_USER_INPUT", vars: map[string]any{"first": 5,
			"after": base64.RawURLEncoding.EncodeToString([]byte("v1|SKU-0100"))}},
		{name: "a gateway cursor whose content was changed is BAD_USER_INPUT", vars: map[string]any{"first": 5, "after": forged}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := e.query("", lightSearch, tt.vars)
			mustOneError(t, r, "BAD_USER_INPUT", "products")
			assertJSON(t, "data", r.Data, map[string]any{"products": nil})
		})
	}
}

// forgeCursor returns a cursor that differs from a real one in its content:
// each base64 part that decodes is re-encoded with one byte changed, so the
// gateway did not make it whatever its format.
func forgeCursor(t *testing.T, real string) string {
	t.Helper()
	parts := strings.Split(real, ".")
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil || len(b) == 0 {
			continue
		}
		j := len(b) / 2
		b[j] ^= 0x01
		parts[i] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}
	// Not base64: change a character in the middle.
	r := []byte(real)
	r[len(r)/2] ^= 0x01
	return string(r)
}

// ---------------------------------------------------------------------------
// Several fields served by the same upstream calls.

// TestFieldsFetchedTogether checks values where one upstream call serves
// many fields: batch answers must be spread over the right parents, and a
// product's sparse field set must hold what every place selects.
func TestFieldsFetchedTogether(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	support := e.token("staff-1", "support")
	ada := e.token(demo.CustomerMostOrders)

	t.Run("every customer's orders, totals and counts in one customers query", func(t *testing.T) {
		x := expect{t: t, ds: ds}
		ids := make([]string, 0, len(ds.Customers))
		for _, c := range ds.Customers {
			ids = append(ids, c.ID)
		}
		r, w := e.timedQuery(support, `query All($ids: [ID!]!) { customers(ids: $ids) {
			id
			orders(first: 5, includeCancelled: true) { id }
			totalSpent { cents currency amount }
			recentOrderCount(days: 365)
		} }`, map[string]any{"ids": ids})
		r.mustOK(t)
		got, _ := dataOf(t, r)["customers"].([]any)
		want := []any{}
		for i, id := range ids {
			var gotCount any
			if i < len(got) {
				gc, _ := got[i].(map[string]any)
				gotCount = gc["recentOrderCount"]
			}
			want = append(want, map[string]any{
				"id":               id,
				"orders":           orderIDs(selectedOrders(ds, id, 5, true)),
				"totalSpent":       x.money(totalSpentCents(ds, id), "EUR"),
				"recentOrderCount": w.recent(ds, id, 365, gotCount),
			})
		}
		assertJSON(t, "customers", got, want)
	})
	t.Run("the shipments and payments of all 30 orders of c-0001 in one query", func(t *testing.T) {
		r, w := e.timedQuery(ada, fieldsDoc(`{ me { orders(first: 50, includeCancelled: true) {
			id shipment { ...ShipmentParts } payment { ...PaymentParts }
		} } }`), nil)
		r.mustOK(t)
		x := expect{t: t, ds: ds, today: w.today(t)}
		want := []any{}
		for _, o := range selectedOrders(ds, demo.CustomerMostOrders, 50, true) {
			want = append(want, map[string]any{"id": o.ID, "shipment": x.shipment(o.ID), "payment": x.payment(o.ID)})
		}
		assertJSON(t, "data", r.Data, map[string]any{"me": map[string]any{"orders": want}})
	})
	t.Run("the lines, products and customer of 7 orders in one query, from variables", func(t *testing.T) {
		x := expect{t: t, ds: ds}
		r := e.query(ada, `query Lines($first: Int!, $incl: Boolean!) { me { orders(first: $first, includeCancelled: $incl) {
			id
			customer { id name }
			lines { sku quantity product { sku title description price { cents } tags stock inStock } }
		} } }`, map[string]any{"first": 7, "incl": true}).mustOK(t)
		want := []any{}
		for _, o := range selectedOrders(ds, demo.CustomerMostOrders, 7, true) {
			lines := []any{}
			for _, l := range o.Lines {
				var product any
				if p, ok := x.product(l.SKU).(map[string]any); ok {
					p["price"] = map[string]any{"cents": p["price"].(map[string]any)["cents"]}
					product = p
				}
				lines = append(lines, map[string]any{"sku": l.SKU, "quantity": l.Qty, "product": product})
			}
			want = append(want, map[string]any{"id": o.ID, "lines": lines,
				"customer": map[string]any{"id": demo.CustomerMostOrders, "name": "Ada Lovelace"}})
		}
		assertJSON(t, "data", r.Data, map[string]any{"me": map[string]any{"orders": want}})
	})
	t.Run("aliases selecting different fields of the same products each get theirs", func(t *testing.T) {
		x := expect{t: t, ds: ds}
		p3 := x.product("SKU-0003").(map[string]any)
		p2 := x.product("SKU-0002").(map[string]any)
		title3 := p3["title"].(string)
		r := e.query("", `query Mixed($title: String!) {
			a: product(sku: "SKU-0003") { title }
			b: product(sku: "SKU-0003") { sku price { cents amount } }
			c: productsBySku(skus: ["SKU-0002", "SKU-0003"]) { description tags }
			d: products(search: $title, first: 1) { edges { node { sku description stock } } }
		}`, map[string]any{"title": title3}).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{
			"a": map[string]any{"title": title3},
			"b": map[string]any{"sku": "SKU-0003", "price": map[string]any{"cents": 2050, "amount": "20.50"}},
			"c": []any{
				map[string]any{"description": p2["description"], "tags": p2["tags"]},
				map[string]any{"description": p3["description"], "tags": []any{}},
			},
			"d": map[string]any{"edges": []any{map[string]any{"node": map[string]any{
				"sku": "SKU-0003", "description": p3["description"], "stock": p3["stock"]}}}},
		})
	})
	t.Run("include and skip directives pick the product fields answered", func(t *testing.T) {
		x := expect{t: t, ds: ds}
		p := x.product("SKU-0007").(map[string]any)
		r := e.query("", `query Directives($with: Boolean!) { product(sku: "SKU-0007") {
			sku
			description @include(if: $with)
			title @skip(if: $with)
			stock @include(if: $with)
		} }`, map[string]any{"with": true}).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"product": map[string]any{
			"sku": "SKU-0007", "description": p["description"], "stock": 2}})
	})
	t.Run("every root field a customer may use, in one query", func(t *testing.T) {
		all := searchResult(ds, "")
		r, w := e.timedQuery(ada, fieldsDoc(`query Everything($order: ID!) {
			me { ...CustomerParts }
			self: customer(id: "c-0001") { id tier }
			order(id: $order) { ...OrderParts }
			keyOnly: order(id: "o-000001") { customer { id } }
			product(sku: "SKU-0042") { ...ProductParts }
			productsBySku(skus: ["SKU-0042", "SKU-9999"]) { sku title }
			products(first: 2) { edges { node { sku } } pageInfo { hasNextPage } }
		}`), map[string]any{"order": demo.OrderUnknownSKU})
		r.mustOK(t)
		x := expect{t: t, ds: ds, today: w.today(t)}
		assertJSON(t, "data", r.Data, map[string]any{
			"me":      x.customer("c-0001"),
			"self":    map[string]any{"id": "c-0001", "tier": "GOLD"},
			"order":   x.order(demo.OrderUnknownSKU),
			"keyOnly": map[string]any{"customer": map[string]any{"id": "c-0001"}},
			"product": x.product("SKU-0042"),
			"productsBySku": []any{
				map[string]any{"sku": "SKU-0042", "title": "Brass Difference Engine"}, nil,
			},
			"products": map[string]any{
				"edges": []any{
					map[string]any{"node": map[string]any{"sku": all[0].SKU}},
					map[string]any{"node": map[string]any{"sku": all[1].SKU}},
				},
				"pageInfo": map[string]any{"hasNextPage": true},
			},
		})
	})
	t.Run("support reads customers, customer and order of others in one query", func(t *testing.T) {
		other := newestOrders(ds, "c-0028")[0]
		r, w := e.timedQuery(support, fieldsDoc(`query Support($ids: [ID!]!, $order: ID!) {
			customers(ids: $ids) { ...CustomerParts }
			customer(id: "c-0028") { id orders(first: 2) { id } }
			order(id: $order) { ...OrderParts }
		}`), map[string]any{"ids": []string{"c-0028", "c-0004", "c-9000"}, "order": other.ID})
		r.mustOK(t)
		x := expect{t: t, ds: ds, today: w.today(t)}
		assertJSON(t, "data", r.Data, map[string]any{
			"customers": []any{x.customer("c-0028"), x.customer("c-0004"), nil},
			"customer":  map[string]any{"id": "c-0028", "orders": orderIDs(selectedOrders(ds, "c-0028", 2, false))},
			"order":     x.order(other.ID),
		})
	})
}

// TestUnknownIdsOfAwkwardShape checks that ids and search texts reach the
// services as opaque strings: an id that merely resembles a known one (a
// path or query character, a comma that a batch parameter would split on)
// is unknown, and search text is matched literally.
func TestUnknownIdsOfAwkwardShape(t *testing.T) {
	e := newEnv(t, nil)
	ds := e.demo.Data()
	support := e.token("staff-1", "support")
	ids := []string{"c-0001?x=1", "c-0001#top", "c-0001/", "c-0001/orders", "c-0001%2F", "c-0001 ", "c-0001,c-0002", "../customers/c-0001"}
	for _, id := range ids {
		t.Run(fmt.Sprintf("customer %q is unknown: null without an error", id), func(t *testing.T) {
			r := e.query(support, `query One($id: ID!) { customer(id: $id) { id name } }`, map[string]any{"id": id}).mustOK(t)
			assertJSON(t, "data", r.Data, map[string]any{"customer": nil})
		})
	}
	t.Run("customers with ids of awkward shape are each null", func(t *testing.T) {
		r := e.query(support, `query Many($ids: [ID!]!) { customers(ids: $ids) { id } }`,
			map[string]any{"ids": append([]string{"c-0003"}, ids...)}).mustOK(t)
		want := []any{map[string]any{"id": "c-0003"}}
		for range ids {
			want = append(want, nil)
		}
		assertJSON(t, "customers", dataOf(t, r)["customers"], want)
	})
	for _, id := range []string{"o-000004?x=1", "o-000004/", "o-000004 ", "o-000004,o-000005"} {
		t.Run(fmt.Sprintf("order %q is unknown: null without an error", id), func(t *testing.T) {
			r := e.query(support, `query One($id: ID!) { order(id: $id) { id status } }`, map[string]any{"id": id}).mustOK(t)
			assertJSON(t, "data", r.Data, map[string]any{"order": nil})
		})
	}
	for _, sku := range []string{"SKU-0001?fields=title", "SKU-0001/", "SKU-0001#x", "SKU-0001,SKU-0002"} {
		t.Run(fmt.Sprintf("product %q is unknown: null without an error", sku), func(t *testing.T) {
			r := e.query("", `query One($sku: ID!) { product(sku: $sku) { sku title stock } }`, map[string]any{"sku": sku}).mustOK(t)
			assertJSON(t, "data", r.Data, map[string]any{"product": nil})
		})
	}
	t.Run("a customer whose own id is unknown reads null without an error", func(t *testing.T) {
		r := e.query(e.token("c-9999"), `{ customer(id: "c-9999") { id } }`, nil).mustOK(t)
		assertJSON(t, "data", r.Data, map[string]any{"customer": nil})
	})
	for _, q := range []string{"Brass Notebook", "brass&limit=1", "brass#x", "Small+Brass", "brass%", "50%25"} {
		t.Run(fmt.Sprintf("search %q is matched literally", q), func(t *testing.T) {
			c := productsPage(t, e, lightSearch, map[string]any{"q": q, "first": 100})
			want := searchResult(ds, q)
			checkPage(t, c, lightNodes(want), false)
		})
	}
	t.Run("first from a variable that is not given takes the default", func(t *testing.T) {
		all := searchResult(ds, "")
		c := productsPage(t, e, lightSearch, map[string]any{})
		checkPage(t, c, lightNodes(all[:20]), true)
		r := e.query(e.token(demo.CustomerMostOrders), `query Orders($first: Int, $incl: Boolean) {
			me { orders(first: $first, includeCancelled: $incl) { id payment { id } } }
		}`, nil).mustOK(t)
		want := []any{}
		for _, o := range selectedOrders(ds, demo.CustomerMostOrders, 10, false) {
			var pay any
			if p, ok := lastPayment(ds, o.ID); ok {
				pay = map[string]any{"id": p.ID}
			}
			want = append(want, map[string]any{"id": o.ID, "payment": pay})
		}
		assertJSON(t, "data", r.Data, map[string]any{"me": map[string]any{"orders": want}})
	})
}
