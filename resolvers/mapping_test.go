package resolvers

import (
	"errors"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/graph/model"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/customers"
	"github.com/tutti-gw/tutti/upstream/orders"
	"github.com/tutti-gw/tutti/upstream/payments"
	"github.com/tutti-gw/tutti/upstream/shipping"
)

func TestParseCents(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		bad      bool
	}{
		{"a whole number has no decimals", "20", 2000, false},
		{"one decimal is tens of cents", "20.5", 2050, false},
		{"two decimals are cents", "20.50", 2050, false},
		{"cents below ten keep their zero", "19.05", 1905, false},
		{"zero is zero", "0", 0, false},
		{"a negative amount is negative cents", "-0.05", -5, false},
		{"three decimals are refused", "20.505", 0, true},
		{"a trailing dot is refused", "20.", 0, true},
		{"a leading dot is refused", ".5", 0, true},
		{"letters are refused", "twenty", 0, true},
		{"an empty string is refused", "", 0, true},
		{"a plus sign is refused", "+5", 0, true},
		{"exponents are refused", "1e3", 0, true},
		{"a huge number is refused", "99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCents(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("parseCents(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseCents(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMoneyAmount(t *testing.T) {
	tests := []struct {
		cents int
		want  string
	}{
		{1999, "19.99"}, {-5, "-0.05"}, {0, "0.00"}, {5, "0.05"}, {100, "1.00"},
		{-1999, "-19.99"}, {123456789, "1234567.89"}, {-100, "-1.00"},
	}
	for _, tt := range tests {
		if got := (model.Money{Cents: tt.cents}).Amount(); got != tt.want {
			t.Errorf("Money{%d}.Amount() = %q, want %q", tt.cents, got, tt.want)
		}
	}
}

func TestMapCustomer(t *testing.T) {
	addr := &customers.Address{Line1: "12 Analytical Row", City: "London", Postcode: "N1 9GU", Country: "GB"}
	tests := []struct {
		name    string
		in      customers.Customer
		since   string
		tier    model.Tier
		address bool
		bad     bool
	}{
		{"tier is upper-cased and a Z instant is its own date", customers.Customer{ID: "c", Tier: "gold", Created: "2021-03-04T10:00:00Z", Address: addr}, "2021-03-04", model.TierGold, true, false},
		{"an offset that crosses midnight moves the UTC date back", customers.Customer{ID: "c", Tier: "silver", Created: "2021-03-04T01:00:00+02:00"}, "2021-03-03", model.TierSilver, false, false},
		{"a negative offset moves the UTC date forward", customers.Customer{ID: "c", Tier: "bronze", Created: "2021-03-04T23:30:00-05:00"}, "2021-03-05", model.TierBronze, false, false},
		{"lower-case t and z are RFC 3339 too", customers.Customer{ID: "c", Tier: "gold", Created: "2021-03-04t23:59:59.5z"}, "2021-03-04", model.TierGold, false, false},
		{"a null address is null", customers.Customer{ID: "c", Tier: "gold", Created: "2021-03-04T10:00:00Z"}, "2021-03-04", model.TierGold, false, false},
		{"an unknown tier breaks the contract", customers.Customer{ID: "c", Tier: "platinum", Created: "2021-03-04T10:00:00Z"}, "", "", false, true},
		{"a created that is not RFC 3339 breaks the contract", customers.Customer{ID: "c", Tier: "gold", Created: "04/03/2021"}, "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mapCustomer(&tt.in)
			if tt.bad {
				if !errors.Is(err, upstream.ErrBadResponse) || upstream.ServiceOf(err) != "customers" {
					t.Fatalf("want a customers ErrBadResponse, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := got.MemberSince.Format(model.DateLayout); d != tt.since {
				t.Errorf("memberSince = %s, want %s", d, tt.since)
			}
			if got.Tier != tt.tier {
				t.Errorf("tier = %s, want %s", got.Tier, tt.tier)
			}
			if (got.Address != nil) != tt.address {
				t.Errorf("address = %+v, want present=%v", got.Address, tt.address)
			}
			if tt.address && got.Address.Postcode != "N1 9GU" {
				t.Errorf("address = %+v", got.Address)
			}
		})
	}
}

func TestMapOrder(t *testing.T) {
	o := &orders.Order{
		ID: "o-1", CustomerID: "c-1", Status: "delivered", PlacedAt: 1763631000, Currency: "EUR",
		Lines: []orders.Line{{SKU: "SKU-1", Qty: 2, UnitPriceCents: 1999}, {SKU: "SKU-2", Qty: 1, UnitPriceCents: 5}},
	}
	m, err := mapOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != model.OrderStatusDelivered {
		t.Errorf("status = %s", m.Status)
	}
	if got := m.PlacedAt.Format(model.DateTimeLayout); got != "2025-11-20T09:30:00Z" {
		t.Errorf("placedAt = %s", got)
	}
	if m.Total.Cents != 4003 || m.Total.Currency != "EUR" || m.Total.Amount() != "40.03" {
		t.Errorf("total = %+v", m.Total)
	}
	if l := m.Lines[0]; l.Subtotal.Cents != 3998 || l.UnitPrice.Cents != 1999 || l.Quantity != 2 || l.SKU != "SKU-1" {
		t.Errorf("line = %+v", l)
	}
	if _, err := mapOrder(&orders.Order{Status: "lost"}); !errors.Is(err, upstream.ErrBadResponse) {
		t.Errorf("unknown status: got %v", err)
	}
}

func TestMapProduct(t *testing.T) {
	desc := "A fine engine"
	tests := []struct {
		name  string
		in    catalog.Product
		cents int
		tags  []string
	}{
		{"missing tags are an empty list", catalog.Product{SKU: "S", Price: catalog.Price{Amount: "20", Currency: "EUR"}}, 2000, []string{}},
		{"tags are kept", catalog.Product{SKU: "S", Price: catalog.Price{Amount: "20.5", Currency: "eur"}, Tags: []string{"a", "b"}}, 2050, []string{"a", "b"}},
		{"a description is kept", catalog.Product{SKU: "S", Description: &desc, Price: catalog.Price{Amount: "20.50", Currency: "EUR"}}, 2050, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mapProduct(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if price, err := p.Price(); err != nil || price.Cents != tt.cents || price.Currency != "EUR" {
				t.Errorf("price = %+v, %v", price, err)
			}
			if len(p.Tags) != len(tt.tags) || p.Tags == nil {
				t.Errorf("tags = %#v, want %#v", p.Tags, tt.tags)
			}
			if p.Description != tt.in.Description {
				t.Errorf("description = %v", p.Description)
			}
		})
	}
	p, err := mapProduct(&catalog.Product{Price: catalog.Price{Amount: "1,50"}})
	if err != nil {
		t.Fatalf("a bad price fails only where it is read: %v", err)
	}
	if _, err := p.Price(); !errors.Is(err, upstream.ErrBadResponse) || upstream.ServiceOf(err) != "catalog" {
		t.Errorf("bad price: got %v", err)
	}
	p, _ = mapProduct(&catalog.Product{SKU: "S", Title: "t"})
	if _, err := p.Price(); !errors.Is(err, upstream.ErrBadResponse) {
		t.Errorf("a price absent from the record: got %v", err)
	}
}

func TestMapShipment(t *testing.T) {
	today := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	s := func(v string) *string { return &v }
	tests := []struct {
		name    string
		in      shipping.Shipment
		status  model.ShipmentStatus
		shipped string
		eta     string
		delayed bool
	}{
		{"in transit with a past eta is delayed", shipping.Shipment{State: "in_transit", Shipped: s("20/11/2026"), ETA: s("24/11/2026")}, model.ShipmentStatusInTransit, "2026-11-20", "2026-11-24", true},
		{"an eta of today is not delayed", shipping.Shipment{State: "in_transit", ETA: s("25/11/2026")}, model.ShipmentStatusInTransit, "", "2026-11-25", false},
		{"label created with a past eta is delayed", shipping.Shipment{State: "label_created", ETA: s("01/01/2026")}, model.ShipmentStatusLabelCreated, "", "2026-01-01", true},
		{"delivered is never delayed", shipping.Shipment{State: "delivered", Shipped: s("01/11/2026"), ETA: s("03/11/2026")}, model.ShipmentStatusDelivered, "2026-11-01", "2026-11-03", false},
		{"returned is never delayed", shipping.Shipment{State: "returned", ETA: s("03/11/2026")}, model.ShipmentStatusReturned, "", "2026-11-03", false},
		{"no eta is not delayed", shipping.Shipment{State: "in_transit"}, model.ShipmentStatusInTransit, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mapShipment(&tt.in, today)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != tt.status || m.Delayed != tt.delayed {
				t.Errorf("status %s delayed %v, want %s %v", m.Status, m.Delayed, tt.status, tt.delayed)
			}
			if got := dateString(m.ShippedOn); got != tt.shipped {
				t.Errorf("shippedOn = %q, want %q", got, tt.shipped)
			}
			if got := dateString(m.EstimatedDelivery); got != tt.eta {
				t.Errorf("estimatedDelivery = %q, want %q", got, tt.eta)
			}
		})
	}
	for _, bad := range []shipping.Shipment{{State: "lost"}, {State: "in_transit", ETA: s("2026-11-25")}, {State: "in_transit", Shipped: s("31/02/2026")}} {
		if _, err := mapShipment(&bad, today); !errors.Is(err, upstream.ErrBadResponse) {
			t.Errorf("mapShipment(%+v): got %v, want ErrBadResponse", bad, err)
		}
	}
}

func dateString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(model.DateLayout)
}

func TestMapPayment(t *testing.T) {
	p, err := mapPayment(&payments.Payment{ID: "pay_1", Status: "refunded", Amount: payments.Amount{Value: 3998, Currency: "eur"}, Method: "card"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != model.PaymentStatusRefunded || p.Amount.Currency != "EUR" || p.Amount.Cents != 3998 || p.Method != "card" {
		t.Errorf("payment = %+v", p)
	}
	if _, err := mapPayment(&payments.Payment{Status: "pending"}); !errors.Is(err, upstream.ErrBadResponse) {
		t.Errorf("unknown status: got %v", err)
	}
}

func TestSelectOrders(t *testing.T) {
	all := []*orders.Order{{ID: "5", Status: "paid"}, {ID: "4", Status: "cancelled"}, {ID: "3", Status: "shipped"}, {ID: "2", Status: "cancelled"}, {ID: "1", Status: "delivered"}}
	ids := func(os []*orders.Order) string {
		s := ""
		for _, o := range os {
			s += o.ID
		}
		return s
	}
	if got := ids(selectOrders(all, 2, false)); got != "53" {
		t.Errorf("first 2 without cancelled = %s, want 53", got)
	}
	if got := ids(selectOrders(all, 2, true)); got != "54" {
		t.Errorf("first 2 with cancelled = %s, want 54", got)
	}
	if got := ids(selectOrders(all, 50, false)); got != "531" {
		t.Errorf("all without cancelled = %s, want 531", got)
	}
}
