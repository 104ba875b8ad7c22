package demo

import (
	"fmt"
	"net/http"
)

// Templates are the e-mail templates the notifications service knows.
var Templates = []string{"order_confirmation"}

func (d *Demo) notificationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /emails", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To       string         `json:"to"`
			Template string         `json:"template"`
			Data     map[string]any `json:"data"`
		}
		if !decodeJSON(w, r, &req) {
			return
		}
		switch {
		case req.To == "":
			badRequest(w, "to is required")
			return
		case req.Template != "order_confirmation":
			writeError(w, http.StatusBadRequest, "unknown_template", "template", req.Template)
			return
		}
		st := d.current()
		st.mailMu.Lock()
		e := Email{
			ID:             fmt.Sprintf("em_%06x", 0xa0000+len(st.emails)+1),
			To:             req.To,
			Template:       req.Template,
			Data:           req.Data,
			IdempotencyKey: r.Header.Get("Idempotency-Key"),
			RequestID:      r.Header.Get("X-Request-Id"),
		}
		st.emails = append(st.emails, e)
		st.mailMu.Unlock()
		d.log.Debug("email accepted", "id", e.ID, "template", e.Template)
		writeJSON(w, http.StatusAccepted, map[string]string{"id": e.ID})
	})
}
