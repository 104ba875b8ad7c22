// Package planner turns each GraphQL operation into upstream calls. It reads
// the mapping declared in schema/ (@entity, @fetch, @from) once at start-up
// and, for every root field, walks the operation's selections: each call
// starts the moment its keys are known — from the arguments, from an
// entity's own key, or from the records of the call above it — with all the
// keys known at that point in one batch. Resolvers then find every answer
// already on its way in the request's loaders.
package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tutti-gw/tutti/loaders"
)

// Rule is what schema/ declares for one field.
type Rule struct {
	// Call is the @fetch call name; empty when the parent holds the data.
	Call string
	// Key is the @fetch key: "$arg" or "$sub" on root fields, elsewhere a
	// JSON path into the parent's upstream record.
	Key string
	// TrustKey: the key always names an existing record, so a selection of
	// nothing but the fetched type's key costs no call.
	TrustKey bool
	// From is the @from path of objects the parent's record holds; HasFrom
	// tells an empty path (the record itself) from no declaration.
	From    string
	HasFrom bool
}

// Entity is what @entity declares for a type.
type Entity struct {
	Service string
	// Key is the JSON name of the record field that identifies a record; the
	// GraphQL field of the same name holds it. Empty when the type has none.
	Key string
	// Call is the call that fetches records of this type by Key.
	Call string
	// Sparse: Call takes a sparse field set, so it asks for the record
	// fields the operation selects.
	Sparse bool
}

// Schema is the mapping read from the schema's directives.
type Schema struct {
	AST      *ast.Schema
	rules    map[string]map[string]Rule
	entities map[string]Entity
}

// Rule returns the declaration of typ.field.
func (s *Schema) Rule(typ, field string) (Rule, bool) {
	r, ok := s.rules[typ][field]
	return r, ok
}

// Entity returns the @entity declaration of typ.
func (s *Schema) Entity(typ string) (Entity, bool) {
	e, ok := s.entities[typ]
	return e, ok
}

// LoadSchema parses the schema sources and reads their mapping directives.
// calls lists the call names the loaders provide: a @fetch naming another
// one is refused, so a typo fails at start-up, not at query time.
func LoadSchema(calls []string, sources ...*ast.Source) (*Schema, error) {
	sch, err := gqlparser.LoadSchema(sources...)
	if err != nil {
		return nil, fmt.Errorf("load schema: %w", err)
	}
	s := &Schema{AST: sch, rules: map[string]map[string]Rule{}, entities: map[string]Entity{}}
	for _, def := range sch.Types {
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		if d := def.Directives.ForName("entity"); d != nil {
			e := Entity{Service: argString(d, "service"), Key: argString(d, "key"), Call: argString(d, "call"), Sparse: argString(d, "sparse") == "true"}
			if e.Call != "" && !slices.Contains(calls, e.Call) {
				return nil, fmt.Errorf("load schema: %s: @entity names unknown call %q", def.Name, e.Call)
			}
			s.entities[def.Name] = e
		}
		for _, f := range def.Fields {
			var r Rule
			if d := f.Directives.ForName("fetch"); d != nil {
				r.Call, r.Key, r.TrustKey = argString(d, "call"), argString(d, "key"), argString(d, "trustKey") == "true"
				if r.Call != loaders.SearchProducts && !slices.Contains(calls, r.Call) {
					return nil, fmt.Errorf("load schema: %s.%s: @fetch names unknown call %q", def.Name, f.Name, r.Call)
				}
				root := def.Name == "Query" || def.Name == "Mutation"
				if root != strings.HasPrefix(r.Key, "$") {
					return nil, fmt.Errorf("load schema: %s.%s: @fetch key %q: root fields take \"$argument\", others a record field", def.Name, f.Name, r.Key)
				}
			}
			if d := f.Directives.ForName("from"); d != nil {
				r.From, r.HasFrom = argString(d, "path"), true
			}
			if r.Call != "" || r.HasFrom {
				if s.rules[def.Name] == nil {
					s.rules[def.Name] = map[string]Rule{}
				}
				s.rules[def.Name][f.Name] = r
			}
		}
	}
	return s, nil
}

// argOrDefault is a directive argument as written, or the default its
// definition declares.
func argOrDefault(sch *ast.Schema, d *ast.Directive, name string) string {
	if v := argString(d, name); v != "" {
		return v
	}
	if def := sch.Directives[d.Name]; def != nil {
		if a := def.Arguments.ForName(name); a != nil && a.DefaultValue != nil {
			return a.DefaultValue.Raw
		}
	}
	return ""
}

func argString(d *ast.Directive, name string) string {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return ""
	}
	return a.Value.Raw
}

// CachePolicies returns the cache policy of every call, from @cacheControl
// on the field that names the call or, failing that, on the type the field
// returns. Where several fields name one call, the shortest max-age and the
// most private scope win. A call without a policy is not cached.
func (s *Schema) CachePolicies() map[string]loaders.Policy {
	out := map[string]loaders.Policy{}
	calls := loaders.Names()
	for _, def := range s.AST.Types {
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			rule, ok := s.Rule(def.Name, f.Name)
			if !ok || !slices.Contains(calls, rule.Call) {
				// Calls outside the loaders (the catalog search) are not
				// cached.
				continue
			}
			d := f.Directives.ForName("cacheControl")
			if d == nil {
				if t := s.AST.Types[f.Type.Name()]; t != nil {
					d = t.Directives.ForName("cacheControl")
				}
			}
			if d == nil {
				// A field that returns a scalar computed from the call's
				// records (totalSpent) follows the policy of the fields
				// that return the records.
				continue
			}
			secs, _ := strconv.Atoi(argString(d, "maxAge"))
			stale, _ := strconv.Atoi(argOrDefault(s.AST, d, "maxStale"))
			p := loaders.Policy{
				MaxAge:   time.Duration(secs) * time.Second,
				Private:  argString(d, "scope") != "PUBLIC",
				MaxStale: time.Duration(stale) * time.Second,
			}
			if old, ok := out[rule.Call]; ok {
				p.MaxAge = min(p.MaxAge, old.MaxAge)
				p.MaxStale = min(p.MaxStale, old.MaxStale)
				p.Private = p.Private || old.Private
			}
			out[rule.Call] = p
		}
	}
	return out
}
