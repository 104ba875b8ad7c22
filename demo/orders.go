package demo

import (
	"fmt"
	"net/http"
	"slices"
)

// OrdersDefaultLimit and OrdersMaxLimit bound GET /orders?customer_ids.
const (
	OrdersDefaultLimit = 20
	OrdersMaxLimit     = 100
)

func (d *Demo) orderRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		o, ok := d.current().order(r.PathValue("id"))
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("GET /orders", d.listOrders)
	mux.HandleFunc("POST /orders", d.createOrder)
	mux.HandleFunc("POST /orders/{id}/status", d.setOrderStatus)
}

func (s *store) order(id string) (Order, bool) {
	s.ordMu.RLock()
	defer s.ordMu.RUnlock()
	i, ok := s.ordIdx[id]
	if !ok {
		return Order{}, false
	}
	return s.orders[i], true
}

func (d *Demo) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("ids") == q.Has("customer_ids") {
		badRequest(w, "give exactly one of ids and customer_ids")
		return
	}
	st := d.current()
	if q.Has("ids") {
		ids, ok := batchKeys(w, r, "ids")
		if !ok {
			return
		}
		found := make([]Order, 0, len(ids))
		st.ordMu.RLock()
		for _, id := range reversed(ids) {
			if i, ok := st.ordIdx[id]; ok {
				found = append(found, st.orders[i])
			}
		}
		st.ordMu.RUnlock()
		writeJSON(w, http.StatusOK, map[string]any{"data": found})
		return
	}
	customers, ok := batchKeys(w, r, "customer_ids")
	if !ok {
		return
	}
	limit, err := parseLimit(r, "limit", OrdersDefaultLimit)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	limit = min(limit, OrdersMaxLimit)
	var found []Order
	st.ordMu.RLock()
	for _, c := range customers {
		idx := st.byCust[c]
		mine := make([]Order, len(idx))
		for j, i := range idx {
			mine[j] = st.orders[i]
		}
		slices.SortStableFunc(mine, newestFirst)
		found = append(found, mine[:min(limit, len(mine))]...)
	}
	st.ordMu.RUnlock()
	// Newest first across customers: each customer's orders stay newest
	// first, and customers interleave.
	slices.SortStableFunc(found, newestFirst)
	if found == nil {
		found = []Order{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": found})
}

func (d *Demo) createOrder(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CustomerID    string      `json:"customer_id"`
		Lines         []OrderLine `json:"lines"`
		Currency      string      `json:"currency"`
		ReservationID string      `json:"reservation_id"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := validateOrder(req.CustomerID, req.Currency, req.Lines); err != nil {
		badRequest(w, "%v", err)
		return
	}
	st := d.current()
	st.ordMu.Lock()
	o := Order{
		ID:            fmt.Sprintf("o-%06d", st.nextOrder),
		CustomerID:    req.CustomerID,
		Status:        StatusPending,
		PlacedAt:      st.now().Unix(),
		Currency:      "EUR",
		Lines:         slices.Clone(req.Lines),
		ReservationID: req.ReservationID,
	}
	st.nextOrder++
	st.ordIdx[o.ID] = len(st.orders)
	st.byCust[o.CustomerID] = append(st.byCust[o.CustomerID], len(st.orders))
	st.orders = append(st.orders, o)
	st.ordMu.Unlock()
	d.log.Debug("order created", "order", o.ID, "customer", o.CustomerID)
	writeJSON(w, http.StatusCreated, o)
}

func validateOrder(customer, currency string, lines []OrderLine) error {
	switch {
	case customer == "":
		return fmt.Errorf("customer_id is required")
	case currency != "" && currency != "EUR":
		return fmt.Errorf("currency must be EUR")
	case len(lines) == 0:
		return fmt.Errorf("lines must not be empty")
	}
	for i, l := range lines {
		switch {
		case l.SKU == "":
			return fmt.Errorf("lines[%d].sku is required", i)
		case l.Qty < 1:
			return fmt.Errorf("lines[%d].qty must be at least 1", i)
		case l.UnitPriceCents < 0:
			return fmt.Errorf("lines[%d].unit_price_cents must not be negative", i)
		}
	}
	return nil
}

// transitions lists the statuses POST /orders/{id}/status may move an order
// to, from each status; setting the status it already has always succeeds.
var transitions = map[string][]string{
	StatusPending: {StatusPaid, StatusCancelled},
	StatusPaid:    {StatusCancelled},
}

func (d *Demo) setOrderStatus(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status string `json:"status"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Status != StatusPaid && req.Status != StatusCancelled {
		badRequest(w, "status must be paid or cancelled")
		return
	}
	st := d.current()
	st.ordMu.Lock()
	i, ok := st.ordIdx[r.PathValue("id")]
	if !ok {
		st.ordMu.Unlock()
		notFound(w)
		return
	}
	o := &st.orders[i]
	if o.Status != req.Status && !slices.Contains(transitions[o.Status], req.Status) {
		from := o.Status
		st.ordMu.Unlock()
		writeError(w, http.StatusConflict, "invalid_transition", "from", from, "to", req.Status)
		return
	}
	o.Status = req.Status
	out := *o
	st.ordMu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
