package demo

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEveryServiceChecksTheAPIKey(t *testing.T) {
	c := startDemo(t, Options{APIKeys: map[string]string{"orders": "s3cret"}})
	probes := map[string][2]string{
		"customers":     {"GET", "/customers/c-0001"},
		"orders":        {"GET", "/orders/o-000001"},
		"catalog":       {"GET", "/products/SKU-0001"},
		"inventory":     {"GET", "/stock?skus=SKU-0001"},
		"shipping":      {"GET", "/shipments/by-order/o-000001"},
		"payments":      {"GET", "/payments?order_ids=o-000001"},
		"notifications": {"POST", "/emails"},
	}
	for _, svc := range Services {
		p := probes[svc]
		t.Run(svc, func(t *testing.T) {
			tests := []struct {
				name   string
				key    string
				status int
			}{
				{"a request without a key is unauthorized", "", http.StatusUnauthorized},
				{"a request with another service's key is unauthorized", "demo-other-key", http.StatusUnauthorized},
				{"a request with the service's key gets through", c.d.APIKey(svc), 0},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := c.do(p[0], svc, p[1], nil, "X-Api-Key", tt.key)
					if tt.status == 0 {
						if r.status == http.StatusUnauthorized {
							t.Fatalf("status 401 with the right key: %s", r.body)
						}
						return
					}
					wantStatus(t, r, tt.status, "unauthorized")
				})
			}
		})
	}
	if got := c.d.APIKey("orders"); got != "s3cret" {
		t.Errorf("orders key %q, want the one from Options", got)
	}
	if got := c.d.APIKey("customers"); got != DefaultAPIKey("customers") {
		t.Errorf("customers key %q, want the default", got)
	}
}

