package demo

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Dataset is a snapshot of everything the demo services hold. Its types
// mirror the wire JSON of upstreams.md field for field, so a test can compute
// the answer a gateway should give from it. A snapshot is a deep copy: later
// mutations through the services do not change it, and changing it does not
// change the services.
type Dataset struct {
	// Customers in id order.
	Customers []Customer
	// Orders in id order, which is also the order they were placed in within
	// one customer.
	Orders []Order
	// Products in sku order. Catalog search answers them in the reverse order
	// (newest first: the highest sku was added last).
	Products []Product
	// Stock maps sku to available units; a sku that is absent has none and is
	// absent from GET /stock answers too.
	Stock map[string]int
	// Reservations in the order they were made.
	Reservations []Reservation
	// Shipments by order id.
	Shipments map[string]Shipment
	// Payments in the order they were made, declined attempts included.
	Payments []Payment
	// Emails accepted by the notifications service, in order.
	Emails []Email
}

// Customer is the customers service's record, as on the wire.
type Customer struct {
	ID       string `json:"id"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	// Tier is gold, silver or bronze.
	Tier string `json:"tier"`
	// Created is RFC 3339, possibly with an offset other than Z.
	Created string `json:"created"`
	// Address is nil when the wire shows null or no address key at all;
	// AddressMissing tells which.
	Address *Address `json:"address"`
	// AddressMissing means the "address" key is absent from the wire JSON
	// (Address is then nil).
	AddressMissing bool `json:"-"`
}

// Address is a postal address as the customers and shipping services send it.
type Address struct {
	Line1    string `json:"line1"`
	City     string `json:"city"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// customerWire is Customer without its JSON methods.
type customerWire Customer

// MarshalJSON writes the wire form: "address" is null, or absent when
// AddressMissing is set.
func (c Customer) MarshalJSON() ([]byte, error) {
	if c.AddressMissing {
		return json.Marshal(struct {
			customerWire
			Address *Address `json:"address,omitempty"`
		}{customerWire: customerWire(c)})
	}
	return json.Marshal(customerWire(c))
}

// UnmarshalJSON reads the wire form and sets AddressMissing when the
// "address" key is absent.
func (c *Customer) UnmarshalJSON(b []byte) error {
	var w customerWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode customer: %w", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("decode customer keys: %w", err)
	}
	_, has := keys["address"]
	w.AddressMissing = !has
	*c = Customer(w)
	return nil
}

// CreatedTime parses Created.
func (c Customer) CreatedTime() (time.Time, error) {
	t, err := time.Parse(time.RFC3339, c.Created)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse created of %s: %w", c.ID, err)
	}
	return t, nil
}

// Order statuses.
const (
	StatusPending   = "pending"
	StatusPaid      = "paid"
	StatusShipped   = "shipped"
	StatusDelivered = "delivered"
	StatusCancelled = "cancelled"
)

// Order is the orders service's record, as on the wire.
type Order struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// Status is pending, paid, shipped, delivered or cancelled.
	Status string `json:"status"`
	// PlacedAt is Unix seconds.
	PlacedAt int64 `json:"placed_at"`
	// Currency is always EUR.
	Currency string      `json:"currency"`
	Lines    []OrderLine `json:"lines"`
	// ReservationID is what POST /orders was given; it is not on the wire.
	ReservationID string `json:"-"`
}

