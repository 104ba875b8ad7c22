package gqlhttp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tutti-gw/tutti/gqlerr"
)

// GET is the graphql.Transport for GET /graphql with the request in the
// query string (GraphQL-over-HTTP): query, operationName, variables (JSON)
// and extensions (JSON), each at most once. The rules of POST's body apply
// to them; in addition a mutation is refused with 405 and Allow: POST, after
// parsing and validation and before anything executes.
type GET struct{ Options }

var _ graphql.Transport = GET{}

// Supports reports true for every GET that is not a WebSocket upgrade (the
// WebSocket transport, if any, takes those).
func (t GET) Supports(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, v := range r.Header.Values("Upgrade") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return false
			}
		}
	}
	return true
}

// Do checks, authenticates, parses and executes one request; mutations are
// refused before execution.
func (t GET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	contentType := responseType(r)
	start := graphql.Now()
	params, f := decodeGET(r.URL.RawQuery)
	if f != nil {
		t.reject(w, r, contentType, f)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	t.serve(w, r, exec, contentType, params, true)
}

// decodeGET reads the request's parameters from a raw query string.
func decodeGET(rawQuery string) (*graphql.RawParams, *failure) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "query string could not be parsed")
	}
	get := func(name string) (string, *failure) {
		vs := values[name]
		switch {
		case len(vs) > 1:
			return "", fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" is given more than once")
		case len(vs) == 0:
			return "", nil
		case !utf8.ValidString(vs[0]):
			return "", fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" is not valid UTF-8")
		}
		return vs[0], nil
	}
	p := &graphql.RawParams{}
	var f *failure
	if p.Query, f = get("query"); f != nil {
		return nil, f
	}
	if p.OperationName, f = get("operationName"); f != nil {
		return nil, f
	}
	for _, m := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		v, f := get(m.name)
		if f != nil {
			return nil, f
		}
		if strings.TrimSpace(v) == "" {
			continue // empty means absent
		}
		if !json.Valid([]byte(v)) {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+m.name+" is not valid JSON")
		}
		if f := jsonObject(json.RawMessage(v), m.dst, m.name+" must be a JSON object or null"); f != nil {
			return nil, f
		}
	}
	if f := requireQuery(p); f != nil {
		return nil, f
	}
	return p, nil
}
