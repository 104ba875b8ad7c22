package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// NewShipmentETADays is how many days after the clock's day a new shipment's
// eta lies. New shipments are label_created, shipped null, carrier DHL.
const NewShipmentETADays = 5

func (d *Demo) shippingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /shipments/by-order/{order_id}", func(w http.ResponseWriter, r *http.Request) {
		st := d.current()
		st.shipMu.RLock()
		s, ok := st.shipments[r.PathValue("order_id")]
		st.shipMu.RUnlock()
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"shipment": s})
	})
	mux.HandleFunc("POST /shipments", d.createShipment)
	mux.HandleFunc("DELETE /shipments/by-order/{order_id}", func(w http.ResponseWriter, r *http.Request) {
		st := d.current()
		st.shipMu.Lock()
		delete(st.shipments, r.PathValue("order_id"))
		st.shipMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (d *Demo) createShipment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OrderID string          `json:"order_id"`
		Address json.RawMessage `json:"address"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	var addr Address
	if req.OrderID == "" {
		badRequest(w, "order_id is required")
		return
	}
	if len(req.Address) == 0 || req.Address[0] != '{' || json.Unmarshal(req.Address, &addr) != nil {
		badRequest(w, "address must be an object")
		return
	}
	st := d.current()
	st.shipMu.Lock()
	if s, ok := st.shipments[req.OrderID]; ok {
		st.shipMu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"shipment": s})
		return
	}
	st.shipSeq++
	today := st.now().UTC()
	s := Shipment{
		TrackingNo: fmt.Sprintf("1ZDM%014d", st.shipSeq),
		Carrier:    "DHL",
		State:      ShipmentLabelCreated,
		ETA:        ptr(ddmmyyyy(today.AddDate(0, 0, NewShipmentETADays))),
		OrderID:    req.OrderID,
		Address:    &addr,
	}
	st.shipments[req.OrderID] = s
	st.shipMu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"shipment": s})
}
