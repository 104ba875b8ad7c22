package demo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Catalog search page sizes.
const (
	SearchDefaultLimit = 20
	SearchMaxLimit     = 100
)

// productFields are the names a sparse field set may hold.
var productFields = map[string]bool{"sku": true, "title": true, "description": true, "price": true, "tags": true}

func (d *Demo) catalogRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /products/{sku}", func(w http.ResponseWriter, r *http.Request) {
		fields, ok := parseFields(w, splitKeys(r.URL.Query()["fields"]))
		if !ok {
			return
		}
		st := d.current()
		i, found := st.prodIdx[r.PathValue("sku")]
		if !found {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, sparse(st.products[i], fields))
	})
	mux.HandleFunc("POST /products:batchGet", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SKUs   []string `json:"skus"`
			Fields []string `json:"fields"`
		}
		if !decodeJSON(w, r, &req) {
			return
		}
		if req.SKUs == nil {
			badRequest(w, "skus is required")
			return
		}
		if len(req.SKUs) > MaxKeys {
			writeError(w, http.StatusBadRequest, "too_many_keys")
			return
		}
		fields, ok := parseFields(w, req.Fields)
		if !ok {
			return
		}
		st := d.current()
		out := make(map[string]any, len(req.SKUs))
		for _, sku := range req.SKUs {
			if i, found := st.prodIdx[sku]; found {
				out[sku] = sparse(st.products[i], fields)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"products": out})
	})
	mux.HandleFunc("GET /products", d.searchProducts)
}

// parseFields checks a sparse field set; an empty one means all fields
// (nil).
func parseFields(w http.ResponseWriter, names []string) (map[string]bool, bool) {
	if len(names) == 0 {
		return nil, true
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !productFields[n] {
			writeError(w, http.StatusBadRequest, "unknown_field", "field", n)
			return nil, false
		}
		set[n] = true
	}
	return set, true
}

// sparseProduct is a product with only some fields; a nil field is absent.
type sparseProduct struct {
	SKU         string          `json:"sku"`
	Title       json.RawMessage `json:"title,omitempty"`
	Description json.RawMessage `json:"description,omitempty"`
	Price       json.RawMessage `json:"price,omitempty"`
	Tags        json.RawMessage `json:"tags,omitempty"`
}

// sparse returns p with only the fields in set, sku always; all of p when
// set is nil.
func sparse(p Product, set map[string]bool) any {
	if set == nil {
		return p
	}
	out := sparseProduct{SKU: p.SKU}
	if set["title"] {
		out.Title = mustJSON(p.Title)
	}
	if set["description"] {
		out.Description = mustJSON(p.Description)
	}
	if set["price"] {
		out.Price = mustJSON(p.Price)
	}
	if set["tags"] && p.Tags != nil {
		out.Tags = mustJSON(p.Tags)
	}
	return out
}

func (d *Demo) searchProducts(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	limit, err := parseLimit(r, "limit", SearchDefaultLimit)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	limit = min(limit, SearchMaxLimit)
	after := ""
	if c := query.Get("cursor"); c != "" {
		if after, err = decodeCursor(c); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_cursor")
			return
		}
	}
	q := strings.ToLower(strings.TrimSpace(query.Get("q")))
	st := d.current()
	items := []Product{}
	var next *string
	for i := len(st.products) - 1; i >= 0; i-- {
		p := st.products[i]
		if after != "" && p.SKU >= after {
			continue
		}
		if !matches(p, q) {
			continue
		}
		if len(items) == limit {
			next = ptr(encodeCursor(items[len(items)-1].SKU))
			break
		}
		items = append(items, p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next": next})
}

// matches reports whether q (lower case) is in p's title or one of its tags.
func matches(p Product, q string) bool {
	if q == "" || strings.Contains(strings.ToLower(p.Title), q) {
		return true
	}
	for _, t := range p.Tags {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}

const cursorPrefix = "v1|"

// encodeCursor makes the opaque cursor for the page after sku.
func encodeCursor(sku string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + sku))
}

var errBadCursor = errors.New("not a cursor of this service")

// decodeCursor reads a cursor made by encodeCursor. It never panics;
// decodeCursor(encodeCursor(s)) is s for any non-empty s.
func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errBadCursor
	}
	sku, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || sku == "" {
		return "", errBadCursor
	}
	return sku, nil
}
