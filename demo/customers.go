package demo

import "net/http"

func (d *Demo) customerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		st := d.current()
		i, ok := st.custIdx[r.PathValue("id")]
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, st.customers[i])
	})
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		ids, ok := batchKeys(w, r, "ids")
		if !ok {
			return
		}
		st := d.current()
		found := make([]Customer, 0, len(ids))
		for _, id := range reversed(ids) {
			if i, ok := st.custIdx[id]; ok {
				found = append(found, st.customers[i])
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"customers": found})
	})
}
