package demo

import (
	"net/http"
	"slices"
	"strings"
)

func (d *Demo) paymentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /payments", func(w http.ResponseWriter, r *http.Request) {
		ids, ok := batchKeys(w, r, "order_ids")
		if !ok {
			return
		}
		st := d.current()
		found := []Payment{}
		st.payMu.RLock()
		var idx []int
		for _, id := range ids {
			idx = append(idx, st.payByOrder[id]...)
		}
		slices.Sort(idx) // the order the payments were made
		for _, i := range idx {
			found = append(found, st.payments[i])
		}
		st.payMu.RUnlock()
		writeJSON(w, http.StatusOK, found)
	})
	mux.HandleFunc("POST /payments", d.createPayment)
	mux.HandleFunc("POST /payments/{id}/refund", d.refundPayment)
}

// declined reports whether the card token is declined: tok_declined, and
// every token not starting with tok_.
func declined(token string) bool {
	return token == "tok_declined" || !strings.HasPrefix(token, "tok_")
}

func (d *Demo) createPayment(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "missing_idempotency_key")
		return
	}
	st := d.current()
	st.payMu.Lock()
	defer st.payMu.Unlock()
	if a, ok := st.idem[key]; ok {
		writeRaw(w, a.status, a.body)
		return
	}
	var req struct {
		OrderID     string `json:"order_id"`
		AmountCents int64  `json:"amount_cents"`
		Currency    string `json:"currency"`
		Token       string `json:"token"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case req.OrderID == "":
		badRequest(w, "order_id is required")
		return
	case req.AmountCents < 1:
		badRequest(w, "amount_cents must be positive")
		return
	case req.Currency != "" && !strings.EqualFold(req.Currency, "EUR"):
		badRequest(w, "currency must be EUR")
		return
	}
	p := Payment{
		ID:             paymentID(len(st.payments) + 1),
		OrderID:        req.OrderID,
		Status:         PaymentCaptured,
		Amount:         Amount{Value: req.AmountCents, Currency: "eur"},
		Method:         "card",
		IdempotencyKey: key,
	}
	a := storedAnswer{status: http.StatusCreated}
	if declined(req.Token) {
		p.Status = PaymentDeclined
		a = storedAnswer{status: http.StatusPaymentRequired, body: mustJSON(map[string]string{"error": "card_declined"})}
	}
	st.payIdx[p.ID] = len(st.payments)
	st.payByOrder[p.OrderID] = append(st.payByOrder[p.OrderID], len(st.payments))
	st.payments = append(st.payments, p)
	if a.body == nil {
		a.body = mustJSON(p)
	}
	st.idem[key] = a
	writeRaw(w, a.status, a.body)
}

func (d *Demo) refundPayment(w http.ResponseWriter, r *http.Request) {
	st := d.current()
	st.payMu.Lock()
	i, ok := st.payIdx[r.PathValue("id")]
	if !ok {
		st.payMu.Unlock()
		notFound(w)
		return
	}
	p := &st.payments[i]
	if p.Status == PaymentDeclined {
		st.payMu.Unlock()
		writeError(w, http.StatusConflict, "not_refundable")
		return
	}
	p.Status = PaymentRefunded
	out := *p
	st.payMu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
