package gqlhttp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/tutti-gw/tutti/gqlhttp"
)

func TestGETAnswersAQuery(t *testing.T) {
	g := newGateway(t)
	r := g.get(t, url.Values{
		"query":         {"query Q($id: Int!) { name find(id: $id) }"},
		"operationName": {"Q"},
		"variables":     {`{"id":1}`},
		"extensions":    {`{}`},
	})
	wantData(t, r, `{"name":"test"}`)
}

func TestGETRefusesMutationsWith405(t *testing.T) {
	g := newGateway(t)
	r := g.get(t, url.Values{"query": {"mutation { name }"}})
	g.wantRequestError(t, r, 405, "BAD_REQUEST")
	if allow := r.header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow = %q, want POST", allow)
	}
	// With several operations, the one chosen decides.
	r = g.get(t, url.Values{"query": {"query Q { name } mutation M { name }"}, "operationName": {"M"}})
	g.wantRequestError(t, r, 405, "BAD_REQUEST")
	wantData(t, g.get(t, url.Values{"query": {"query Q { name } mutation M { name }"}, "operationName": {"Q"}}), `{"name":"test"}`)
}

func TestGETParameters(t *testing.T) {
	tests := []struct {
		name     string
		rawQuery string
		status   int
		code     string
	}{
		{"a missing query is refused", "", 400, "BAD_REQUEST"},
		{"an empty query is refused", "query=", 400, "BAD_REQUEST"},
		{"a repeated query is refused", "query=%7Bname%7D&query=%7Bname%7D", 400, "BAD_REQUEST"},
		{"a broken escape is refused", "query=%zz", 400, "BAD_REQUEST"},
		{"invalid UTF-8 is refused", "query=%7B%20name%20%ff%7D", 400, "BAD_REQUEST"},
		{"variables that are not JSON are refused", "query=%7Bname%7D&variables=%7B", 400, "BAD_REQUEST"},
		{"array variables are refused", "query=%7Bname%7D&variables=%5B%5D", 400, "BAD_REQUEST"},
		{"string variables are refused", "query=%7Bname%7D&variables=%22x%22", 400, "BAD_REQUEST"},
		{"array extensions are refused", "query=%7Bname%7D&extensions=%5B1%5D", 400, "BAD_REQUEST"},
		{"a syntax error fails parsing", "query=%7Bname", 400, "GRAPHQL_PARSE_FAILED"},
		{"an unknown field fails validation", "query=%7Bnope%7D", 400, "GRAPHQL_VALIDATION_FAILED"},
		{"an unknown operationName is a bad request", "query=query+A%7Bname%7D&operationName=B", 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.wantRequestError(t, g.getRaw(t, tt.rawQuery), tt.status, tt.code)
		})
	}
	t.Run("empty and null variables count as absent", func(t *testing.T) {
		g := newGateway(t)
		wantData(t, g.getRaw(t, "query=%7Bname%7D&variables=&extensions=null"), `{"name":"test"}`)
	})
}

func TestGETLeavesWebSocketUpgradesToOtherTransports(t *testing.T) {
	var get gqlhttp.GET
	r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	if !get.Supports(r) {
		t.Error("a plain GET is not supported")
	}
	r.Header.Set("Upgrade", "websocket")
	if get.Supports(r) {
		t.Error("a WebSocket upgrade is supported")
	}
	if get.Supports(httptest.NewRequest(http.MethodPost, "/graphql", nil)) {
		t.Error("a POST is supported by GET")
	}
	var post gqlhttp.POST
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		if post.Supports(httptest.NewRequest(m, "/graphql", nil)) {
			t.Errorf("POST supports %s", m)
		}
	}
}
