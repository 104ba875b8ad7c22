package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSameSeedGivesIdenticalData(t *testing.T) {
	a := New(Options{Seed: 7, Now: fixedClock}).Data()
	b := New(Options{Seed: 7, Now: fixedClock}).Data()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two Demos with the same seed differ")
	}
	if ja, jb := mustJSON(a), mustJSON(b); string(ja) != string(jb) {
		t.Fatal("the wire forms differ")
	}
	c := New(Options{Seed: 8, Now: fixedClock}).Data()
	if reflect.DeepEqual(a.Orders, c.Orders) {
		t.Fatal("another seed gives the same orders")
	}
	zero := New(Options{Now: fixedClock}).Data()
	one := New(Options{Seed: 1, Now: fixedClock}).Data()
	if !reflect.DeepEqual(zero, one) {
		t.Fatal("seed 0 is not seed 1")
	}
}

func TestDataSnapshotsAreCopies(t *testing.T) {
	d := New(Options{Now: fixedClock})
	ds := d.Data()
	ds.Customers[0].Address.City = "Paris"
	ds.Orders[0].Lines[0].Qty = 99
	ds.Stock[SKUPriceWhole] = -1
	again := d.Data()
	if again.Customers[0].Address.City != "London" || again.Orders[0].Lines[0].Qty == 99 || again.Stock[SKUPriceWhole] != 500 {
		t.Fatal("changing a snapshot changed the data")
	}
}

// TestDataGuarantees checks, for several seeds, every promise the package
// documentation and the id constants make about the data.
func TestDataGuarantees(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 42} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			checkGuarantees(t, New(Options{Seed: seed, Now: fixedClock}).Data())
		})
	}
}

