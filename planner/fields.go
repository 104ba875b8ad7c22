package planner

import (
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Fields returns, for each call that takes a sparse field set, the record
// fields the operation selects on the type it serves: the union over every
// place the type appears, so the one call that serves several selections
// asks for all of them. Fields served by calls of their own (@fetch), the
// key (always sent) and __typename are left out; a selection of none of
// the rest asks for the smallest field, to learn only whether the record
// exists.
func (pp Prepared) Fields() map[string][]string {
	if pp.c == nil {
		return nil
	}
	return pp.c.fields
}

func (p *Planner) fields(op *graphql.OperationContext) map[string][]string {
	if op == nil || op.Operation == nil {
		return nil
	}
	want := map[string]map[string]bool{}
	seenType := map[string]bool{}
	for typ, ent := range p.schema.entities {
		if ent.Sparse && ent.Call != "" {
			want[typ] = map[string]bool{}
			seenType[typ] = false
		}
	}
	if len(want) == 0 {
		return nil
	}
	var visit func(typ string, sel ast.SelectionSet)
	visit = func(typ string, sel ast.SelectionSet) {
		for _, f := range graphql.CollectFields(op, sel, []string{typ}) {
			if f.Definition == nil {
				continue
			}
			if set, ok := want[typ]; ok {
				seenType[typ] = true
				rule, declared := p.schema.Rule(typ, f.Name)
				if f.Name != "__typename" && f.Name != p.schema.entities[typ].Key && !(declared && rule.Call != "") {
					name := f.Name
					if declared && rule.HasFrom && rule.From != "" {
						name = rule.From
					}
					set[name] = true
				}
			}
			if len(f.Selections) > 0 {
				visit(f.Definition.Type.Name(), f.Selections)
			}
		}
	}
	visit(rootType(op), op.Operation.SelectionSet)
	out := map[string][]string{}
	for typ, set := range want {
		if !seenType[typ] {
			continue
		}
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		slices.Sort(names)
		if len(names) == 0 {
			names = []string{p.smallestField(typ)}
		}
		out[p.schema.entities[typ].Call] = names
	}
	return out
}

// smallestField is the record field asked for when only existence
// matters: the first non-null scalar field other than the key.
func (p *Planner) smallestField(typ string) string {
	def := p.schema.AST.Types[typ]
	for _, f := range def.Fields {
		if f.Name == p.schema.entities[typ].Key || !f.Type.NonNull || f.Type.Elem != nil {
			continue
		}
		if t := p.schema.AST.Types[f.Type.Name()]; t != nil && t.Kind == ast.Scalar {
			if r, ok := p.schema.Rule(typ, f.Name); ok && r.Call != "" {
				continue
			}
			return f.Name
		}
	}
	return p.schema.entities[typ].Key
}
