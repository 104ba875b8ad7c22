package gqlhttp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/gqlhttp"
)

func TestAcceptNegotiation(t *testing.T) {
	const (
		js = "application/json; charset=utf-8"
		gr = "application/graphql-response+json; charset=utf-8"
	)
	tests := []struct {
		name, accept, want string
	}{
		{"no Accept gets application/json", "", js},
		{"*/* gets application/json", "*/*", js},
		{"application/* gets application/json", "application/*", js},
		{"application/json gets it", "application/json", js},
		{"graphql-response+json gets it", "application/graphql-response+json", gr},
		{"graphql-response+json with a charset gets it", "application/graphql-response+json; charset=utf-8", gr},
		{"both at equal weight get graphql-response+json", "application/json, application/graphql-response+json", gr},
		{"the spec's recommended Accept gets graphql-response+json", "application/graphql-response+json, application/json;q=0.9", gr},
		{"a preferred application/json wins", "application/graphql-response+json;q=0.5, application/json", js},
		{"graphql-response+json beside */* gets it", "application/graphql-response+json, */*;q=0.1", gr},
		{"a refused graphql-response+json is not sent", "application/graphql-response+json;q=0", js},
		{"an Accept allowing neither gets application/json", "text/html", js},
		{"an unparsable Accept gets application/json", ";;;, /", js},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			r := g.post(t, []byte(`{"query":"{ name }"}`), "Accept", tt.accept)
			wantData(t, r, `{"name":"test"}`)
			if ct := r.header.Get("Content-Type"); ct != tt.want {
				t.Errorf("Content-Type = %q, want %q", ct, tt.want)
			}
			// Request errors follow the same negotiation.
			r = g.get(t, url.Values{"query": {"{ nope }"}}, "Accept", tt.accept)
			if ct := r.header.Get("Content-Type"); r.status != 400 || ct != tt.want {
				t.Errorf("request error: status %d, Content-Type %q, want 400 %q", r.status, ct, tt.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	t.Run("given errors are sent with the status and keep their codes", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodDelete, "/graphql", nil)
		rec.Header().Set("Allow", "GET, POST")
		gqlhttp.WriteError(rec, req, http.StatusMethodNotAllowed, gqlerr.New(gqlerr.BadRequest, "method not allowed"))
		r := decode(t, rec.Result())
		if r.status != 405 || r.code(0) != "BAD_REQUEST" || r.hasData || r.header.Get("Allow") != "GET, POST" {
			t.Fatalf("status %d, header %v, body %s", r.status, r.header, r.raw)
		}
	})
	t.Run("errors without a code get the status's code, without changing the caller's error", func(t *testing.T) {
		for status, code := range map[int]string{401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "BAD_REQUEST", 429: "RATE_LIMITED", 500: "INTERNAL", 503: "INTERNAL"} {
			e := &gqlerror.Error{Message: "x"}
			rec := httptest.NewRecorder()
			gqlhttp.WriteError(rec, nil, status, e, nil)
			r := decode(t, rec.Result())
			if r.status != status || len(r.errors) != 1 || r.code(0) != code {
				t.Errorf("status %d: got %d %s", status, r.status, r.raw)
			}
			if e.Extensions != nil {
				t.Errorf("the caller's error was changed: %v", e.Extensions)
			}
		}
	})
	t.Run("no errors means one error named after the status", func(t *testing.T) {
		rec := httptest.NewRecorder()
		gqlhttp.WriteError(rec, httptest.NewRequest(http.MethodGet, "/x", nil), http.StatusNotFound)
		r := decode(t, rec.Result())
		if r.status != 404 || len(r.errors) != 1 || r.errors[0].Message != "not found" || r.code(0) != "BAD_REQUEST" {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("the media type follows Accept", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Accept", "application/graphql-response+json")
		gqlhttp.WriteError(rec, req, http.StatusNotFound)
		if ct := rec.Header().Get("Content-Type"); ct != gqlhttp.ContentTypeGraphQLResponse {
			t.Errorf("Content-Type = %q", ct)
		}
	})
}
