package resolvers

import (
	"context"

	"github.com/tutti-gw/tutti/graph/model"
	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/upstream/orders"
)

// customerByID returns the customer, or nil when the service does not know
// it.
func (r *Resolver) customerByID(ctx context.Context, id string) (*model.Customer, error) {
	c, err := loaders.From(ctx).CustomerByID.Load(ctx, id)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return mapCustomer(c)
}

func (r *Resolver) productBySKU(ctx context.Context, sku string) (*model.Product, error) {
	p, err := loaders.From(ctx).ProductBySKU.Load(ctx, sku)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return mapProduct(p)
}

// customerOrders returns the customer's newest orders (at most
// loaders.OrdersPerCustomer), newest first.
func (r *Resolver) customerOrders(ctx context.Context, customerID string) ([]*orders.Order, error) {
	return loaders.From(ctx).OrdersByCustomer.Load(ctx, customerID)
}
