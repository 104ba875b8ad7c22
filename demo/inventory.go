package demo

import (
	"fmt"
	"net/http"
	"time"
)

// ReservationTTL is how far ahead a reservation's expires_at lies. The demo
// never expires reservations by itself; expires_at is informational.
const ReservationTTL = 15 * time.Minute

func (d *Demo) inventoryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) {
		skus, ok := batchKeys(w, r, "skus")
		if !ok {
			return
		}
		st := d.current()
		out := make(map[string]int, len(skus))
		st.invMu.Lock()
		for _, sku := range skus {
			if n, ok := st.stock[sku]; ok {
				out[sku] = n
			}
		}
		st.invMu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /reservations", d.reserve)
	mux.HandleFunc("POST /reservations/{id}/commit", d.commitReservation)
	mux.HandleFunc("DELETE /reservations/{id}", d.releaseReservation)
}

func (d *Demo) reserve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Lines []ReservationLine `json:"lines"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if len(req.Lines) == 0 {
		badRequest(w, "lines must not be empty")
		return
	}
	// The same sku on several lines is reserved as one line.
	var lines []ReservationLine
	at := map[string]int{}
	for i, l := range req.Lines {
		if l.SKU == "" || l.Qty < 1 {
			badRequest(w, "lines[%d] needs a sku and a qty of at least 1", i)
			return
		}
		if j, ok := at[l.SKU]; ok {
			lines[j].Qty += l.Qty
			continue
		}
		at[l.SKU] = len(lines)
		lines = append(lines, l)
	}
	st := d.current()
	st.invMu.Lock()
	for _, l := range lines {
		if st.stock[l.SKU] < l.Qty {
			st.invMu.Unlock()
			writeError(w, http.StatusConflict, "insufficient_stock", "sku", l.SKU)
			return
		}
	}
	for _, l := range lines {
		st.stock[l.SKU] -= l.Qty
	}
	res := &Reservation{
		ID:        fmt.Sprintf("r-%06d", len(st.reservations)+1),
		ExpiresAt: st.now().UTC().Add(ReservationTTL).Truncate(time.Second).Format(time.RFC3339),
		Lines:     lines,
		State:     ReservationActive,
	}
	st.reservations = append(st.reservations, res)
	st.resIdx[res.ID] = res
	st.invMu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"reservation_id": res.ID, "expires_at": res.ExpiresAt})
}

func (d *Demo) commitReservation(w http.ResponseWriter, r *http.Request) {
	st := d.current()
	st.invMu.Lock()
	defer st.invMu.Unlock()
	res, ok := st.resIdx[r.PathValue("id")]
	switch {
	case !ok:
		notFound(w)
	case res.State == ReservationReleased:
		writeError(w, http.StatusConflict, "reservation_released")
	default:
		res.State = ReservationCommitted
		w.WriteHeader(http.StatusNoContent)
	}
}

func (d *Demo) releaseReservation(w http.ResponseWriter, r *http.Request) {
	st := d.current()
	st.invMu.Lock()
	defer st.invMu.Unlock()
	res, ok := st.resIdx[r.PathValue("id")]
	switch {
	case !ok:
		notFound(w)
	case res.State == ReservationCommitted:
		writeError(w, http.StatusConflict, "reservation_committed")
	case res.State == ReservationReleased:
		w.WriteHeader(http.StatusNoContent)
	default:
		res.State = ReservationReleased
		for _, l := range res.Lines {
			st.stock[l.SKU] += l.Qty
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