func checkGuarantees(t *testing.T, ds *Dataset) {
	t.Helper()
	ord := func(id string) Order {
		o, ok := ds.Order(id)
		if !ok {
			t.Fatalf("no order %s", id)
		}
		return o
	}
	ship := func(id string) (Shipment, bool) { s, ok := ds.Shipments[id]; return s, ok }
	statuses := func(id string) string {
		var s []string
		for _, p := range ds.PaymentsOf(id) {
			s = append(s, p.Status)
		}
		return strings.Join(s, ",")
	}
	today := testNow.Truncate(24 * time.Hour)
	before := func(ddmmyyyy string, day time.Time) bool {
		d, err := time.Parse("02/01/2006", ddmmyyyy)
		if err != nil {
			t.Fatalf("date %q: %v", ddmmyyyy, err)
		}
		return d.Before(day)
	}

	t.Run("volumes are enough for batching", func(t *testing.T) {
		if len(ds.Customers) < 60 || len(ds.Products) < 250 || ds.Customers[0].ID != "c-0001" || ds.Products[0].SKU != "SKU-0001" {
			t.Fatalf("%d customers, %d products", len(ds.Customers), len(ds.Products))
		}
	})
	t.Run("one customer has the most orders and one has none", func(t *testing.T) {
		most := len(ds.OrdersOf(CustomerMostOrders))
		if most != 30 {
			t.Fatalf("%s has %d orders", CustomerMostOrders, most)
		}
		for _, c := range ds.Customers {
			if n := len(ds.OrdersOf(c.ID)); c.ID != CustomerMostOrders && n >= most {
				t.Fatalf("%s has %d orders", c.ID, n)
			}
		}
		if n := len(ds.OrdersOf(CustomerNoOrders)); n != 0 {
			t.Fatalf("%s has %d orders", CustomerNoOrders, n)
		}
	})
	t.Run("customers have the awkward addresses and offsets", func(t *testing.T) {
		c3, _ := ds.Customer(CustomerAddressNull)
		c4, _ := ds.Customer(CustomerAddressMissing)
		if c3.Address != nil || c3.AddressMissing || c4.Address != nil || !c4.AddressMissing {
			t.Fatalf("%+v %+v", c3, c4)
		}
		dates := map[string]string{CustomerCreatedDayBefore: "2021-03-04", CustomerCreatedDayAfter: "2021-01-01"}
		for id, want := range dates {
			c, _ := ds.Customer(id)
			ct, err := c.CreatedTime()
			if err != nil || ct.UTC().Format(time.DateOnly) != want || strings.HasSuffix(c.Created, "Z") {
				t.Fatalf("%s created %s, UTC date want %s", id, c.Created, want)
			}
		}
		c5, _ := ds.Customer(CustomerOffsetCreated)
		if !strings.HasSuffix(c5.Created, "+02:00") {
			t.Fatalf("%s created %s", c5.ID, c5.Created)
		}
		for _, c := range ds.Customers {
			if _, err := c.CreatedTime(); err != nil || (c.Tier != "gold" && c.Tier != "silver" && c.Tier != "bronze") {
				t.Fatalf("%+v: %v", c, err)
			}
		}
	})
	t.Run("every status occurs and recent orders exist", func(t *testing.T) {
		seen := map[string]bool{}
		recent := 0
		for _, o := range ds.Orders {
			seen[o.Status] = true
			if o.PlacedAt > testNow.Unix() {
				t.Fatalf("%s placed in the future", o.ID)
			}
			if o.PlacedAt >= testNow.Unix()-30*86400 {
				recent++
			}
			if len(o.Lines) < 1 || len(o.Lines) > 5 || o.Currency != "EUR" {
				t.Fatalf("order %+v", o)
			}
		}
		if len(seen) != 5 || recent < 8 {
			t.Fatalf("statuses %v, %d recent", seen, recent)
		}
		var adaRecent, adaRecentCancelled int
		for _, o := range ds.OrdersOf(CustomerMostOrders) {
			if o.PlacedAt >= testNow.Unix()-30*86400 {
				adaRecent++
				if o.Status == StatusCancelled {
					adaRecentCancelled++
				}
			}
		}
		if adaRecent != 8 || adaRecentCancelled != 1 {
			t.Fatalf("%s: %d recent, %d of them cancelled", CustomerMostOrders, adaRecent, adaRecentCancelled)
		}
	})
	t.Run("the order cases hold", func(t *testing.T) {
		o := ord(OrderUnknownSKU)
		if len(o.Lines) != 3 || o.Lines[2].SKU != UnknownSKU {
			t.Fatalf("%s lines %+v", o.ID, o.Lines)
		}
		if _, ok := ds.Product(UnknownSKU); ok {
			t.Fatal("the unknown sku is in the catalog")
		}
		if len(ord(OrderFiveLines).Lines) != 5 {
			t.Fatal("no five lines")
		}
		payCases := map[string]string{
			OrderDeclinedThenCaptured: "declined,captured",
			OrderPaidNoShipment:       "declined,captured",
			OrderOnlyDeclined:         "declined",
			OrderReturned:             "refunded",
			OrderCancelledRefunded:    "refunded",
			OrderNoPayment:            "",
		}
		for id, want := range payCases {
			if got := statuses(id); got != want {
				t.Errorf("%s payments %q, want %q", id, got, want)
			}
		}
		for _, p := range ds.Payments {
			if o, ok := ds.Order(p.OrderID); !ok || p.Amount.Value != o.TotalCents() || p.Amount.Currency != "eur" {
				t.Fatalf("payment %+v", p)
			}
		}
	})
	t.Run("the shipment cases hold", func(t *testing.T) {
		for _, id := range []string{OrderDeliveredNoShipment, OrderPaidNoShipment, OrderOnlyDeclined} {
			if _, ok := ship(id); ok {
				t.Errorf("%s has a shipment", id)
			}
		}
		type want struct {
			status, state string
			shipped, eta  bool
			etaPast       bool // eta before the clock's day
		}
		cases := map[string]want{
			OrderDelayed:        {StatusShipped, ShipmentInTransit, true, true, true},
			OrderLabelPastETA:   {StatusPaid, ShipmentLabelCreated, false, true, true},
			OrderInTransitNoETA: {StatusShipped, ShipmentInTransit, true, false, false},
			OrderLabelNoDates:   {StatusPaid, ShipmentLabelCreated, false, false, false},
			OrderETAYesterday:   {StatusShipped, ShipmentInTransit, true, true, true},
			OrderETAToday:       {StatusShipped, ShipmentInTransit, true, true, false},
			OrderReturned:       {StatusDelivered, ShipmentReturned, true, true, true},
		}
		for id, w := range cases {
			s, ok := ship(id)
			if !ok || ord(id).Status != w.status || s.State != w.state || (s.Shipped != nil) != w.shipped || (s.ETA != nil) != w.eta {
				t.Errorf("%s: %+v (order %s)", id, s, ord(id).Status)
				continue
			}
			if w.eta && before(*s.ETA, today) != w.etaPast {
				t.Errorf("%s: eta %s, in the past want %v", id, *s.ETA, w.etaPast)
			}
		}
		states := map[string]bool{}
		for id, s := range ds.Shipments {
			states[s.State] = true
			if _, ok := ds.Order(id); !ok || s.OrderID != id {
				t.Fatalf("shipment of %s", id)
			}
		}
		if len(states) != 4 {
			t.Fatalf("states %v", states)
		}
	})
	t.Run("the product and stock cases hold", func(t *testing.T) {
		forms := map[string]string{SKUPriceWhole: "20", SKUPriceOneDecimal: "20.5", SKUPriceTwoDecimals: "20.50", SKUTagsEmpty: "19.99", SKUEngine: "19.99"}
		for sku, want := range forms {
			if p, _ := ds.Product(sku); p.Price.Amount != want || p.Price.Currency != "EUR" {
				t.Errorf("%s price %+v", sku, p.Price)
			}
		}
		if p, _ := ds.Product(SKUPriceOneDecimal); p.Description != nil {
			t.Error("description not null")
		}
		if p, _ := ds.Product(SKUPriceTwoDecimals); p.Tags != nil {
			t.Error("tags not missing")
		}
		if p, _ := ds.Product(SKUTagsEmpty); p.Tags == nil || len(p.Tags) != 0 {
			t.Error("tags not empty")
		}
		if p, _ := ds.Product(SKUEngine); p.Title != "Brass Difference Engine" || p.Description != nil {
			t.Errorf("engine %+v", p)
		}
		if _, ok := ds.Stock[SKUNotStocked]; ok {
			t.Error("not-stocked sku in stock")
		}
		if n, ok := ds.Stock[SKUOutOfStock]; !ok || n != 0 || ds.Stock[SKULowStock] != 2 {
			t.Error("stock cases")
		}
		var noDesc, noTags, emptyTags int
		for _, p := range ds.Products {
			if _, err := parseAmount(p.Price.Amount); err != nil {
				t.Fatal(err)
			}
			if p.Description == nil {
				noDesc++
			}
			if p.Tags == nil {
				noTags++
			} else if len(p.Tags) == 0 {
				emptyTags++
			}
		}
		if noDesc < 5 || noTags < 5 || emptyTags < 5 {
			t.Fatalf("%d without description, %d without tags, %d with empty tags", noDesc, noTags, emptyTags)
		}
	})
}

