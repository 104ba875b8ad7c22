// Package schema holds the gateway's GraphQL schema (SDL only, one file per
// domain) and the mapping directives that tie it to the REST services. The
// files are embedded so the planner reads exactly what gqlgen compiled.
package schema

import (
	"embed"
	"io/fs"

	"github.com/vektah/gqlparser/v2/ast"
)

//go:embed *.graphqls
var files embed.FS

// Sources returns the schema files, in name order.
func Sources() []*ast.Source {
	names, err := fs.Glob(files, "*.graphqls")
	if err != nil {
		panic(err) // the pattern is constant
	}
	out := make([]*ast.Source, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		out = append(out, &ast.Source{Name: n, Input: string(b)})
	}
	return out
}
