package gqlhttp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/testserver"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/gqlhttp"
)

// FuzzPOSTBody sends arbitrary bytes as the body of a POST /graphql with
// Content-Type application/json, through gqlgen's handler with the POST
// transport, against testserver.NewError (its one query answers data null
// and a field error; nothing in it blocks). The properties that hold for
// every body:
//
//   - nothing panics: gqlgen's handler would turn a panic into a 500, and
//     500 is not an allowed status;
//   - the status is 200 (executed), 400 (a bad body or document) or 413
//     (over the 4 KiB limit the fuzz server uses); nothing else;
//   - the response is one JSON object in the negotiated media type;
//   - errors, when present, is a non-empty list and every error has a
//     message and an extensions.code from the contract's set;
//   - a refused request (not 200) has errors and no data entry;
//   - no error message contains the body itself (for bodies of 16 bytes
//     or more, short ones can coincide with a quoted name).
func FuzzPOSTBody(f *testing.F) {
	seeds := []string{
		`{"query":"{ name }"}`,
		`{"query":"query Q { name }","operationName":"Q","variables":{},"extensions":{}}`,
		`{"query":"mutation { name }"}`,
		`{"query":"subscription { name }"}`,
		`{"query":"{ ... @defer { name } }"}`,
		`{"query":"{ name "}`,
		`{"query":"{ nope }"}`,
		`{"query":"query A { name }","operationName":"B"}`,
		`{"query":"{ name }","variables":"x"}`,
		`{"query":"{ name }","variables":[1]}`,
		`{"query":"{ name }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}`,
		`{"extensions":{"persistedQuery":{"sha256Hash":"abc"}}}`,
		`{"query":1}`, `{"query":null}`, `{}`, `[]`, `[{"query":"{ name }"}]`,
		`null`, `"x"`, `1`, `true`, ``, ` `, `{`, "\xff", "{\"query\":\"\xff\"}",
		`{"query":"{ name }"} trailing`,
		`{"query":"\ud800"}`,
		`{"variables":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`,
		`{"query":"` + strings.Repeat("{ name ", 100) + `"}`,
		`{"query":"{ name }","padding":"` + strings.Repeat("x", 5000) + `"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ts := testserver.NewError()
	ts.AddTransport(gqlhttp.POST{Options: gqlhttp.Options{MaxBodyBytes: 4096}})

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		if ct := rec.Header().Get("Content-Type"); ct != gqlhttp.ContentTypeJSON {
			t.Fatalf("Content-Type %q", ct)
		}
		var resp struct {
			Data   *json.RawMessage `json:"data"`
			Errors []struct {
				Message    *string        `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		if err := dec.Decode(&resp); err != nil || dec.More() {
			t.Fatalf("response is not one JSON object (%v): %s", err, rec.Body.Bytes())
		}
		var top map[string]json.RawMessage
		_ = json.Unmarshal(rec.Body.Bytes(), &top)
		if e, ok := top["errors"]; ok && len(resp.Errors) == 0 {
			t.Fatalf("errors present but empty: %s", e)
		}
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if e.Message == nil || !knownCode(gqlerr.Code(code)) {
				t.Fatalf("error without message or contract code: %s", rec.Body.Bytes())
			}
			if len(body) >= 16 && strings.Contains(*e.Message, string(body)) {
				t.Fatalf("message echoes the body: %q", *e.Message)
			}
		}
		if rec.Code != 200 {
			if _, ok := top["data"]; ok || len(resp.Errors) == 0 {
				t.Fatalf("refused request with data or without errors: %s", rec.Body.Bytes())
			}
		}
	})
}

func knownCode(c gqlerr.Code) bool {
	switch c {
	case gqlerr.ParseFailed, gqlerr.ValidationFailed, gqlerr.BadRequest,
		gqlerr.Unauthenticated, gqlerr.Forbidden, gqlerr.BadUserInput,
		gqlerr.UpstreamUnavailable, gqlerr.UpstreamError, gqlerr.QueryTooComplex,
		gqlerr.PersistedQueryNotFound, gqlerr.RateLimited, gqlerr.Internal:
		return true
	}
	return false
}
