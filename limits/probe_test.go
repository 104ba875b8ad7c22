package limits

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

const max = 2 << 20

func fill(prefix, unit func(i int) string, suffix string) string {
	var b strings.Builder
	b.WriteString(prefix(0))
	for i := 0; ; i++ {
		u := unit(i)
		if b.Len()+len(u)+len(suffix) > max-64 {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(suffix)
	return b.String()
}

func TestProbe(t *testing.T) {
	src, _ := os.ReadFile("testdata/schema.graphql")
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: string(src)})
	c := func(s string) func(int) string { return func(int) string { return s } }
	docs := map[string]string{
		"distinct aliases": fill(c("{"), func(i int) string { return fmt.Sprintf("a%d: me { id } ", i) }, "}"),
		"same field":       fill(c("{"), c("me { id } "), "}"),
		"same field 3750":  "{" + strings.Repeat("me{id} ", 3750) + "}",
		"same alias diff args": fill(c("{"), func(i int) string { return fmt.Sprintf("a: customer(id:\"%d\") { id } ", i) }, "}"),
		"directives":       fill(c("{ me "), c("@include(if:true) "), "{ id } }"),
		"directives on fields": fill(c("{"), c("me @include(if:true) { id } "), "}"),
		"nesting 999":      "{" + strings.Repeat("me { orders { customer {", 333) + "id" + strings.Repeat("}}}", 333) + "}",
		"nesting 5000":     "{" + strings.Repeat("me { orders { customer {", 1666) + "id" + strings.Repeat("}}}", 1666) + "}",
		"spreads":          fill(c("{ me { "), c("...F "), "} } fragment F on Customer { id }"),
		"comments":         fill(c("{ me { id } }"), c("# hello world comment line\n"), ""),
		"strings":          "{ customer(id: \"" + strings.Repeat("x", max-100) + "\") { id } }",
	}
	// exponential fragments
	var fb strings.Builder
	fb.WriteString("{ me { ...F0 } }\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&fb, "fragment F%d on Customer { id ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fb.WriteString("fragment F60 on Customer { id }\n")
	docs["exp fragments"] = fb.String()
	for name, q := range docs {
		t0 := time.Now()
		l := lexer.New(&ast.Source{Input: q})
		n := 0
		for {
			tok, err := l.ReadToken()
			if err != nil || tok.Kind == lexer.EOF {
				break
			}
			n++
		}
		t1 := time.Now()
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		t2 := time.Now()
		var errs int
		if err == nil {
			errs = len(validator.Validate(schema, doc))
		}
		t3 := time.Now()
		t.Logf("%-22s %8d bytes %7d tokens lex %v parse %v (err %v) validate %v (%d errs)", name, len(q), n, t1.Sub(t0), t2.Sub(t1), err != nil, t3.Sub(t2), errs)
	}
}
