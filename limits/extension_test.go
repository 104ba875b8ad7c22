package limits

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// served is what a client would see for one operation, and what the server
// did on the way.
type served struct {
	resp  *graphql.Response
	execs int  // calls of the schema's Exec: the stand-in for upstream calls
	doc   bool // the document was parsed and validated
}

// serve runs params through a gqlgen executor the way gqlgen's POST
// transport does, with the extensions given installed in order.
func serve(t *testing.T, params graphql.RawParams, exts ...graphql.HandlerExtension) served {
	t.Helper()
	var s served
	exec := executor.New(mockSchema(&s.execs))
	for _, x := range exts {
		exec.Use(x)
	}
	ctx := graphql.StartOperationTrace(context.Background())
	oc, errs := exec.CreateOperationContext(ctx, &params)
	s.doc = oc.Doc != nil
	if errs != nil {
		s.resp = exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		return s
	}
	h, ctx := exec.DispatchOperation(ctx, oc)
	s.resp = h(ctx)
	return s
}

// codes returns the extensions.code of each error of resp as sent on the wire.
func codes(t *testing.T, resp *graphql.Response) []string {
	t.Helper()
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range wire.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

func TestExtensionThroughGqlgen(t *testing.T) {
	cases := []struct {
		name      string
		query     string
		vars      map[string]any
		wantCodes string // comma-separated extensions.code of the errors
		wantMsg   string // the first error's message, when it matters
		wantExec  bool
		wantDoc   bool // parsed and validated before the answer
	}{
		{name: "a query within the limits runs", query: "{ me { id orders(first: 5) { id } } }",
			wantExec: true, wantDoc: true},
		{name: "999 copies of a field cost 1 000 (before merging) and run", query: "{ me { " + times(999, "id") + " } }",
			wantExec: true, wantDoc: true},
		{name: "1 000 copies of a field cost 1 001 and are refused", query: "{ me { " + times(1000, "id") + " } }",
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query estimated cost 1001 exceeds the limit of 1000"},
		{name: "a small query over the depth limit is refused after validation", query: deep(16),
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query depth 16 exceeds the limit of 15", wantDoc: true},
		{name: "a large query over the directive limit is refused before parsing or validation",
			query:     "{ me { " + times(51, "id @include(if: true)") + " } }",
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query directive count 51 exceeds the limit of 50"},
		{name: "a small invalid query over a limit is a validation failure, in the spec's order",
			query:     "{ me { nmae " + times(40, "a: id") + " } }",
			wantCodes: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a large invalid query over a limit is a validation failure too, in the spec's order",
			query:     "{ me { nmae " + times(51, "id @include(if: true)") + " } }",
			wantCodes: "GRAPHQL_VALIDATION_FAILED"},
		{name: "an invalid query over a limit that is long to validate is refused on the limit, before validation",
			query:     "{ me { nmae " + times(51, "id @include(if: true)") + " orders(first: 0) { " + times(300, "id") + " } } }",
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query directive count 51 exceeds the limit of 50"},
		{name: "a hostile query within the token limit is refused before validation",
			query:     "{" + strings.Repeat(" me { id }", 3749) + " }",
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query root field count 3749 exceeds the limit of 20"},
		{name: "a cost over the limit through a variable is refused", query: "query($n: Int) { products(first: $n) { edges { node { sku title } } } }",
			vars: map[string]any{"n": json.Number("400")}, wantCodes: "QUERY_TOO_COMPLEX",
			wantMsg: "query estimated cost 1202 exceeds the limit of 1000", wantDoc: true},
		{name: "the same query with a small first runs", query: "query($n: Int) { products(first: $n) { edges { node { sku title } } } }",
			vars: map[string]any{"n": json.Number("4")}, wantExec: true, wantDoc: true},
		{name: "a hostile 2 MiB document is refused on its tokens", query: hostile()["aliases, 2 MiB"],
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query token count exceeds the limit of 15000"},
		{name: "a syntax error is still a parse failure", query: "{ me { id }",
			wantCodes: "GRAPHQL_PARSE_FAILED"},
		{name: "an invalid document within the limits is still a validation failure",
			query:     "{ me { ...A } } fragment A on Customer { ...B } fragment B on Customer { ...A }",
			wantCodes: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a document nested deeper than gqlparser parses is over the depth limit",
			query:     "{" + strings.Repeat(" me {", 1500) + " id" + strings.Repeat(" }", 1501),
			wantCodes: "QUERY_TOO_COMPLEX", wantMsg: "query depth 1501 exceeds the limit of 15"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, graphql.RawParams{Query: tc.query, Variables: tc.vars}, New(Options{}))
			if got := strings.Join(codes(t, s.resp), ","); got != tc.wantCodes {
				t.Fatalf("error codes %q, want %q (%v)", got, tc.wantCodes, s.resp.Errors)
			}
			if tc.wantMsg != "" && s.resp.Errors[0].Message != tc.wantMsg {
				t.Errorf("message %q, want %q", s.resp.Errors[0].Message, tc.wantMsg)
			}
			if (s.execs > 0) != tc.wantExec {
				t.Errorf("executed %d times, want executed %v", s.execs, tc.wantExec)
			}
			if s.doc != tc.wantDoc {
				t.Errorf("parsed and validated %v, want %v", s.doc, tc.wantDoc)
			}
			if tc.wantCodes != "" && s.resp.Data != nil {
				t.Errorf("a refused request has data %s", s.resp.Data)
			}
		})
	}
}

// byHash stands for a persisted-query extension: it replaces the query
// with the one its hash names.
type byHash map[string]string

func (byHash) ExtensionName() string                   { return "byHash" }
func (byHash) Validate(graphql.ExecutableSchema) error { return nil }
func (h byHash) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if q, ok := h[p.Extensions["hash"].(string)]; ok {
		p.Query = q
	}
	return nil
}

func TestExtensionChecksAfterValidationWhenThePreCheckSawNoQuery(t *testing.T) {
	// Installed before the extension that fills in the query, the pre-check
	// sees nothing; the check after validation still refuses, in the spec's
	// order.
	lookup := byHash{"deep": deep(16), "ok": "{ me { id } }"}
	for hash, want := range map[string]string{"deep": "QUERY_TOO_COMPLEX", "ok": ""} {
		s := serve(t, graphql.RawParams{Extensions: map[string]any{"hash": hash}}, New(Options{}), lookup)
		if got := strings.Join(codes(t, s.resp), ","); got != want {
			t.Errorf("%s: codes %q, want %q", hash, got, want)
		}
		if !s.doc {
			t.Errorf("%s: the check ran before validation", hash)
		}
	}
}

func TestExtensionRefusesAMultiplierTableThatDoesNotFitTheSchema(t *testing.T) {
	e := New(Options{Multipliers: map[string]Multiplier{"Customer.ordres": {Arg: "first"}}})
	err := e.Validate(mockSchema(new(int)))
	if err == nil || err.Error() != `limits: multiplier "Customer.ordres": no field ordres on Customer` {
		t.Fatalf("got %v", err)
	}
}
