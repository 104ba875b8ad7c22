package resolvers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tutti-gw/tutti/graph/model"
	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/customers"
	"github.com/tutti-gw/tutti/upstream/orders"
	"github.com/tutti-gw/tutti/upstream/payments"
	"github.com/tutti-gw/tutti/upstream/shipping"
)

// This file maps the services' wire records onto the GraphQL models
// (graphql-api.md, "Field sources and rules"). A record that breaks the
// service's contract is an UPSTREAM_ERROR of that service, never a panic or
// a made-up value.

// badRecord reports a record that does not follow its service's contract.
func badRecord(service, op string, err error) error {
	return &upstream.Error{Service: service, Op: op, Err: fmt.Errorf("%w: %w", upstream.ErrBadResponse, err)}
}

func mapCustomer(c *customers.Customer) (*model.Customer, error) {
	tier := model.Tier(strings.ToUpper(c.Tier))
	if !tier.IsValid() {
		return nil, badRecord("customers", "map customer", fmt.Errorf("unknown tier %q", c.Tier))
	}
	since, err := memberSince(c.Created)
	if err != nil {
		return nil, badRecord("customers", "map customer", err)
	}
	m := &model.Customer{ID: c.ID, Name: c.FullName, Email: c.Email, Tier: tier, MemberSince: since}
	if a := c.Address; a != nil {
		m.Address = &model.Address{Line1: a.Line1, City: a.City, Postcode: a.Postcode, Country: a.Country}
	}
	return m, nil
}

// memberSince is the UTC calendar date of an RFC 3339 instant with any
// offset. RFC 3339 allows "t" and "z" in lower case (section 5.6), which
// Go's layout does not: they are read as "T" and "Z".
func memberSince(created string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.ToUpper(created))
	if err != nil {
		return time.Time{}, fmt.Errorf("created %q is not RFC 3339", created)
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

func mapOrder(o *orders.Order) (*model.Order, error) {
	status := model.OrderStatus(strings.ToUpper(o.Status))
	if !status.IsValid() {
		return nil, badRecord("orders", "map order", fmt.Errorf("unknown status %q", o.Status))
	}
	cur := strings.ToUpper(o.Currency)
	if cur == "" {
		cur = "EUR"
	}
	m := &model.Order{
		ID:         o.ID,
		CustomerID: o.CustomerID,
		Status:     status,
		PlacedAt:   time.Unix(o.PlacedAt, 0).UTC(),
		Lines:      make([]*model.OrderLine, 0, len(o.Lines)),
		Total:      model.Money{Currency: cur},
	}
	for _, l := range o.Lines {
		unit := model.Money{Cents: int(l.UnitPriceCents), Currency: cur}
		sub := model.Money{Cents: l.Qty * int(l.UnitPriceCents), Currency: cur}
		m.Lines = append(m.Lines, &model.OrderLine{SKU: l.SKU, Quantity: l.Qty, UnitPrice: unit, Subtotal: sub})
		m.Total.Cents += sub.Cents
	}
	return m, nil
}

// mapProduct maps a catalog record, which may be sparse: it holds only the
// fields the operation selects, so an absent price is an error only where
// the price is read.
func mapProduct(p *catalog.Product) (*model.Product, error) {
	tags := p.Tags
	if tags == nil {
		tags = []string{}
	}
	m := &model.Product{SKU: p.SKU, Title: p.Title, Description: p.Description, Tags: tags}
	if p.Price.Amount == "" {
		// A sparse record without its price (the operation does not
		// select it), or a record that lacks one: an error only if read.
		m.PriceErr = errNoPrice
		return m, nil
	}
	cents, err := parseCents(p.Price.Amount)
	if err != nil {
		m.PriceErr = badRecord("catalog", "map product", err)
		return m, nil
	}
	cur := strings.ToUpper(p.Price.Currency)
	if cur == "" {
		cur = "EUR"
	}
	m.PriceMoney = model.Money{Cents: cents, Currency: cur}
	return m, nil
}

var errBadAmount = errors.New("not a decimal amount with at most two places")

// errNoPrice is the price error of a catalog record without a price; one
// value for all of them, so the common sparse record costs no allocation.
var errNoPrice = badRecord("catalog", "map product", fmt.Errorf("amount %q: %w", "", errBadAmount))

// parseCents reads a decimal string with up to two decimals into cents:
// "20" = 2000, "20.5" = 2050, "20.50" = 2050, "-0.05" = -5.
func parseCents(s string) (int, error) {
	neg := strings.HasPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if whole == "" || len(frac) > 2 || (hasDot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("amount %q: %w", s, errBadAmount)
	}
	w, err := strconv.ParseInt(whole, 10, 52)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, errBadAmount)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.Atoi(frac)
	c := int(w)*100 + f
	if neg {
		c = -c
	}
	return c, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// mapShipment maps a shipment; today is the current UTC date, for delayed.
func mapShipment(s *shipping.Shipment, today time.Time) (*model.Shipment, error) {
	status := model.ShipmentStatus(strings.ToUpper(s.State))
	if !status.IsValid() {
		return nil, badRecord("shipping", "map shipment", fmt.Errorf("unknown state %q", s.State))
	}
	shipped, err := ddmmyyyy(s.Shipped)
	if err != nil {
		return nil, badRecord("shipping", "map shipment", err)
	}
	eta, err := ddmmyyyy(s.ETA)
	if err != nil {
		return nil, badRecord("shipping", "map shipment", err)
	}
	y, mo, d := today.UTC().Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	open := status == model.ShipmentStatusLabelCreated || status == model.ShipmentStatusInTransit
	return &model.Shipment{
		TrackingNumber: s.TrackingNo, Carrier: s.Carrier, Status: status,
		ShippedOn: shipped, EstimatedDelivery: eta,
		Delayed: open && eta != nil && eta.Before(day),
	}, nil
}

// ddmmyyyy reads a DD/MM/YYYY date; nil or "" is no date.
func ddmmyyyy(s *string) (*time.Time, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	t, err := time.Parse("02/01/2006", *s)
	if err != nil {
		return nil, fmt.Errorf("date %q is not DD/MM/YYYY", *s)
	}
	return &t, nil
}

func mapPayment(p *payments.Payment) (*model.Payment, error) {
	status := model.PaymentStatus(strings.ToUpper(p.Status))
	if !status.IsValid() {
		return nil, badRecord("payments", "map payment", fmt.Errorf("unknown status %q", p.Status))
	}
	return &model.Payment{
		ID: p.ID, Status: status, Method: p.Method,
		Amount: model.Money{Cents: int(p.Amount.Value), Currency: strings.ToUpper(p.Amount.Currency)},
	}, nil
}