func TestAmountForms(t *testing.T) {
	tests := []struct {
		name  string
		cents int64
		style int
		want  string
	}{
		{"whole euros may have no decimals", 2000, 0, "20"},
		{"whole euros may have two zero decimals", 2000, 1, "20.00"},
		{"whole euros may have one zero decimal", 2000, 2, "20.0"},
		{"tens of cents may have one decimal", 2050, 0, "20.5"},
		{"tens of cents may have two decimals", 2050, 1, "20.50"},
		{"other cents have two decimals", 1999, 2, "19.99"},
		{"cents below ten keep the leading zero", 105, 0, "1.05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatAmount(tt.cents, tt.style)
			back, err := parseAmount(got)
			if got != tt.want || err != nil || back != tt.cents {
				t.Fatalf("formatAmount = %q, parsed back %d, %v", got, back, err)
			}
		})
	}
}

func TestMutationsShowInData(t *testing.T) {
	c := startDemo(t, Options{})
	c.do("POST", "orders", "/orders/o-000028/status", map[string]string{"status": "cancelled"})
	c.do("POST", "inventory", "/reservations", map[string]any{"lines": []map[string]any{{"sku": SKUEngine, "qty": 5}}})
	ds := c.d.Data()
	if o, _ := ds.Order("o-000028"); o.Status != StatusCancelled {
		t.Errorf("status %s", o.Status)
	}
	if ds.Stock[SKUEngine] != 495 || len(ds.Reservations) != 1 || ds.Reservations[0].State != ReservationActive {
		t.Errorf("stock %d, reservations %+v", ds.Stock[SKUEngine], ds.Reservations)
	}
	c.d.ResetData()
	ds = c.d.Data()
	if o, _ := ds.Order("o-000028"); o.Status != StatusPaid || ds.Stock[SKUEngine] != 500 || len(ds.Reservations) != 0 {
		t.Error("ResetData did not restore the data")
	}
}

func TestCustomerWireForm(t *testing.T) {
	tests := []struct {
		name string
		c    Customer
		want string // the address part
	}{
		{"an address is an object", Customer{Address: &Address{City: "X"}}, `"address":{"line1":"","city":"X","postcode":"","country":""}`},
		{"a nil address is null", Customer{}, `"address":null`},
		{"a missing address has no key", Customer{AddressMissing: true}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" && strings.Contains(string(b), "address") || !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %s", b)
			}
			var back Customer
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tt.c) {
				t.Fatalf("round trip %+v, %v", back, err)
			}
		})
	}
}

func TestServeRunsEverythingUntilTheContextEnds(t *testing.T) {
	base := freePorts(t, len(Services)+1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{BasePort: base, Options: Options{Now: fixedClock},
			Ready: func(_ *Demo, addr string) { ready <- addr }})
	}()
	var adminAddr string
	select {
	case adminAddr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(base+len(Services)); adminAddr != want {
		t.Fatalf("admin at %s, want %s", adminAddr, want)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var urls map[string]string
	res, err := hc.Get("http://" + adminAddr + "/urls")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&urls)
	res.Body.Close()
	for i, svc := range Services {
		if want := "http://127.0.0.1:" + strconv.Itoa(base+i); urls[svc] != want {
			t.Fatalf("%s at %s, want %s", svc, urls[svc], want)
		}
	}
	req, _ := http.NewRequest("GET", urls["catalog"]+"/products/SKU-0042", nil)
	req.Header.Set("X-Api-Key", DefaultAPIKey("catalog"))
	res, err = hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("catalog: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := hc.Get(urls["catalog"]); err == nil {
		t.Fatal("catalog still listening")
	}
}

// freePorts finds n consecutive free loopback ports and returns the first.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(30000)
		var lns []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == n {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}
