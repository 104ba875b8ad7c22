// Package model holds the Go types bound to the GraphQL schema. The
// hand-written ones are here; gqlgen writes the rest into models_gen.go.
// Models keep foreign keys (Order.CustomerID); nested objects that another
// service serves are field resolvers, fetched only when selected.
package model

import "time"

// Customer is a shop customer (customers service).
type Customer struct {
	ID          string
	Name        string
	Email       string
	Tier        Tier
	MemberSince time.Time
	Address     *Address
}

// Order is one order (orders service). CustomerID is the foreign key that
// Order.customer resolves.
type Order struct {
	ID         string
	CustomerID string
	Status     OrderStatus
	PlacedAt   time.Time
	Lines      []*OrderLine
	Total      Money
}

// OrderLine is one line of an order, priced as it was paid.
type OrderLine struct {
	SKU       string
	Quantity  int
	UnitPrice Money
	Subtotal  Money
}

// Product is a catalog product. Stock comes from inventory through field
// resolvers.
type Product struct {
	SKU         string
	Title       string
	Description *string
	Tags        []string
	// PriceMoney is the price; PriceErr says why the record's price was
	// unusable. The catalog is asked only for the fields an operation
	// selects, so a price is checked only where it is read.
	PriceMoney Money
	PriceErr   error
}

// Price is the product's price, or the reason the catalog's price is
// unusable.
func (p *Product) Price() (Money, error) {
	return p.PriceMoney, p.PriceErr
}

// Shipment is the shipment of one order (shipping service).
type Shipment struct {
	TrackingNumber    string
	Carrier           string
	Status            ShipmentStatus
	ShippedOn         *time.Time
	EstimatedDelivery *time.Time
	Delayed           bool
}

// Payment is a payment of an order (payments service).
type Payment struct {
	ID     string
	Status PaymentStatus
	Amount Money
	Method string
}
