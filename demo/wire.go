package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// MaxKeys is the most keys a batch call takes.
const MaxKeys = 100

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeRaw(w, status, mustJSON(v))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
	w.Write([]byte("\n"))
}

// writeError answers {"error": code} plus the extra key/value pairs.
func writeError(w http.ResponseWriter, status int, code string, kv ...string) {
	body := map[string]string{"error": code}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i]] = kv[i+1]
	}
	writeJSON(w, status, body)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, "bad_request", "message", fmt.Sprintf(format, args...))
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found")
}

// splitKeys reads a batch parameter: comma-separated, possibly repeated;
// blanks are dropped.
func splitKeys(values []string) []string {
	var keys []string
	for _, v := range values {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// dedupe keeps the first occurrence of each key.
func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// batchKeys reads the batch parameter name, answering 400 when it is absent
// or carries more than MaxKeys keys. The keys come back deduplicated.
func batchKeys(w http.ResponseWriter, r *http.Request, name string) ([]string, bool) {
	q := r.URL.Query()
	if !q.Has(name) {
		badRequest(w, "missing query parameter %s", name)
		return nil, false
	}
	keys := splitKeys(q[name])
	if len(keys) > MaxKeys {
		writeError(w, http.StatusBadRequest, "too_many_keys")
		return nil, false
	}
	return dedupe(keys), true
}

// decodeJSON reads the request body into v, answering 400 when it is not
// one JSON value of the right shape.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		badRequest(w, "body: %v", err)
		return false
	}
	if dec.More() {
		badRequest(w, "body: more than one JSON value")
		return false
	}
	return true
}

func countBatchGetKeys(body []byte) int {
	var req struct {
		SKUs []json.RawMessage `json:"skus"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&req) != nil {
		return 0
	}
	return len(req.SKUs)
}

// reversed returns s in reverse order.
func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
