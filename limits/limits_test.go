package limits

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/tutti-gw/tutti/gqlerr"
)

type limitCase struct {
	name  string
	query string
	op    string // operation name, "" for the only one
	vars  string // JSON variables, "" for none
	o     Options
	want  string // the error message, "" when the document passes
}

func runLimitCases(t *testing.T, cases []limitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkBoth(t, tc.query, tc.op, tc.vars, tc.o)
			if got := msg(err); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDepth(t *testing.T) {
	const over = "query depth 16 exceeds the limit of 15"
	runLimitCases(t, []limitCase{
		{name: "me with id is depth 2", query: "{ me { id } }", o: Options{MaxDepth: 2}},
		{name: "me with id is over a limit of 1", query: "{ me { id } }", o: Options{MaxDepth: 1},
			want: "query depth 2 exceeds the limit of 1"},
		{name: "fifteen levels pass", query: deep(15)},
		{name: "sixteen levels are refused", query: deep(16), want: over},
		{name: "named fragments are expanded: fifteen levels pass", query: deepFragments(15)},
		{name: "named fragments are expanded: sixteen levels are refused", query: deepFragments(16), want: over},
		{name: "inline fragments add no depth: fifteen levels pass", query: deepInline(15)},
		{name: "inline fragments add no depth: sixteen levels are refused", query: deepInline(16), want: over},
		{name: "introspection fields count: fifteen levels pass", query: introspection(10)},
		{name: "introspection fields count: sixteen levels are refused", query: introspection(11), want: over},
		{name: "__typename counts as a field", query: "{ me { orders(first: 1) { __typename } } }", o: Options{MaxDepth: 2},
			want: "query depth 3 exceeds the limit of 2"},
		{name: "a fragment spread on two paths counts its deepest", query: "{ me { ...F } order(id: \"o\") { customer { ...F } } } fragment F on Customer { orders(first: 1) { id } }",
			o: Options{MaxDepth: 3}, want: "query depth 4 exceeds the limit of 3"},
		{name: "a negative limit turns it off", query: deep(40), o: Options{MaxDepth: -1}},
	})
}

func TestAliases(t *testing.T) {
	const over = "query alias count 31 exceeds the limit of 30"
	alias := func(i int) string { return fmt.Sprintf("a%d: id", i) }
	runLimitCases(t, []limitCase{
		{name: "thirty aliases pass", query: "{ me { " + repeat(30, alias) + " } }"},
		{name: "thirty-one aliases are refused", query: "{ me { " + repeat(31, alias) + " } }", want: over},
		{name: "an alias equal to the field name counts", query: "{ me { " + times(31, "id: id") + " } }", want: over},
		{name: "aliases in a fragment spread twice count once",
			query: "{ me { ...F } other: me { ...F } } fragment F on Customer { " + repeat(29, alias) + " }"},
		{name: "aliases in a fragment spread twice count once, one over is refused",
			query: "{ me { ...F } other: me { ...F } } fragment F on Customer { " + repeat(30, alias) + " }", want: over},
		{name: "colons of arguments, variables and input objects are not aliases",
			query: `mutation($sku: ID!) { checkout(input: {lines: [{sku: $sku, quantity: 1}], paymentToken: "t", idempotencyKey: "k"}) { ` +
				repeat(30, func(i int) string { return fmt.Sprintf("a%d: status", i) }) + " } }",
			vars: `{"sku": "a"}`},
		{name: "every operation of the document counts", op: "A",
			query: "query A { me { " + repeat(16, alias) + " } } query B { me { " + repeat(15, alias) + " } }", want: over},
	})
}

func TestRootFields(t *testing.T) {
	const over = "query root field count 21 exceeds the limit of 20"
	root := func(i int) string { return fmt.Sprintf("a%d: me { id }", i) }
	runLimitCases(t, []limitCase{
		{name: "twenty root fields pass", query: "{ " + repeat(20, root) + " }"},
		{name: "twenty-one root fields are refused", query: "{ " + repeat(21, root) + " }", want: over},
		{name: "repeated fields count each time as written", query: "{ " + times(21, "__typename") + " }", want: over},
		{name: "fields of an inline fragment at the root count",
			query: "{ " + times(10, "__typename") + " ... on Query { " + times(11, "__typename") + " } }", want: over},
		{name: "fields of a fragment spread at the root count",
			query: "{ " + times(10, "__typename") + " ...R } fragment R on Query { " + times(11, "__typename") + " }", want: over},
		{name: "a fragment spread twice at the root counts once",
			query: "{ ...R ...R } fragment R on Query { " + times(20, "__typename") + " }"},
		{name: "fields below the root do not count", query: "{ me { " + times(25, "__typename") + " } }"},
		{name: "every operation of the document counts", op: "A",
			query: "query A { " + times(10, "__typename") + " } query B { " + times(11, "__typename") + " }", want: over},
	})
}

func TestDirectives(t *testing.T) {
	const over = "query directive count 51 exceeds the limit of 50"
	runLimitCases(t, []limitCase{
		{name: "fifty directives pass", query: "{ me { " + times(50, "id @include(if: true)") + " } }"},
		{name: "fifty-one directives are refused", query: "{ me { " + times(51, "id @include(if: true)") + " } }", want: over},
		{name: "skip and include both count",
			query: "{ me { " + times(25, "id @skip(if: false) @include(if: true)") + " id @skip(if: false) } }", want: over},
		{name: "directives on spreads and inline fragments count",
			query: "{ me { " + times(49, "id @include(if: true)") + " ...F @include(if: true) ... @skip(if: false) { id } } } fragment F on Customer { id }",
			want:  over},
		{name: "a fragment's directives count once however often it is spread",
			query: "{ me { ...F ...F } } fragment F on Customer { " + times(50, "id @include(if: true)") + " }"},
		{name: "directives given through variables count the same",
			query: "query($yes: Boolean!) { me { " + times(51, "id @include(if: $yes)") + " } }", vars: `{"yes": true}`, want: over},
	})
}

func TestTokens(t *testing.T) {
	const over = "query token count exceeds the limit of 15000"
	runLimitCases(t, []limitCase{
		{name: "15 000 tokens pass, comments, commas and block strings aside", query: tokens(15000)},
		{name: "15 001 tokens are refused", query: tokens(15001), want: over},
		{name: "six tokens pass a limit of six", query: "# hello\n{ me, { id,,, } } # bye", o: Options{MaxTokens: 6}},
		{name: "six tokens are over a limit of five", query: "{ me { id } }", o: Options{MaxTokens: 5},
			want: "query token count exceeds the limit of 5"},
		{name: "a string is one token", query: `{ product(sku: "a long sku, with commas # and no comment") { sku } }`, o: Options{MaxTokens: 11}},
		{name: "variables do not count", query: "query($ids: [ID!]!) { customers(ids: $ids) { id } }",
			vars: `{"ids": [` + strings.Repeat(`"a",`, 100) + `"a"]}`, o: Options{MaxTokens: 23}},
	})
}

func TestTokensByHand(t *testing.T) {
	for _, n := range []int{23, 24, 31, 32, 1000, 15000, 15001} {
		if got := scan(tokens(n), -1).tokens; got != n {
			t.Errorf("tokens(%d) has %d tokens", n, got)
		}
	}
}

func TestCostLimit(t *testing.T) {
	pad := func(n int) string { return times(n, "id") }
	const ordersExample = `{ customer(id: "c") { orders(first: 50) { lines { product { title } } } } }`
	conn := "query($n: Int) { products(first: $n) { edges { node { sku title } } pageInfo { hasNextPage } } }"
	ids := func(n int) string {
		b, _ := json.Marshal(map[string]any{"ids": strings.Split(strings.Repeat("c,", n-1)+"c", ",")})
		return string(b)
	}
	const customers = "query($ids: [ID!]!) { __typename customers(ids: $ids) { id name } }"
	runLimitCases(t, []limitCase{
		{name: "the spec's orders example is refused", query: ordersExample,
			want: "query estimated cost 1052 exceeds the limit of 1000"},
		{name: "a cost of exactly 1000 passes",
			query: `{ customer(id: "c") { orders(first: 47) { lines { product { title } } } ` + pad(11) + ` } }`},
		{name: "a cost of 1001 is refused",
			query: `{ customer(id: "c") { orders(first: 47) { lines { product { title } } } ` + pad(12) + ` } }`,
			want:  "query estimated cost 1001 exceeds the limit of 1000"},
		{name: "products' first from a variable, at the limit", query: conn, vars: `{"n": 332}`},
		{name: "products' first from a variable, over the limit", query: conn, vars: `{"n": 333}`,
			want: "query estimated cost 1003 exceeds the limit of 1000"},
		{name: "ids from a variable, at the limit", query: customers, vars: ids(499)},
		{name: "ids from a variable, over the limit", query: customers, vars: ids(500),
			want: "query estimated cost 1002 exceeds the limit of 1000"},
		{name: "a variable's default in the operation is used",
			query: "query($n: Int = 400) { products(first: $n) { edges { node { sku title } } } }",
			want:  "query estimated cost 1202 exceeds the limit of 1000"},
		{name: "a variable given overrides its default",
			query: "query($n: Int = 400) { products(first: $n) { edges { node { sku title } } } }", vars: `{"n": 1}`},
		{name: "a lower limit refuses the default sizes", query: "{ me { orders { lines { sku } } } }", o: Options{MaxCost: 100},
			want: "query estimated cost 112 exceeds the limit of 100"},
	})
}

func TestCost(t *testing.T) {
	cases := []struct {
		name  string
		query string
		vars  string
		want  int
	}{
		{"the spec's orders example", `{ customer(id: "c") { orders(first: 50) { lines { product { title } } } } }`, "", 1052},
		{"a missing first takes the schema's default of 10", "{ me { orders { lines { product { title } } } } }", "", 212},
		{"a null first takes the schema's default", "{ me { orders(first: null) { id } } }", "", 12},
		{"first from a variable", "query($n: Int) { me { orders(first: $n) { id } } }", `{"n": 3}`, 5},
		{"a variable left out takes its default in the operation", "query($n: Int = 4) { me { orders(first: $n) { id } } }", "", 6},
		{"a variable left out without a default takes the schema's default", "query($n: Int) { me { orders(first: $n) { id } } }", "", 12},
		{"a negative first costs the list nothing", "{ me { orders(first: -5) { id } } }", "", 2},
		{"a first over its range is used as given", "{ me { orders(first: 500) { id } } }", "", 502},
		{"edges multiply by the connection's first", "{ products(first: 5) { edges { node { sku title } } pageInfo { hasNextPage } } }", "", 19},
		{"a connection without first takes its default of 20", "{ products { edges { node { sku title } } pageInfo { hasNextPage } } }", "", 64},
		{"customers multiply by the number of ids", `{ customers(ids: ["a", "b", "c"]) { id name } }`, "", 7},
		{"ids from a variable", "query($ids: [ID!]!) { customers(ids: $ids) { id } }", `{"ids": ["a", "b", "c", "d"]}`, 5},
		{"productsBySku multiply by the number of skus", `{ productsBySku(skus: ["a", "b"]) { sku } }`, "", 3},
		{"a single sku counts as a list of one", `{ productsBySku(skus: "a") { sku } }`, "", 2},
		{"lines multiply by 10", `{ order(id: "o") { lines { sku } } }`, "", 12},
		{"a list of scalars costs 1", `{ product(sku: "a") { tags } }`, "", 2},
		{"identical selections count twice", "{ me { id } me { id } }", "", 4},
		{"a named fragment is expanded where spread", "{ me { ...F } } fragment F on Customer { orders(first: 5) { id } }", "", 7},
		{"a fragment spread twice costs twice", "{ me { ...F ...F } } fragment F on Customer { orders(first: 5) { id } }", "", 13},
		{"an inline fragment is expanded", "{ me { ... on Customer { orders(first: 5) { id } } } }", "", 7},
		{"a connection fragment takes first from where it is spread",
			"{ a: products(first: 5) { ...C } b: products(first: 7) { ...C } } fragment C on ProductConnection { edges { node { sku } } }", "", 28},
		{"introspection lists count as one item", "{ __schema { types { name fields { name } } } }", "", 5},
		{"__typename costs 1", "{ __typename }", "", 1},
		{"a mutation is costed from the mutation type",
			`mutation { checkout(input: {lines: [], paymentToken: "t", idempotencyKey: "k"}) { order { lines { sku } } } }`, "", 13},
		{"huge sizes saturate instead of overflowing",
			"{ me { orders(first: 2147483647) { customer { orders(first: 2147483647) { customer { orders(first: 2147483647) { lines { sku } } } } } } } }",
			"", math.MaxInt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, op := validated(t, tc.query, "")
			raw := rawVars(t, tc.vars)
			coerced, err := validator.VariableValues(shopSchema(), op, raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := newWalker(shopSchema(), doc, op, coerced, true, DefaultMultipliers()).cost(); got != tc.want {
				t.Errorf("cost after validation %d, want %d", got, tc.want)
			}
			// Before validation, on a fresh document and the raw variables.
			doc, perr := parser.ParseQuery(&ast.Source{Input: tc.query})
			if perr != nil {
				t.Fatal(perr)
			}
			op = doc.Operations.ForName("")
			if got := newWalker(shopSchema(), doc, op, raw, true, DefaultMultipliers()).cost(); got != tc.want {
				t.Errorf("cost before validation %d, want %d", got, tc.want)
			}
		})
	}
}

func TestExponentialFragmentsAreCostedInLinearTime(t *testing.T) {
	// Each fragment spreads the next twice: 2^60 copies of id when expanded.
	var b strings.Builder
	b.WriteString("{ me { ...F0 } }\n")
	for i := range 60 {
		fmt.Fprintf(&b, "fragment F%d on Customer { id ...F%d ...F%d }\n", i, i+1, i+1)
	}
	b.WriteString("fragment F60 on Customer { id }\n")
	err := checkBoth(t, b.String(), "", "", Options{})
	want := fmt.Sprintf("query estimated cost %d exceeds the limit of 1000", 1+(1<<61)-1)
	if msg(err) != want {
		t.Fatalf("got %q, want %q", msg(err), want)
	}
}

// TestPreCheckWithoutVariables covers PreCheck's rules, on documents of any
// size (PreCheck itself leaves those of at most 200 tokens alone).
func TestPreCheckWithoutVariables(t *testing.T) {
	e := newExtension(t, Options{})
	cases := []struct {
		name  string
		query string
		want  string
	}{
		{"an ordinary query passes", "{ me { id name orders { id } } }", ""},
		{"a variable size counts as zero, so a cost that depends on it passes",
			"query($n: Int) { products(first: $n) { edges { node { " + times(100, "sku title description tags") + " } } } }", ""},
		{"a cost over the limit whatever the variables is refused",
			"query($n: Int) { me { orders(first: $n) { id } } " + times(999, "__typename") + " }",
			"query root field count 1000 exceeds the limit of 20"},
		{"a fixed size needs no variables", "query($n: Int) { me { orders(first: $n) { id } } order(id: \"o\") { lines { " + times(100, "sku") + " } } }",
			"query estimated cost 1004 exceeds the limit of 1000"},
		{"depth is checked when there is one operation", deep(16), "query depth 16 exceeds the limit of 15"},
		{"depth is not checked when the operation is not known",
			"query A " + strings.TrimPrefix(deep(16), "{") + " query B { me { id } }", ""},
		{"document-wide limits are checked whatever the operation",
			"query A { me { id } } query B { " + times(20, "__typename") + " }", "query root field count 21 exceeds the limit of 20"},
		{"a syntax error is left to the parser", "{ me { id } " + times(40, "a: id"), ""},
		{"an empty query is left to the parser", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := msg(e.checkText(tc.query, "", nil, false, 0)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPreCheckLeavesSmallDocumentsToCheckAfterValidation(t *testing.T) {
	e := newExtension(t, Options{})
	small := deep(16) // 49 tokens
	large := strings.Replace(small, "id", times(smallDocument, "id"), 1)
	if err := e.PreCheck(small); err != nil {
		t.Errorf("small document: %v", err)
	}
	if got := msg(e.PreCheck(large)); got != "query depth 16 exceeds the limit of 15" {
		t.Errorf("large document: %q", got)
	}
}

func TestPreCheckRefusesNestingGqlparserCannotParse(t *testing.T) {
	e := newExtension(t, Options{})
	q := "{" + strings.Repeat(" me {", 2000) + " id" + strings.Repeat(" }", 2001)
	if _, err := parser.ParseQuery(&ast.Source{Input: q}); err == nil {
		t.Fatal("gqlparser now parses 2 000 levels: the pre-check's nesting case may go")
	}
	err := e.PreCheck(q)
	if msg(err) != "query depth 2001 exceeds the limit of 15" || gqlerr.CodeOf(err) != gqlerr.QueryTooComplex {
		t.Fatalf("got %v", err)
	}
}

func TestCheckWithoutSourceCountsFromTheAST(t *testing.T) {
	query := "{ me { " + repeat(31, func(i int) string { return fmt.Sprintf("a%d: id", i) }) + " } }"
	doc, op := validated(t, query, "")
	doc.Position = nil // as if built in code
	if got := msg(Check(shopSchema(), doc, op, nil, Options{})); got != "query alias count 31 exceeds the limit of 30" {
		t.Fatalf("got %q", got)
	}
}

func TestTokenAndASTCountsAgree(t *testing.T) {
	for _, q := range []string{
		"{ me { a: id b: name ...F @include(if: true) ... @skip(if: false) { id } } } fragment F on Customer @include(if: true) { c: id @skip(if: false) }",
		`query Q($n: Int = 1, $in: Boolean = true) { me { orders(first: $n) { x: id @include(if: $in) } } }`,
		tokens(100),
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		s := scan(q, -1)
		aliases, directives := countWritten(doc)
		if s.aliases != aliases || s.directives != directives {
			t.Errorf("%s: tokens count %d aliases %d directives, the AST %d and %d", q, s.aliases, s.directives, aliases, directives)
		}
	}
}

func TestEveryListOfObjectsHasAMultiplier(t *testing.T) {
	s := shopSchema()
	m := DefaultMultipliers()
	for _, typ := range s.Types {
		if typ.BuiltIn || typ.Kind != ast.Object && typ.Kind != ast.Interface {
			continue
		}
		for _, f := range typ.Fields {
			if f.Type.Elem == nil || strings.HasPrefix(f.Name, "__") {
				continue
			}
			if k := s.Types[f.Type.Name()].Kind; k == ast.Scalar || k == ast.Enum {
				continue
			}
			if _, ok := m[typ.Name+"."+f.Name]; !ok {
				t.Errorf("%s.%s is a list of objects without a multiplier: each costs as one item", typ.Name, f.Name)
			}
		}
	}
}

func TestValidateMultipliers(t *testing.T) {
	cases := []struct {
		name string
		m    map[string]Multiplier
		want string
	}{
		{"the defaults fit the shop schema", DefaultMultipliers(), ""},
		{"an unknown type is refused", map[string]Multiplier{"Shop.items": {Fixed: 3}}, `multiplier "Shop.items": no type Shop`},
		{"an unknown field is refused", map[string]Multiplier{"Customer.order": {Arg: "first"}}, `multiplier "Customer.order": no field order on Customer`},
		{"an unknown argument is refused", map[string]Multiplier{"Customer.orders": {Arg: "last"}}, `multiplier "Customer.orders": no argument last`},
		{"a key without a dot is refused", map[string]Multiplier{"orders": {Arg: "first"}}, `multiplier "orders": key is not Type.field`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateMultipliers(shopSchema(), tc.m)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMultipliersAreData(t *testing.T) {
	// A new list field is one line in the table: here Order.lines becomes
	// sized by a fixed 3 instead of 10.
	m := DefaultMultipliers()
	m["Order.lines"] = Multiplier{Fixed: 3}
	err := checkBoth(t, `{ order(id: "o") { lines { sku } } }`, "", "", Options{MaxCost: 1, Multipliers: m})
	if got := msg(err); got != "query estimated cost 5 exceeds the limit of 1" {
		t.Fatalf("got %q", got)
	}
}

// FuzzPreCheck feeds arbitrary text to the pre-check. Properties: it never
// panics, and it either passes the text or refuses it with exactly one
// QUERY_TOO_COMPLEX error whose message names a limit.
func FuzzPreCheck(f *testing.F) {
	for _, s := range []string{
		"{ me { id } }", deep(16), deepFragments(5), tokens(40), introspection(3),
		"{ me { ...A } } fragment A on Customer { ...B } fragment B on Customer { ...A }",
		`{ products(first: 5) { ...C } } fragment C on ProductConnection { edges { node { sku } } }`,
		"query($n: Int) { me { orders(first: $n) { id } } }", "{ a: b(c: {d: [1, {e: 2}]}) @f { g } }",
		"{ me ", `"""`, "{ x(y: 99999999999999999999999) { z } }",
	} {
		f.Add(s)
	}
	e := New(Options{MaxTokens: 200, MaxCost: 50, MaxDepth: 6})
	e.schema = shopSchema()
	f.Fuzz(func(t *testing.T, q string) {
		err := e.PreCheck(q)
		if err == nil {
			return
		}
		if gqlerr.CodeOf(err) != gqlerr.QueryTooComplex || !strings.HasPrefix(err.Message, "query ") ||
			!strings.Contains(err.Message, "exceeds the limit of") {
			t.Fatalf("unexpected error %v", err)
		}
		_ = e.preCheck(q, "", map[string]any{"n": json.Number("-1e400")}, true)
	})
}

func TestRepeatedSelectionsAreRefusedBeforeValidation(t *testing.T) {
	ext := New(Options{})
	ext.schema = shopSchema()
	repeat := func(s string, n int) string { return strings.Repeat(s+" ", n) }
	tests := []struct {
		name  string
		query string
		bad   string // what the message says; "" for a pass
	}{
		// The contract's cost counts repeats before merging: 999 copies of
		// a field cost 1 000 and must pass; 1 000 cost 1 001.
		{"999 copies of one field cost 1 000 and pass", `{ product(sku: "SKU-0001") { ` + repeat("title", 999) + `} }`, ""},
		{"1 000 copies cost 1 001: the cost limit", `{ product(sku: "SKU-0001") { ` + repeat("title", 1000) + `} }`, "estimated cost 1001"},
		{"thousands of copies under a list sized 0 are refused", "{ me { orders(first: 0) { " + repeat("id", 5000) + "} } }", "validation work"},
		{"two sets of 800 copies under lists sized 0 are refused", "{ me { orders(first: 0) { " + repeat("id", 800) + "} a: orders(first: 0) { " + repeat("id", 800) + "} } }", "validation work"},
		{"many spreads of one fragment under a list sized 0 are refused", "{ me { orders(first: 0) { " + repeat("...F", 1001) + "} } } fragment F on Order { id }", "validation work"},
		{"sixty copies each of three fields pass", "{ me { " + repeat("id name email", 60) + "} }", ""},
		{"a hundred fragments of sixty copies spread in one set are refused", "{ me { orders(first: 0) { " + spreads(100) + "} } } " + fragments(100, repeat("id", 60)), "validation work"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ext.preCheck(tt.query, "", nil, true)
			if (err != nil) != (tt.bad != "") {
				t.Fatalf("pre-check = %v, want refused=%v", err, tt.bad != "")
			}
			if err != nil && !strings.Contains(err.Message, tt.bad) {
				t.Fatalf("message %q does not say %q", err.Message, tt.bad)
			}
		})
	}
}

// spreads and fragments write n spreads ...F1 ...F2 and their fragments on
// Order, each selecting body.
func spreads(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "...F%d ", i)
	}
	return b.String()
}

func fragments(n int, body string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Order { %s} ", i, body)
	}
	return b.String()
}

func TestValidationWorkCountsSpreadFragments(t *testing.T) {
	for _, tt := range []struct {
		name  string
		query string
		want  int
	}{
		{"fields as written", "{ me { id id name } }", 1 + 4 + 1},
		{"a fragment spread twice counts twice in the set", "{ me { ...F ...F } } fragment F on Customer { id }", 1 + 4 + 1},
		{"fragments spread in fragments", "{ me { ...A } } fragment A on Customer { ...B ...B } fragment B on Customer { id }", 1 + 4 + 4 + 1},
		{"an inline fragment's fields are its set's", "{ me { id ... on Customer { id } } }", 1 + 4},
		{"a cycle is cut, not followed (validation refuses it)", "{ me { ...A } } fragment A on Customer { id ...A }", 1 + 1 + 4},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got, _, _ := validationWork(doc); got != tt.want {
			t.Errorf("%s: work %d, want %d", tt.name, got, tt.want)
		}
	}
	// Over a limit and long to validate: refused on the limit, unvalidated.
	doc, _ := parser.ParseQuery(&ast.Source{Input: "{ me { orders(first: 0) { " + spreads(1000) + "} } } " + fragments(1000, "id id id id ")})
	if got, _, _ := validationWork(doc); got <= cheapValidationWork {
		t.Errorf("1 000 spreads of four ids: work %d, want over %d", got, cheapValidationWork)
	}
}

// The contract checks validation before the limits: a document over a
// limit that is also invalid is left for validation to refuse, unless
// validating it would take long.
func TestPreCheckLeavesInvalidDocumentsToValidation(t *testing.T) {
	ext := New(Options{})
	ext.schema = shopSchema()
	directives := strings.Repeat("email @include(if: true) ", 51)
	if err := ext.preCheck("{ me { "+directives+"} }", "", nil, true); err == nil || !strings.Contains(err.Message, "directive count 51") {
		t.Fatalf("a valid document with 51 directives: %v, want the directive limit", err)
	}
	if err := ext.preCheck("{ me { nope "+directives+"} }", "", nil, true); err != nil {
		t.Fatalf("an invalid document with 51 directives: %v, want it left to validation", err)
	}
	long := "{ me { " + directives + "orders(first: 0) { " + strings.Repeat("id ", 300) + "nope } } }"
	if err := ext.preCheck(long, "", nil, true); err == nil || !strings.Contains(err.Message, "directive count 51") {
		t.Fatalf("an invalid document over a limit that is long to validate (300 copies of a field): %v, want the directive limit", err)
	}
}
