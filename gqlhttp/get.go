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
	fields := map[string]json.RawMessage{}
	for _, name := range []string{"query", "operationName", "variables", "extensions"} {
		vs, ok := values[name]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" is given more than once")
		}
		v := vs[0]
		if !utf8.ValidString(v) {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" is not valid UTF-8")
		}
		switch name {
		case "query", "operationName":
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" could not be read")
			}
			fields[name] = b
		default:
			if strings.TrimSpace(v) == "" {
				continue // empty means absent
			}
			if !json.Valid([]byte(v)) {
				return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "parameter "+name+" is not valid JSON")
			}
			fields[name] = json.RawMessage(v)
		}
	}
	return paramsFrom(fields)
}