func TestCustomers(t *testing.T) {
	c := startDemo(t, Options{})
	data := c.d.Data()

	t.Run("a known customer is answered as the data holds it", func(t *testing.T) {
		var got Customer
		c.get("customers", "/customers/c-0001", &got)
		want, _ := data.Customer("c-0001")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("an unknown customer is 404 not_found", func(t *testing.T) {
		wantStatus(t, c.do("GET", "customers", "/customers/c-9999", nil), http.StatusNotFound, "not_found")
	})
	t.Run("a null address is sent as null and a missing one not at all", func(t *testing.T) {
		r := c.do("GET", "customers", "/customers/"+CustomerAddressNull, nil)
		var m map[string]json.RawMessage
		r.decode(t, &m)
		if string(m["address"]) != "null" {
			t.Errorf("address of %s is %s, want null", CustomerAddressNull, m["address"])
		}
		r = c.do("GET", "customers", "/customers/"+CustomerAddressMissing, nil)
		if keys(t, r.body)["address"] {
			t.Errorf("%s has an address key: %s", CustomerAddressMissing, r.body)
		}
	})
	t.Run("a batch answers the ids that exist, a repeated id once", func(t *testing.T) {
		var got struct {
			Customers []Customer `json:"customers"`
		}
		c.get("customers", "/customers?ids=c-0003,c-0001,nope,c-0003,c-0004", &got)
		var ids []string
		for _, cu := range got.Customers {
			ids = append(ids, cu.ID)
			want, _ := data.Customer(cu.ID)
			if !reflect.DeepEqual(cu, want) {
				t.Errorf("got %+v, want %+v", cu, want)
			}
		}
		slices.Sort(ids)
		if want := []string{"c-0001", "c-0003", "c-0004"}; !slices.Equal(ids, want) {
			t.Fatalf("ids %v, want %v", ids, want)
		}
	})
	t.Run("a batch of 100 ids is answered and one of 101 refused", func(t *testing.T) {
		ids := idList("c-%04d", 1, 100)
		var got struct {
			Customers []Customer `json:"customers"`
		}
		c.get("customers", "/customers?ids="+strings.Join(ids, ","), &got)
		if len(got.Customers) != NumCustomers {
			t.Fatalf("%d customers, want %d", len(got.Customers), NumCustomers)
		}
		r := c.do("GET", "customers", "/customers?ids="+strings.Join(append(ids, "c-0001"), ","), nil)
		wantStatus(t, r, http.StatusBadRequest, "too_many_keys")
	})
	t.Run("an unknown path or method is a JSON 404", func(t *testing.T) {
		wantStatus(t, c.do("GET", "customers", "/clients/c-0001", nil), http.StatusNotFound, "not_found")
		wantStatus(t, c.do("DELETE", "customers", "/customers/c-0001", nil), http.StatusNotFound, "not_found")
	})
	t.Run("a batch without ids is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("GET", "customers", "/customers", nil), http.StatusBadRequest, "bad_request")
	})
}

func TestOrdersReads(t *testing.T) {
	c := startDemo(t, Options{})
	data := c.d.Data()
	type page struct {
		Data []Order `json:"data"`
	}
	idsOf := func(orders []Order) []string {
		var out []string
		for _, o := range orders {
			out = append(out, o.ID)
		}
		return out
	}

	t.Run("a known order is answered as the data holds it", func(t *testing.T) {
		var got Order
		c.get("orders", "/orders/"+OrderUnknownSKU, &got)
		want, _ := data.Order(OrderUnknownSKU)
		if !reflect.DeepEqual(got, want) || got.Currency != "EUR" {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("an unknown order is 404", func(t *testing.T) {
		wantStatus(t, c.do("GET", "orders", "/orders/o-999999", nil), http.StatusNotFound, "not_found")
	})
	t.Run("a batch by ids answers found ones, a repeated id once", func(t *testing.T) {
		var got page
		c.get("orders", "/orders?ids=o-000002,o-000001,o-999999,o-000002", &got)
		ids := idsOf(got.Data)
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"o-000001", "o-000002"}) {
			t.Fatalf("ids %v", ids)
		}
	})
	tests := []struct {
		name  string
		query string
		want  int // orders of CustomerMostOrders expected
	}{
		{"without a limit a customer's 20 newest come", "", 20},
		{"a limit of 5 gives the 5 newest", "&limit=5", 5},
		{"a limit above the customer's orders gives them all", "&limit=50", 30},
		{"a limit above 100 counts as 100", "&limit=1000", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got page
			c.get("orders", "/orders?customer_ids="+CustomerMostOrders+tt.query, &got)
			want := idsOf(data.OrdersOf(CustomerMostOrders)[:tt.want])
			if !slices.Equal(idsOf(got.Data), want) {
				t.Fatalf("got %v, want %v", idsOf(got.Data), want)
			}
		})
	}
	t.Run("several customers each get their newest orders, newest first", func(t *testing.T) {
		var got page
		c.get("orders", "/orders?customer_ids=c-0001,c-0002,c-0003,c-0001&limit=4", &got)
		per := map[string][]string{}
		for _, o := range got.Data {
			per[o.CustomerID] = append(per[o.CustomerID], o.ID)
		}
		for _, cu := range []string{"c-0001", "c-0002", "c-0003"} {
			all := data.OrdersOf(cu)
			want := idsOf(all[:min(4, len(all))])
			if !slices.Equal(per[cu], want) {
				t.Errorf("%s: got %v, want %v", cu, per[cu], want)
			}
		}
	})
	t.Run("a customer without orders gets an empty list", func(t *testing.T) {
		r := c.do("GET", "orders", "/orders?customer_ids="+CustomerNoOrders, nil)
		if strings.TrimSpace(string(r.body)) != `{"data":[]}` {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("a limit that is not a positive number is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("GET", "orders", "/orders?customer_ids=c-0001&limit=0", nil), http.StatusBadRequest, "bad_request")
		wantStatus(t, c.do("GET", "orders", "/orders?customer_ids=c-0001&limit=x", nil), http.StatusBadRequest, "bad_request")
	})
	t.Run("101 customer ids are refused", func(t *testing.T) {
		r := c.do("GET", "orders", "/orders?customer_ids="+strings.Join(idList("c-%04d", 1, 101), ","), nil)
		wantStatus(t, r, http.StatusBadRequest, "too_many_keys")
	})
}

func TestOrdersAboveOneHundredCountAsOneHundred(t *testing.T) {
	c := startDemo(t, Options{})
	for range 105 {
		r := c.do("POST", "orders", "/orders", map[string]any{
			"customer_id": CustomerNoOrders, "currency": "EUR",
			"lines": []map[string]any{{"sku": "SKU-0001", "qty": 1, "unit_price_cents": 2000}},
		})
		wantStatus(t, r, http.StatusCreated, "")
	}
	var got struct {
		Data []Order `json:"data"`
	}
	c.get("orders", "/orders?customer_ids="+CustomerNoOrders+"&limit=101", &got)
	if len(got.Data) != 100 {
		t.Fatalf("%d orders, want 100", len(got.Data))
	}
	// All placed in the same second: newest first falls back to the id.
	if got.Data[0].ID <= got.Data[99].ID {
		t.Errorf("not newest first: %s before %s", got.Data[0].ID, got.Data[99].ID)
	}
}

func TestOrderWrites(t *testing.T) {
	c := startDemo(t, Options{})
	create := func(t *testing.T) Order {
		t.Helper()
		r := c.do("POST", "orders", "/orders", map[string]any{
			"customer_id": "c-0010", "currency": "EUR", "reservation_id": "r-1",
			"lines": []map[string]any{{"sku": "SKU-0042", "qty": 2, "unit_price_cents": 1999}},
		})
		wantStatus(t, r, http.StatusCreated, "")
		var o Order
		r.decode(t, &o)
		return o
	}
	setStatus := func(id, status string) resp {
		return c.do("POST", "orders", "/orders/"+id+"/status", map[string]string{"status": status})
	}

	t.Run("a new order is pending, placed now, in EUR, and in the data", func(t *testing.T) {
		o := create(t)
		if o.Status != StatusPending || o.PlacedAt != testNow.Unix() || o.Currency != "EUR" || o.TotalCents() != 3998 {
			t.Fatalf("new order %+v", o)
		}
		stored, ok := c.d.Data().Order(o.ID)
		if !ok || stored.ReservationID != "r-1" || stored.CustomerID != "c-0010" {
			t.Fatalf("stored %+v, %v", stored, ok)
		}
	})
	t.Run("an order without lines is a bad request", func(t *testing.T) {
		r := c.do("POST", "orders", "/orders", map[string]any{"customer_id": "c-0010", "lines": []any{}})
		wantStatus(t, r, http.StatusBadRequest, "bad_request")
	})
	t.Run("a body that is not JSON is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("POST", "orders", "/orders", "{"), http.StatusBadRequest, "bad_request")
	})

	pending := func(t *testing.T) string { return create(t).ID }
	paid := func(t *testing.T) string {
		id := create(t).ID
		wantStatus(t, setStatus(id, StatusPaid), http.StatusOK, "")
		return id
	}
	cancelled := func(t *testing.T) string {
		id := create(t).ID
		wantStatus(t, setStatus(id, StatusCancelled), http.StatusOK, "")
		return id
	}
	fixed := func(id string) func(*testing.T) string { return func(*testing.T) string { return id } }
	tests := []struct {
		name   string
		order  func(*testing.T) string
		to     string
		status int
		code   string
	}{
		{"a pending order can be paid", pending, StatusPaid, http.StatusOK, ""},
		{"a pending order can be cancelled", pending, StatusCancelled, http.StatusOK, ""},
		{"a paid order can be cancelled", paid, StatusCancelled, http.StatusOK, ""},
		{"paying a paid order again is fine", paid, StatusPaid, http.StatusOK, ""},
		{"cancelling a cancelled order again is fine", cancelled, StatusCancelled, http.StatusOK, ""},
		{"a cancelled order cannot be paid", cancelled, StatusPaid, http.StatusConflict, "invalid_transition"},
		{"a shipped order cannot be cancelled", fixed(OrderDelayed), StatusCancelled, http.StatusConflict, "invalid_transition"},
		{"a delivered order cannot be cancelled", fixed("o-000001"), StatusCancelled, http.StatusConflict, "invalid_transition"},
		{"a shipped order cannot be paid", fixed(OrderDelayed), StatusPaid, http.StatusConflict, "invalid_transition"},
		{"only paid and cancelled can be set", pending, StatusShipped, http.StatusBadRequest, "bad_request"},
		{"an unknown order is 404", fixed("o-999999"), StatusPaid, http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.order(t)
			before, _ := c.d.Data().Order(id)
			r := setStatus(id, tt.to)
			wantStatus(t, r, tt.status, tt.code)
			after, _ := c.d.Data().Order(id)
			if tt.status == http.StatusOK {
				var o Order
				r.decode(t, &o)
				if o.Status != tt.to || after.Status != tt.to {
					t.Fatalf("answer %q, stored %q, want %q", o.Status, after.Status, tt.to)
				}
			} else if after.Status != before.Status {
				t.Fatalf("status changed from %q to %q", before.Status, after.Status)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	c := startDemo(t, Options{})
	data := c.d.Data()

	t.Run("a product is answered as the data holds it", func(t *testing.T) {
		var got Product
		c.get("catalog", "/products/"+SKUEngine, &got)
		want, _ := data.Product(SKUEngine)
		if !reflect.DeepEqual(got, want) || got.Title != "Brass Difference Engine" {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("an unknown sku is 404", func(t *testing.T) {
		wantStatus(t, c.do("GET", "catalog", "/products/"+UnknownSKU, nil), http.StatusNotFound, "not_found")
	})
	t.Run("prices come in every decimal form and tags may be empty or missing", func(t *testing.T) {
		tests := []struct {
			sku, amount, tags string // tags: raw JSON, "" for no key
		}{
			{SKUPriceWhole, `"20"`, `["brass","office"]`},
			{SKUPriceOneDecimal, `"20.5"`, ""},
			{SKUPriceTwoDecimals, `"20.50"`, ""},
			{SKUTagsEmpty, `"19.99"`, `[]`},
		}
		for _, tt := range tests {
			r := c.do("GET", "catalog", "/products/"+tt.sku, nil)
			var m map[string]json.RawMessage
			r.decode(t, &m)
			var price map[string]json.RawMessage
			json.Unmarshal(m["price"], &price)
			if string(price["amount"]) != tt.amount {
				t.Errorf("%s amount %s, want %s", tt.sku, price["amount"], tt.amount)
			}
			if tt.tags != "" && string(m["tags"]) != tt.tags {
				t.Errorf("%s tags %s, want %s", tt.sku, m["tags"], tt.tags)
			}
		}
		r := c.do("GET", "catalog", "/products/"+SKUPriceTwoDecimals, nil)
		if keys(t, r.body)["tags"] {
			t.Errorf("%s has a tags key: %s", SKUPriceTwoDecimals, r.body)
		}
	})

	sparseTests := []struct {
		name   string
		sku    string
		fields string
		want   []string
	}{
		{"a sparse field set answers sku and those fields only", "SKU-0010", "title,price", []string{"price", "sku", "title"}},
		{"a null description asked for is sent as null", SKUPriceOneDecimal, "description", []string{"description", "sku"}},
		{"missing tags stay missing when asked for", SKUPriceTwoDecimals, "tags", []string{"sku"}},
		{"an empty field set means every field", SKUEngine, "", []string{"description", "price", "sku", "tags", "title"}},
	}
	for _, tt := range sparseTests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("GET", "catalog", "/products/"+tt.sku+"?fields="+tt.fields, nil)
			wantStatus(t, r, http.StatusOK, "")
			var got []string
			for k := range keys(t, r.body) {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("keys %v, want %v (%s)", got, tt.want, r.body)
			}
		})
	}
	t.Run("an unknown field is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("GET", "catalog", "/products/SKU-0001?fields=stock", nil), http.StatusBadRequest, "unknown_field")
	})

	t.Run("batchGet answers a map of the known skus, a repeated one once", func(t *testing.T) {
		r := c.do("POST", "catalog", "/products:batchGet", map[string]any{
			"skus": []string{"SKU-0001", UnknownSKU, "SKU-0002", "SKU-0001"}})
		wantStatus(t, r, http.StatusOK, "")
		var got struct {
			Products map[string]Product `json:"products"`
		}
		r.decode(t, &got)
		if len(got.Products) != 2 {
			t.Fatalf("products %v", got.Products)
		}
		for sku, p := range got.Products {
			want, _ := data.Product(sku)
			if !reflect.DeepEqual(p, want) {
				t.Errorf("got %+v, want %+v", p, want)
			}
		}
	})
	t.Run("batchGet honours fields", func(t *testing.T) {
		r := c.do("POST", "catalog", "/products:batchGet", map[string]any{
			"skus": []string{"SKU-0001"}, "fields": []string{"price"}})
		var got struct {
			Products map[string]json.RawMessage `json:"products"`
		}
		r.decode(t, &got)
		if k := keys(t, got.Products["SKU-0001"]); len(k) != 2 || !k["sku"] || !k["price"] {
			t.Fatalf("keys %v", k)
		}
	})
	t.Run("batchGet refuses 101 skus", func(t *testing.T) {
		r := c.do("POST", "catalog", "/products:batchGet", map[string]any{"skus": idList("SKU-%04d", 1, 101)})
		wantStatus(t, r, http.StatusBadRequest, "too_many_keys")
	})
}

type searchPage struct {
	Items []Product `json:"items"`
	Next  *string   `json:"next"`
}

func TestCatalogSearch(t *testing.T) {
	c := startDemo(t, Options{})
	data := c.d.Data()
	// walk follows next cursors from the first page and returns every sku.
	walk := func(t *testing.T, query string) []string {
		t.Helper()
		var skus []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > NumProducts {
				t.Fatal("cursors never end")
			}
			var p searchPage
			c.get("catalog", "/products?"+query+cursor, &p)
			for _, it := range p.Items {
				skus = append(skus, it.SKU)
			}
			if p.Next == nil {
				return skus
			}
			cursor = "&cursor=" + *p.Next
		}
	}
	expect := func(q string) []string {
		var out []string
		for _, p := range slices.Backward(data.Products) {
			if matches(p, strings.ToLower(q)) {
				out = append(out, p.SKU)
			}
		}
		return out
	}

	t.Run("paging with cursors lists every product once, newest first", func(t *testing.T) {
		got := walk(t, "limit=7")
		if len(got) != NumProducts {
			t.Fatalf("%d products, want %d", len(got), NumProducts)
		}
		if !slices.Equal(got, expect("")) {
			t.Fatalf("not every product once in sku order descending: %v", got[:10])
		}
	})
	t.Run("q matches titles or tags whatever the case", func(t *testing.T) {
		got := walk(t, "q=BrAsS&limit=9")
		if !slices.Equal(got, expect("brass")) || len(got) < 10 || !slices.Contains(got, SKUPriceWhole) {
			t.Fatalf("got %v, want %v (with %s, brass by tag only)", got, expect("brass"), SKUPriceWhole)
		}
		var tagOnly int
		for _, sku := range walk(t, "q=vintage&limit=100") {
			p, _ := data.Product(sku)
			if !strings.Contains(strings.ToLower(p.Title), "vintage") {
				tagOnly++
			}
		}
		if tagOnly == 0 {
			t.Fatal("no product matched by a tag alone")
		}
	})
	t.Run("the limit defaults to 20 and stops at 100", func(t *testing.T) {
		var p searchPage
		c.get("catalog", "/products", &p)
		if len(p.Items) != 20 || p.Next == nil {
			t.Fatalf("%d items, next %v", len(p.Items), p.Next)
		}
		c.get("catalog", "/products?limit=500", &p)
		if len(p.Items) != 100 {
			t.Fatalf("%d items, want 100", len(p.Items))
		}
	})
	t.Run("a search that finds nothing has no items and no next", func(t *testing.T) {
		r := c.do("GET", "catalog", "/products?q=zeppelin", nil)
		if strings.TrimSpace(string(r.body)) != `{"items":[],"next":null}` {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("the last page's next is null", func(t *testing.T) {
		var p searchPage
		c.get("catalog", "/products?limit=100&cursor="+encodeCursor("SKU-0101"), &p)
		if len(p.Items) != 100 || p.Next != nil || p.Items[99].SKU != "SKU-0001" {
			t.Fatalf("%d items, next %v", len(p.Items), p.Next)
		}
	})
	t.Run("a cursor the service did not make is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("GET", "catalog", "/products?cursor=bm9wZQ", nil), http.StatusBadRequest, "invalid_cursor")
		wantStatus(t, c.do("GET", "catalog", "/products?cursor=!!", nil), http.StatusBadRequest, "invalid_cursor")
	})
	t.Run("a limit below 1 is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("GET", "catalog", "/products?limit=0", nil), http.StatusBadRequest, "bad_request")
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor("SKU-0042"))
	f.Add("")
	f.Add("djF8")
	f.Add("%%%")
	// Properties: decodeCursor never panics, and what it accepts
	// round-trips through encodeCursor.
	f.Fuzz(func(t *testing.T, c string) {
		sku, err := decodeCursor(c)
		if err != nil {
			return
		}
		if back, err := decodeCursor(encodeCursor(sku)); err != nil || back != sku {
			t.Fatalf("round trip of %q: %q, %v", sku, back, err)
		}
	})
}

func TestInventory(t *testing.T) {
	c := startDemo(t, Options{})
	stock := func(t *testing.T, sku string) (int, bool) {
		t.Helper()
		var m map[string]int
		c.get("inventory", "/stock?skus="+sku, &m)
		n, ok := m[sku]
		return n, ok
	}
	reserve := func(lines ...any) resp {
		var ls []map[string]any
		for i := 0; i+1 < len(lines); i += 2 {
			ls = append(ls, map[string]any{"sku": lines[i], "qty": lines[i+1]})
		}
		return c.do("POST", "inventory", "/reservations", map[string]any{"lines": ls})
	}
	reservationID := func(t *testing.T, r resp) string {
		t.Helper()
		wantStatus(t, r, http.StatusCreated, "")
		var body struct {
			ID        string `json:"reservation_id"`
			ExpiresAt string `json:"expires_at"`
		}
		r.decode(t, &body)
		if body.ExpiresAt != testNow.Add(ReservationTTL).Format(time.RFC3339) || !strings.HasPrefix(body.ID, "r-") {
			t.Fatalf("reservation %+v", body)
		}
		return body.ID
	}

	t.Run("stock is a map of the stocked skus, unknown ones absent", func(t *testing.T) {
		var m map[string]int
		c.get("inventory", "/stock?skus="+strings.Join([]string{SKUNotStocked, SKUOutOfStock, SKULowStock, UnknownSKU, SKULowStock}, ","), &m)
		if want := map[string]int{SKUOutOfStock: 0, SKULowStock: 2}; !reflect.DeepEqual(m, want) {
			t.Fatalf("got %v, want %v", m, want)
		}
	})
	t.Run("a reservation takes stock and releasing it gives it back", func(t *testing.T) {
		id := reservationID(t, reserve(SKULowStock, 2))
		if n, _ := stock(t, SKULowStock); n != 0 {
			t.Fatalf("stock %d after reserving all", n)
		}
		r := reserve(SKULowStock, 1)
		wantStatus(t, r, http.StatusConflict, "insufficient_stock")
		var body map[string]string
		r.decode(t, &body)
		if body["sku"] != SKULowStock {
			t.Fatalf("409 body %v", body)
		}
		wantStatus(t, c.do("DELETE", "inventory", "/reservations/"+id, nil), http.StatusNoContent, "")
		wantStatus(t, c.do("DELETE", "inventory", "/reservations/"+id, nil), http.StatusNoContent, "")
		if n, _ := stock(t, SKULowStock); n != 2 {
			t.Fatalf("stock %d after release, want 2", n)
		}
		wantStatus(t, c.do("POST", "inventory", "/reservations/"+id+"/commit", nil), http.StatusConflict, "reservation_released")
	})
	t.Run("a committed reservation stays committed and cannot be released", func(t *testing.T) {
		id := reservationID(t, reserve(SKUEngine, 3))
		wantStatus(t, c.do("POST", "inventory", "/reservations/"+id+"/commit", nil), http.StatusNoContent, "")
		wantStatus(t, c.do("POST", "inventory", "/reservations/"+id+"/commit", nil), http.StatusNoContent, "")
		wantStatus(t, c.do("DELETE", "inventory", "/reservations/"+id, nil), http.StatusConflict, "reservation_committed")
		if n, _ := stock(t, SKUEngine); n != 497 {
			t.Fatalf("stock %d, want 497", n)
		}
	})
	t.Run("an unknown reservation is 404", func(t *testing.T) {
		wantStatus(t, c.do("DELETE", "inventory", "/reservations/r-nope", nil), http.StatusNotFound, "not_found")
		wantStatus(t, c.do("POST", "inventory", "/reservations/r-nope/commit", nil), http.StatusNotFound, "not_found")
	})
	t.Run("a reservation is all or nothing", func(t *testing.T) {
		before, _ := stock(t, SKUPriceWhole)
		r := reserve(SKUPriceWhole, 1, SKUNotStocked, 1)
		wantStatus(t, r, http.StatusConflict, "insufficient_stock")
		if after, _ := stock(t, SKUPriceWhole); after != before {
			t.Fatalf("stock of %s went from %d to %d", SKUPriceWhole, before, after)
		}
	})
	t.Run("the same sku on two lines counts once with the quantities added", func(t *testing.T) {
		wantStatus(t, reserve(SKULowStock, 1, SKULowStock, 2), http.StatusConflict, "insufficient_stock")
	})
	t.Run("a line without quantity is a bad request", func(t *testing.T) {
		wantStatus(t, reserve(SKULowStock, 0), http.StatusBadRequest, "bad_request")
	})
	t.Run("concurrent reservations never oversell", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 20 {
			wg.Go(func() {
				r, err := c.try("POST", "inventory", "/reservations",
					map[string]any{"lines": []map[string]any{{"sku": SKULowStock, "qty": 1}}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
				}
				codes[r.status]++
			})
		}
		wg.Wait()
		if codes[http.StatusCreated] != 2 || codes[http.StatusConflict] != 18 {
			t.Fatalf("answers %v, want 2 created and 18 conflicts", codes)
		}
	})
}

func TestShipping(t *testing.T) {
	c := startDemo(t, Options{})
	data := c.d.Data()
	type answer struct {
		Shipment Shipment `json:"shipment"`
	}
	addr := map[string]string{"line1": "12 Analytical Row", "city": "London", "postcode": "N1 9GU", "country": "GB"}

	t.Run("an order's shipment is answered in its envelope", func(t *testing.T) {
		var got answer
		c.get("shipping", "/shipments/by-order/"+OrderDelayed, &got)
		want := data.Shipments[OrderDelayed]
		want.OrderID = ""
		if !reflect.DeepEqual(got.Shipment, want) {
			t.Fatalf("got %+v, want %+v", got.Shipment, want)
		}
	})
	t.Run("an order without shipment is 404", func(t *testing.T) {
		wantStatus(t, c.do("GET", "shipping", "/shipments/by-order/"+OrderDeliveredNoShipment, nil), http.StatusNotFound, "not_found")
	})
	t.Run("creating is idempotent per order and deleting too", func(t *testing.T) {
		body := map[string]any{"order_id": "o-777777", "address": addr}
		r := c.do("POST", "shipping", "/shipments", body)
		wantStatus(t, r, http.StatusCreated, "")
		var first answer
		r.decode(t, &first)
		s := first.Shipment
		if s.State != ShipmentLabelCreated || s.Shipped != nil || s.ETA == nil || *s.ETA != "30/11/2026" {
			t.Fatalf("new shipment %+v", s)
		}
		r = c.do("POST", "shipping", "/shipments", body)
		wantStatus(t, r, http.StatusOK, "")
		var second answer
		r.decode(t, &second)
		if second.Shipment.TrackingNo != s.TrackingNo {
			t.Fatalf("second call made another shipment: %+v", second.Shipment)
		}
		if got := c.d.Data().Shipments["o-777777"].Address; got == nil || got.City != "London" {
			t.Fatalf("stored address %+v", got)
		}
		wantStatus(t, c.do("DELETE", "shipping", "/shipments/by-order/o-777777", nil), http.StatusNoContent, "")
		wantStatus(t, c.do("DELETE", "shipping", "/shipments/by-order/o-777777", nil), http.StatusNoContent, "")
		wantStatus(t, c.do("GET", "shipping", "/shipments/by-order/o-777777", nil), http.StatusNotFound, "not_found")
	})
	t.Run("a shipment without address is a bad request", func(t *testing.T) {
		wantStatus(t, c.do("POST", "shipping", "/shipments", map[string]any{"order_id": "o-1"}), http.StatusBadRequest, "bad_request")
	})
}

func TestPayments(t *testing.T) {
	c := startDemo(t, Options{})
	pay := func(key, order, token string) resp {
		return c.do("POST", "payments", "/payments",
			map[string]any{"order_id": order, "amount_cents": 3998, "currency": "EUR", "token": token},
			"Idempotency-Key", key)
	}
	count := func() int { return len(c.d.Data().Payments) }

	t.Run("payments come as a bare array in the order made, declined ones included", func(t *testing.T) {
		r := c.do("GET", "payments", "/payments?order_ids="+OrderOnlyDeclined+","+OrderDeclinedThenCaptured+",o-999999,"+OrderDeclinedThenCaptured, nil)
		var got []Payment
		r.decode(t, &got)
		data := c.d.Data()
		want := append(data.PaymentsOf(OrderDeclinedThenCaptured), data.PaymentsOf(OrderOnlyDeclined)...)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		if len(got) != 3 || got[0].Status != PaymentDeclined || got[1].Status != PaymentCaptured || got[2].Status != PaymentDeclined {
			t.Fatalf("statuses %+v", got)
		}
		if got[0].Amount.Currency != "eur" {
			t.Fatalf("currency %q", got[0].Amount.Currency)
		}
	})
	t.Run("an order without payments gives an empty array", func(t *testing.T) {
		r := c.do("GET", "payments", "/payments?order_ids="+OrderNoPayment, nil)
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("a payment without Idempotency-Key is a bad request and charges nothing", func(t *testing.T) {
		before := count()
		wantStatus(t, pay("", "o-000001", "tok_visa"), http.StatusBadRequest, "")
		if count() != before {
			t.Fatal("a payment was recorded")
		}
	})
	t.Run("the same key returns the first answer and charges once", func(t *testing.T) {
		before := count()
		first := pay("k-1", "o-000001", "tok_visa")
		wantStatus(t, first, http.StatusCreated, "")
		var p Payment
		first.decode(t, &p)
		if p.Status != PaymentCaptured || p.Amount != (Amount{Value: 3998, Currency: "eur"}) || p.Method != "card" {
			t.Fatalf("payment %+v", p)
		}
		again := pay("k-1", "o-000002", "tok_declined")
		if again.status != first.status || string(again.body) != string(first.body) {
			t.Fatalf("second answer %d %s, first %d %s", again.status, again.body, first.status, first.body)
		}
		if count() != before+1 {
			t.Fatalf("%d payments recorded, want 1", count()-before)
		}
	})
	declines := []struct{ name, token string }{
		{"tok_declined is declined and recorded", "tok_declined"},
		{"a token not starting with tok_ is declined and recorded", "card_4242"},
	}
	for i, tt := range declines {
		t.Run(tt.name, func(t *testing.T) {
			key := "decline-" + string(rune('a'+i))
			wantStatus(t, pay(key, "o-555555", tt.token), http.StatusPaymentRequired, "card_declined")
			wantStatus(t, pay(key, "o-555555", "tok_visa"), http.StatusPaymentRequired, "card_declined")
			ps := c.d.Data().PaymentsOf("o-555555")
			if len(ps) != i+1 || ps[i].Status != PaymentDeclined {
				t.Fatalf("payments %+v", ps)
			}
		})
	}
	t.Run("a refund is idempotent", func(t *testing.T) {
		r := pay("k-refund", "o-000001", "tok_visa")
		var p Payment
		r.decode(t, &p)
		for range 2 {
			r := c.do("POST", "payments", "/payments/"+p.ID+"/refund", nil)
			wantStatus(t, r, http.StatusOK, "")
			var got Payment
			r.decode(t, &got)
			if got.Status != PaymentRefunded || got.ID != p.ID {
				t.Fatalf("refund answer %+v", got)
			}
		}
	})
	t.Run("a declined payment cannot be refunded and an unknown one is 404", func(t *testing.T) {
		declined := c.d.Data().PaymentsOf(OrderOnlyDeclined)[0]
		wantStatus(t, c.do("POST", "payments", "/payments/"+declined.ID+"/refund", nil), http.StatusConflict, "not_refundable")
		wantStatus(t, c.do("POST", "payments", "/payments/pay_nope/refund", nil), http.StatusNotFound, "not_found")
	})
}

func TestNotifications(t *testing.T) {
	c := startDemo(t, Options{})
	t.Run("an e-mail is accepted with an id and recorded", func(t *testing.T) {
		r := c.do("POST", "notifications", "/emails", map[string]any{
			"to": "ada@example.com", "template": "order_confirmation",
			"data": map[string]any{"order_id": "o-000001", "total": "39.98"},
		}, "Idempotency-Key", "mail-1", "X-Request-Id", "req-1")
		wantStatus(t, r, http.StatusAccepted, "")
		var body map[string]string
		r.decode(t, &body)
		if !strings.HasPrefix(body["id"], "em_") {
			t.Fatalf("id %q", body["id"])
		}
		emails := c.d.Emails()
		want := []Email{{ID: body["id"], To: "ada@example.com", Template: "order_confirmation",
			Data:           map[string]any{"order_id": "o-000001", "total": "39.98"},
			IdempotencyKey: "mail-1", RequestID: "req-1"}}
		if !reflect.DeepEqual(emails, want) {
			t.Fatalf("emails %+v, want %+v", emails, want)
		}
	})
	t.Run("the same e-mail twice is sent twice", func(t *testing.T) {
		body := map[string]any{"to": "x@example.com", "template": "order_confirmation", "data": map[string]any{}}
		wantStatus(t, c.do("POST", "notifications", "/emails", body), http.StatusAccepted, "")
		wantStatus(t, c.do("POST", "notifications", "/emails", body), http.StatusAccepted, "")
		if n := len(c.d.Emails()); n != 3 {
			t.Fatalf("%d e-mails, want 3", n)
		}
	})
	t.Run("an unknown template is a bad request", func(t *testing.T) {
		r := c.do("POST", "notifications", "/emails", map[string]any{"to": "x@example.com", "template": "spam"})
		wantStatus(t, r, http.StatusBadRequest, "unknown_template")
	})
}

func TestManyParallelRequestsKeepTheDataConsistent(t *testing.T) {
	c := startDemo(t, Options{})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for j := range 15 {
				var err error
				switch (i + j) % 6 {
				case 0:
					_, err = c.try("GET", "customers", "/customers?ids=c-0001,c-0002,c-0003", nil)
				case 1:
					_, err = c.try("POST", "orders", "/orders", map[string]any{"customer_id": "c-0009",
						"lines": []map[string]any{{"sku": SKUEngine, "qty": 1, "unit_price_cents": 1999}}})
				case 2:
					var r resp
					r, err = c.try("POST", "inventory", "/reservations",
						map[string]any{"lines": []map[string]any{{"sku": SKUEngine, "qty": 3}}})
					if err == nil && r.status == http.StatusCreated {
						var body map[string]string
						json.Unmarshal(r.body, &body)
						_, err = c.try("DELETE", "inventory", "/reservations/"+body["reservation_id"], nil)
					}
				case 3:
					_, err = c.try("POST", "payments", "/payments",
						map[string]any{"order_id": "o-000001", "amount_cents": 100, "token": "tok_visa"},
						"Idempotency-Key", "same-key")
				case 4:
					c.d.Data()
					c.d.CallsByEndpoint()
					c.d.Requests("payments")
				case 5:
					c.d.SetFault("catalog", Fault{Latency: time.Millisecond, Endpoint: "GET /products"})
					_, err = c.try("GET", "catalog", "/products?q=brass", nil)
					c.d.ClearFault("catalog")
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	ds := c.d.Data()
	if ds.Stock[SKUEngine] != 500 {
		t.Errorf("stock %d after every reservation was released, want 500", ds.Stock[SKUEngine])
	}
	if n := len(ds.PaymentsOf("o-000001")); n != 2 { // the generated one and one for "same-key"
		t.Errorf("%d payments for o-000001, want 2", n)
	}
}
