package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/schema"
)

// shopSchema is the gateway's schema (schema/), whose public surface is
// the contract's.
var shopSchema = sync.OnceValue(func() *ast.Schema {
	s, gerr := gqlparser.LoadSchema(schema.Sources()...)
	if gerr != nil {
		panic(gerr)
	}
	return s
})

// mockSchema is a gqlgen ExecutableSchema over the shop schema whose Exec
// counts its calls and answers {"ok":true}.
func mockSchema(execs *int) *graphql.ExecutableSchemaMock {
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: shopSchema,
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			*execs++
			return graphql.OneShot(&graphql.Response{Data: []byte(`{"ok":true}`)})
		},
	}
}

// newExtension returns an Extension for o, validated against the shop
// schema as gqlgen's Use would.
func newExtension(t testing.TB, o Options) *Extension {
	t.Helper()
	e := New(o)
	if err := e.Validate(mockSchema(new(int))); err != nil {
		t.Fatal(err)
	}
	return e
}

// rawVars decodes a JSON variables object as gqlgen's transports do
// (numbers as json.Number); "" is no variables.
func rawVars(t testing.TB, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("variables %s: %v", s, err)
	}
	return v
}

// validated parses and validates query against the shop schema and picks
// operation opName, failing the test on any error: the limits must be
// tested on documents that would otherwise run.
func validated(t testing.TB, query, opName string) (*ast.QueryDocument, *ast.OperationDefinition) {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(shopSchema(), query)
	if len(errs) > 0 {
		t.Fatalf("query does not validate: %v", errs)
	}
	op := doc.Operations.ForName(opName)
	if op == nil {
		t.Fatalf("no operation %q", opName)
	}
	return doc, op
}

// checkBoth checks query both ways the Extension does: the pre-check on the
// raw text with the raw variables (parsing it however small it is), and
// Check after validation with the coerced variables. It fails the test when they disagree, and returns the
// error.
func checkBoth(t *testing.T, query, opName, vars string, o Options) *gqlerror.Error {
	t.Helper()
	doc, op := validated(t, query, opName)
	raw := rawVars(t, vars)
	coerced, err := validator.VariableValues(shopSchema(), op, raw)
	if err != nil {
		t.Fatalf("variables: %v", err)
	}
	after := Check(shopSchema(), doc, op, coerced, o)
	before := newExtension(t, o).checkText(query, opName, raw, true, 0)
	if msg(after) != msg(before) {
		t.Fatalf("pre-check says %q, Check after validation says %q", msg(before), msg(after))
	}
	if after != nil && gqlerr.CodeOf(after) != gqlerr.QueryTooComplex {
		t.Fatalf("code %q, want %s", gqlerr.CodeOf(after), gqlerr.QueryTooComplex)
	}
	return after
}

func msg(err *gqlerror.Error) string {
	if err == nil {
		return ""
	}
	return err.Message
}

// repeat joins n copies of f(i), i from 1, with spaces.
func repeat(n int, f func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = f(i + 1)
	}
	return strings.Join(parts, " ")
}

func times(n int, s string) string {
	return repeat(n, func(int) string { return s })
}

// deep is a query whose deepest field is at depth n (n >= 2), going
// Customer.orders, Order.customer, ... with first: 1 to keep the cost low.
func deep(n int) string {
	var b strings.Builder
	b.WriteString("{ me { ")
	for d := 2; d < n; d++ {
		b.WriteString(levelField(d) + " { ")
	}
	b.WriteString("id")
	b.WriteString(strings.Repeat(" }", n))
	return b.String()
}

// levelField is the field deep puts at depth d, and levelType the type it
// is selected on.
func levelField(d int) string {
	if d%2 == 0 {
		return "orders(first: 1)"
	}
	return "customer"
}

func levelType(d int) string {
	if d%2 == 0 {
		return "Customer"
	}
	return "Order"
}

// deepFragments is deep(n) with every level in its own named fragment.
func deepFragments(n int) string {
	var b strings.Builder
	b.WriteString("{ me { ...L2 } }\n")
	for d := 2; d < n; d++ {
		fmt.Fprintf(&b, "fragment L%d on %s { %s { ...L%d } }\n", d, levelType(d), levelField(d), d+1)
	}
	fmt.Fprintf(&b, "fragment L%d on %s { id }\n", n, levelType(n))
	return b.String()
}

// deepInline is deep(n) with every level inside an inline fragment, every
// other one without a type condition.
func deepInline(n int) string {
	var b strings.Builder
	b.WriteString("{ me { ")
	for d := 2; d < n; d++ {
		if d%4 == 0 {
			b.WriteString("... { ")
		} else {
			b.WriteString("... on " + levelType(d) + " { ")
		}
		b.WriteString(levelField(d) + " { ")
	}
	b.WriteString("id")
	b.WriteString(strings.Repeat(" }", n+(n-2)))
	return b.String()
}

// introspection is an introspection query of depth 5+k: __schema, types,
// fields, type, k times ofType, name.
func introspection(k int) string {
	return "{ __schema { types { fields { type { " + strings.Repeat("ofType { ", k) +
		"name" + strings.Repeat(" }", k+4) + " }"
}

// tokens is a valid mutation of exactly n tokens (n >= 23), counted by
// hand: 23 for the frame, 8 for each order line, 1 for each __typename. It
// holds comments, commas and a block string to show what does not count.
func tokens(n int) string {
	k, p := (n-23)/8, (n-23)%8
	return "# a comment is not a token\nmutation {\n" +
		"  checkout(input: {\n" +
		"    paymentToken: \"\"\"a block string, with \"quotes\", is one token\"\"\",\n" +
		"    idempotencyKey: \"k\",\n" +
		"    lines: [" + times(k, `{sku: "a", quantity: 1},,`) + "] # nor is this\n" +
		"  }) { status " + times(p, "__typename,") + " }\n}\n"
}