// OrderLine is one line of an order.
type OrderLine struct {
	SKU            string `json:"sku"`
	Qty            int    `json:"qty"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// TotalCents is the sum of qty × unit price over the lines.
func (o Order) TotalCents() int64 {
	var t int64
	for _, l := range o.Lines {
		t += int64(l.Qty) * l.UnitPriceCents
	}
	return t
}

// Product is the catalog's record, as on the wire.
type Product struct {
	SKU   string `json:"sku"`
	Title string `json:"title"`
	// Description may be null.
	Description *string `json:"description"`
	Price       Price   `json:"price"`
	// Tags is absent from the wire when nil; an empty non-nil slice is [].
	Tags []string `json:"tags,omitzero"`
}

// Price is a product's price: a decimal string with up to two decimals
// ("20", "20.5" and "20.50" all occur) and the currency.
type Price struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Reservation states.
const (
	ReservationActive    = "active"
	ReservationCommitted = "committed"
	ReservationReleased  = "released"
)

// Reservation is a hold on stock made by POST /reservations.
type Reservation struct {
	ID        string            `json:"reservation_id"`
	ExpiresAt string            `json:"expires_at"`
	Lines     []ReservationLine `json:"lines"`
	// State is active, committed or released.
	State string `json:"state"`
}

// ReservationLine is one sku and quantity of a reservation.
type ReservationLine struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Shipment states.
const (
	ShipmentLabelCreated = "label_created"
	ShipmentInTransit    = "in_transit"
	ShipmentDelivered    = "delivered"
	ShipmentReturned     = "returned"
)

// Shipment is the shipping service's record, as on the wire.
type Shipment struct {
	TrackingNo string `json:"tracking_no"`
	Carrier    string `json:"carrier"`
	// State is label_created, in_transit, delivered or returned.
	State string `json:"state"`
	// Shipped and ETA are DD/MM/YYYY or null.
	Shipped *string `json:"shipped"`
	ETA     *string `json:"eta"`
	// OrderID is the order it belongs to; not on the wire.
	OrderID string `json:"-"`
	// Address is what POST /shipments was given (nil for generated ones);
	// not on the wire.
	Address *Address `json:"-"`
}

// Payment statuses.
const (
	PaymentCaptured = "captured"
	PaymentRefunded = "refunded"
	PaymentDeclined = "declined"
)

// Payment is the payments service's record, as on the wire.
type Payment struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	// Status is captured, refunded or declined.
	Status string `json:"status"`
	Amount Amount `json:"amount"`
	Method string `json:"method"`
	// IdempotencyKey is the key it was made with (empty for generated ones);
	// not on the wire.
	IdempotencyKey string `json:"-"`
}

// Amount is money in minor units with a lower-case currency.
type Amount struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

// Email is one e-mail the notifications service accepted.
type Email struct {
	ID       string         `json:"id"`
	To       string         `json:"to"`
	Template string         `json:"template"`
	Data     map[string]any `json:"data"`
	// IdempotencyKey is the request's Idempotency-Key header, if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RequestID is the request's X-Request-Id header, if any.
	RequestID string `json:"request_id,omitempty"`
}

// Customer returns the customer with that id.
func (ds *Dataset) Customer(id string) (Customer, bool) {
	for _, c := range ds.Customers {
		if c.ID == id {
			return c, true
		}
	}
	return Customer{}, false
}

// Order returns the order with that id.
func (ds *Dataset) Order(id string) (Order, bool) {
	for _, o := range ds.Orders {
		if o.ID == id {
			return o, true
		}
	}
	return Order{}, false
}

// Product returns the product with that sku.
func (ds *Dataset) Product(sku string) (Product, bool) {
	for _, p := range ds.Products {
		if p.SKU == sku {
			return p, true
		}
	}
	return Product{}, false
}

// OrdersOf returns the customer's orders newest first, the order in which the
// orders service lists them (ties on placed_at: higher id first).
func (ds *Dataset) OrdersOf(customerID string) []Order {
	var out []Order
	for _, o := range ds.Orders {
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, newestFirst)
	return out
}

// PaymentsOf returns the order's payments in the order they were made; the
// last one is the one that counts.
func (ds *Dataset) PaymentsOf(orderID string) []Payment {
	var out []Payment
	for _, p := range ds.Payments {
		if p.OrderID == orderID {
			out = append(out, p)
		}
	}
	return out
}

// clone returns a deep copy.
func (ds *Dataset) clone() *Dataset {
	out := &Dataset{
		Customers:    make([]Customer, len(ds.Customers)),
		Orders:       make([]Order, len(ds.Orders)),
		Products:     make([]Product, len(ds.Products)),
		Stock:        maps.Clone(ds.Stock),
		Reservations: make([]Reservation, len(ds.Reservations)),
		Shipments:    make(map[string]Shipment, len(ds.Shipments)),
		Payments:     slices.Clone(ds.Payments),
		Emails:       make([]Email, len(ds.Emails)),
	}
	for i, c := range ds.Customers {
		out.Customers[i] = c.clone()
	}
	for i, o := range ds.Orders {
		out.Orders[i] = o.clone()
	}
	for i, p := range ds.Products {
		out.Products[i] = p.clone()
	}
	for i, r := range ds.Reservations {
		r.Lines = slices.Clone(r.Lines)
		out.Reservations[i] = r
	}
	for k, s := range ds.Shipments {
		out.Shipments[k] = s.clone()
	}
	for i, e := range ds.Emails {
		out.Emails[i] = e.clone()
	}
	if out.Stock == nil {
		out.Stock = map[string]int{}
	}
	return out
}

func (c Customer) clone() Customer {
	if c.Address != nil {
		a := *c.Address
		c.Address = &a
	}
	return c
}

func (o Order) clone() Order {
	o.Lines = slices.Clone(o.Lines)
	return o
}

func (p Product) clone() Product {
	if p.Description != nil {
		d := *p.Description
		p.Description = &d
	}
	p.Tags = slices.Clone(p.Tags)
	return p
}

func (s Shipment) clone() Shipment {
	s.Shipped = cloneStr(s.Shipped)
	s.ETA = cloneStr(s.ETA)
	if s.Address != nil {
		a := *s.Address
		s.Address = &a
	}
	return s
}

func (e Email) clone() Email {
	e.Data = cloneJSONValue(e.Data).(map[string]any)
	return e
}

// cloneJSONValue deep-copies a value decoded from JSON.
func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneJSONValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneJSONValue(x)
		}
		return out
	default:
		return v
	}
}

func cloneStr(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// newestFirst orders orders by placed_at descending, then id descending.
func newestFirst(a, b Order) int {
	return cmp.Or(cmp.Compare(b.PlacedAt, a.PlacedAt), cmp.Compare(b.ID, a.ID))
}
