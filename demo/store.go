package demo

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"
)

// store holds the services' data. Each service's part has its own lock, so
// a slow writer in one service does not hold up reads in another. Customers
// and products never change after New and need no lock.
type store struct {
	now func() time.Time

	customers []Customer
	custIdx   map[string]int

	products []Product // sku order
	prodIdx  map[string]int

	ordMu     sync.RWMutex
	orders    []Order
	ordIdx    map[string]int
	byCust    map[string][]int // indices into orders, in the order placed
	nextOrder int

	invMu        sync.Mutex
	stock        map[string]int
	reservations []*Reservation
	resIdx       map[string]*Reservation

	shipMu    sync.RWMutex
	shipments map[string]Shipment
	shipSeq   int

	payMu      sync.RWMutex
	payments   []Payment
	payIdx     map[string]int
	payByOrder map[string][]int
	idem       map[string]storedAnswer

	mailMu sync.Mutex
	emails []Email
}

// storedAnswer is the first answer given for an Idempotency-Key.
type storedAnswer struct {
	status int
	body   []byte
}

func newStore(ds *Dataset, now func() time.Time) *store {
	s := &store{
		now:        now,
		customers:  ds.Customers,
		custIdx:    make(map[string]int, len(ds.Customers)),
		products:   ds.Products,
		prodIdx:    make(map[string]int, len(ds.Products)),
		orders:     ds.Orders,
		ordIdx:     make(map[string]int, len(ds.Orders)),
		byCust:     map[string][]int{},
		nextOrder:  len(ds.Orders) + 1,
		stock:      ds.Stock,
		resIdx:     map[string]*Reservation{},
		shipments:  ds.Shipments,
		payments:   ds.Payments,
		payIdx:     make(map[string]int, len(ds.Payments)),
		payByOrder: map[string][]int{},
		idem:       map[string]storedAnswer{},
		emails:     ds.Emails,
	}
	for i, c := range s.customers {
		s.custIdx[c.ID] = i
	}
	for i, p := range s.products {
		s.prodIdx[p.SKU] = i
	}
	for i, o := range s.orders {
		s.ordIdx[o.ID] = i
		s.byCust[o.CustomerID] = append(s.byCust[o.CustomerID], i)
	}
	for i := range ds.Reservations {
		r := ds.Reservations[i]
		s.reservations = append(s.reservations, &r)
		s.resIdx[r.ID] = &r
	}
	for i, p := range s.payments {
		s.payIdx[p.ID] = i
		s.payByOrder[p.OrderID] = append(s.payByOrder[p.OrderID], i)
	}
	return s
}

// snapshot returns a deep copy of the current data.
func (s *store) snapshot() *Dataset {
	ds := &Dataset{Customers: s.customers, Products: s.products}

	s.ordMu.RLock()
	ds.Orders = s.orders
	out := ds.clone() // copies customers, products and orders
	s.ordMu.RUnlock()

	s.invMu.Lock()
	out.Stock = maps.Clone(s.stock)
	for _, r := range s.reservations {
		c := *r
		c.Lines = slices.Clone(r.Lines)
		out.Reservations = append(out.Reservations, c)
	}
	s.invMu.Unlock()

	s.shipMu.RLock()
	for k, v := range s.shipments {
		out.Shipments[k] = v.clone()
	}
	s.shipMu.RUnlock()

	s.payMu.RLock()
	out.Payments = slices.Clone(s.payments)
	s.payMu.RUnlock()

	s.mailMu.Lock()
	for _, e := range s.emails {
		out.Emails = append(out.Emails, e.clone())
	}
	s.mailMu.Unlock()
	return out
}

func (s *store) emailsCopy() []Email {
	s.mailMu.Lock()
	defer s.mailMu.Unlock()
	out := make([]Email, len(s.emails))
	for i, e := range s.emails {
		out[i] = e.clone()
	}
	return out
}

// mustJSON encodes values that cannot fail to encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("demo: encode: " + err.Error())
	}
	return b
}
