package limits

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// maxBody is the largest request body the gateway reads (2 MiB).
const maxBody = 2 << 20

// fill repeats unit(i) between head and tail for as long as the document
// stays under 2 MiB.
func fill(head string, unit func(i int) string, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	for i := 1; ; i++ {
		u := unit(i)
		if b.Len()+len(u)+len(tail) >= maxBody-512 {
			break
		}
		b.WriteString(u)
	}
	b.WriteString(tail)
	return b.String()
}

// hostile returns the documents of the benchmarks: the first seven just
// under 2 MiB, then small ones that stay within the token limit but are
// slow to validate.
var hostile = sync.OnceValue(func() map[string]string {
	c := func(s string) func(int) string { return func(int) string { return s } }
	return map[string]string{
		"aliases, 2 MiB":        fill("{", func(i int) string { return fmt.Sprintf(" a%d: me { id }", i) }, " }"),
		"same field, 2 MiB":     fill("{", c(" me { id }"), " }"),
		"directives, 2 MiB":     fill("{ me", c(" @include(if: true)"), " { id } }"),
		"nesting 5 000":         "{" + strings.Repeat(" me {", 5000) + " id" + strings.Repeat(" }", 5001),
		"nesting, 2 MiB":        fill("{", c(" me {"), "") + " id }",
		"comments, 2 MiB":       fill("{ me { id } }\n", c("# a comment line, which is not a token\n"), ""),
		"one string, 2 MiB":     `{ product(sku: "` + strings.Repeat("x", maxBody-64) + `") { sku } }`,
		"3 750 × me { id }":     "{" + strings.Repeat(" me { id }", 3749) + " }",
		"14 980 × id, first: 0": "{ me { orders(first: 0) {" + strings.Repeat(" id", 14980) + " } } }",
		"1 000 × id":            "{ me {" + strings.Repeat(" id", 998) + " } }",
		"2^60 fragment copies": func() string {
			var b strings.Builder
			b.WriteString("{ me { ...F0 } }\n")
			for i := range 60 {
				fmt.Fprintf(&b, "fragment F%d on Customer { id ...F%d ...F%d }\n", i, i+1, i+1)
			}
			return b.String() + "fragment F60 on Customer { id }\n"
		}(),
		"ordinary": `query Order($id: ID!) { order(id: $id) { id status placedAt total { amount currency }
			lines { sku quantity product { title price { amount } } } shipment { status delayed } } }`,
	}
})

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// BenchmarkPreCheck is the Extension's check before parsing, on each
// hostile document: what a refusal costs.
func BenchmarkPreCheck(b *testing.B) {
	e := newExtension(b, Options{})
	vars := map[string]any{"id": "o1"}
	for _, name := range sortedNames(hostile()) {
		q := hostile()[name]
		b.Run(name, func(b *testing.B) {
			var err *gqlerror.Error
			for b.Loop() {
				err = e.preCheck(q, "", vars, true)
			}
			if err != nil {
				b.Logf("%s", err.Message)
			}
		})
	}
}

// BenchmarkCheck is Check on an already parsed document.
func BenchmarkCheck(b *testing.B) {
	for _, name := range sortedNames(hostile()) {
		q := hostile()[name]
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			continue
		}
		op := doc.Operations.ForName("")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				Check(shopSchema(), doc, op, map[string]any{"id": "o1"}, Options{})
			}
		})
	}
}

// BenchmarkParseAndValidate is what gqlgen does to each document before the
// limits could run after validation: parse, then validate with the default
// rules. Some of these take seconds; run with -benchtime=1x.
func BenchmarkParseAndValidate(b *testing.B) {
	for _, name := range sortedNames(hostile()) {
		q := hostile()[name]
		b.Run(name, func(b *testing.B) {
			if name == "same field, 2 MiB" {
				b.Skip("quadratic in 190 000 copies: hours; see 3 750 × me { id }")
			}
			for b.Loop() {
				doc, err := parser.ParseQuery(&ast.Source{Input: q})
				if err != nil {
					continue
				}
				validator.Validate(shopSchema(), doc)
			}
		})
	}
}

// BenchmarkParse is gqlparser's parse alone.
func BenchmarkParse(b *testing.B) {
	for _, name := range sortedNames(hostile()) {
		q := hostile()[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, _ = parser.ParseQuery(&ast.Source{Input: q})
			}
		})
	}
}
