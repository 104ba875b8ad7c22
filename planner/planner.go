package planner

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tutti-gw/tutti/loaders"
)

// Hook is the field logic the planner must share with a resolver so both
// agree on which records a field returns. Either function may be nil.
type Hook struct {
	// Check validates the field's arguments (defaults applied). A field whose
	// arguments fail makes no upstream call; its resolver reports the error.
	Check func(args map[string]any) error
	// Select returns, of the records one parent's key fetched, those the
	// field returns (e.g. the first n orders that are not cancelled).
	Select func(args map[string]any, recs []any) []any
}

// Planner starts the upstream calls of operations.
type Planner struct {
	schema *Schema
	hooks  map[string]Hook
	// Off makes Root and Below do nothing and KeyOnly answer false: the
	// benchmarks' baselines without planning.
	Off bool
}

// New returns a planner over s; hooks are keyed "Type.field".
func New(s *Schema, hooks map[string]Hook) *Planner {
	return &Planner{schema: s, hooks: hooks}
}

// Schema returns the mapping the planner follows.
func (p *Planner) Schema() *Schema { return p.schema }

// mode says what a walk may start for its nodes.
type mode int

const (
	// keysOnly: only each node's entity key is known (its record is still
	// on its way): start the calls keyed by that key.
	keysOnly mode = iota
	// rest: records are known and the key-only calls were started already.
	rest
	// all: records are known; start everything.
	all
)

// node is one object at some point of the operation: its upstream record
// (nil in keysOnly mode) and its entity key.
type node struct {
	rec any
	key string
}

type walker struct {
	p     *Planner
	ctx   context.Context
	op    *graphql.OperationContext
	loads *loaders.Loaders
}

// Root starts every call the current root field needs, given the keys of
// its own @fetch call (resolved by the resolver from arguments or the
// caller). It returns at once; resolvers read the answers from the loaders.
func (p *Planner) Root(ctx context.Context, keys []string) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return
	}
	rule, ok := p.schema.Rule(fc.Object, fc.Field.Name)
	if !ok || rule.Call == "" {
		return
	}
	w := p.walker(ctx)
	if w == nil {
		return
	}
	w.fetch(rule.Call, fc.Object+"."+fc.Field.Name, fc.Field.Definition.Type.Name(), fc.Field.Field, keys)
}

// Below starts every call below the current field, whose own record the
// resolver fetched itself (a search page, say).
func (p *Planner) Below(ctx context.Context, rec any) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return
	}
	if w := p.walker(ctx); w != nil {
		w.walk(fc.Field.Definition.Type.Name(), fc.Field.Selections, []node{{rec: rec}}, all)
	}
}

// KeyOnly reports whether the current field, declared with trustKey,
// selects nothing but the key of its entity type (and __typename):
// `Order.customer { id }` needs no call.
func (p *Planner) KeyOnly(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil {
		return false
	}
	if r, ok := p.schema.Rule(fc.Object, fc.Field.Name); !ok || !r.TrustKey {
		return false
	}
	w := p.walker(ctx)
	if w == nil {
		return false
	}
	return w.keyOnly(fc.Field.Definition.Type.Name(), fc.Field.Selections)
}

func (p *Planner) walker(ctx context.Context) *walker {
	if p.Off || !graphql.HasOperationContext(ctx) {
		return nil
	}
	return &walker{p: p, ctx: ctx, op: graphql.GetOperationContext(ctx), loads: loaders.From(ctx)}
}

// fetch starts call for keys and walks field's selection on the records it
// will return: at once for what the keys alone decide, and again when the
// records arrive for the rest.
func (w *walker) fetch(call, fieldName, childType string, field *ast.Field, keys []string) {
	c := w.loads.Call(call)
	if c == nil || len(keys) == 0 {
		return
	}
	keys = distinct(keys)
	sel := field.SelectionSet
	isEntity, byKey := false, false
	if _, ok := w.p.schema.Entity(childType); ok {
		isEntity, byKey = true, w.entityKeyOfCall(childType, call)
	}
	var then func([][]any)
	if len(sel) > 0 && w.needsRecords(childType, sel) {
		next := all
		if byKey {
			next = rest
		}
		hook := w.p.hooks[fieldName]
		args := field.ArgumentMap(w.op.Variables)
		then = func(groups [][]any) {
			var nodes []node
			for _, g := range groups {
				if hook.Select != nil {
					g = hook.Select(args, g)
				}
				for _, rec := range g {
					nodes = append(nodes, node{rec: rec, key: w.keyOf(childType, rec)})
				}
			}
			if len(nodes) > 0 {
				w.walk(childType, sel, nodes, next)
			}
		}
	}
	c.Prefetch(w.ctx, keys, then)
	if isEntity && byKey && len(sel) > 0 {
		stubs := make([]node, len(keys))
		for i, k := range keys {
			stubs[i] = node{key: k}
		}
		w.walk(childType, sel, stubs, keysOnly)
	}
}

// entityKeyOfCall reports whether call's keys are the entity keys of typ
// (its @entity names call), so that a record's key is known before the
// record: customers.byId keys are Customer ids; orders.byCustomer keys are
// not Order ids.
func (w *walker) entityKeyOfCall(typ, call string) bool {
	ent, ok := w.p.schema.Entity(typ)
	return ok && ent.Call == call
}

// walk starts the calls that the fields of sel, on objects of type typ,
// need for nodes.
func (w *walker) walk(typ string, sel ast.SelectionSet, nodes []node, m mode) {
	ent, isEntity := w.p.schema.Entity(typ)
	for _, f := range graphql.CollectFields(w.op, sel, []string{typ}) {
		rule, ok := w.p.schema.Rule(typ, f.Name)
		if !ok || f.Definition == nil {
			continue
		}
		childType := f.Definition.Type.Name()
		switch {
		case rule.Call != "":
			byEntityKey := isEntity && ent.Key != "" && rule.Key == ent.Key
			if (m == keysOnly && !byEntityKey) || (m == rest && byEntityKey) {
				continue
			}
			name := typ + "." + f.Name
			if h := w.p.hooks[name]; h.Check != nil && h.Check(f.ArgumentMap(w.op.Variables)) != nil {
				continue
			}
			if rule.TrustKey && len(f.SelectionSet) > 0 && w.keyOnly(childType, f.SelectionSet) {
				continue
			}
			var keys []string
			for _, n := range nodes {
				if byEntityKey && n.key != "" {
					keys = append(keys, n.key)
					continue
				}
				for _, v := range values(n.rec, rule.Key) {
					if s := keyString(v); s != "" {
						keys = append(keys, s)
					}
				}
			}
			w.fetch(rule.Call, name, childType, f.Field, keys)
		case rule.HasFrom && m != keysOnly:
			var children []node
			for _, n := range nodes {
				for _, v := range values(n.rec, rule.From) {
					children = append(children, node{rec: v, key: w.keyOf(childType, v)})
				}
			}
			if len(children) > 0 {
				w.walk(childType, f.SelectionSet, children, all)
			}
		}
	}
}

// needsRecords reports whether a field of sel needs the records of typ
// (anything but the calls keyed by the entity key).
func (w *walker) needsRecords(typ string, sel ast.SelectionSet) bool {
	ent, isEntity := w.p.schema.Entity(typ)
	for _, f := range graphql.CollectFields(w.op, sel, []string{typ}) {
		rule, ok := w.p.schema.Rule(typ, f.Name)
		if !ok {
			continue
		}
		if rule.HasFrom || (rule.Call != "" && !(isEntity && ent.Key != "" && rule.Key == ent.Key)) {
			return true
		}
	}
	return false
}

// keyOnly reports whether sel, on typ, selects only the entity key.
func (w *walker) keyOnly(typ string, sel ast.SelectionSet) bool {
	ent, ok := w.p.schema.Entity(typ)
	if !ok || ent.Key == "" {
		return false
	}
	for _, f := range graphql.CollectFields(w.op, sel, []string{typ}) {
		if f.Name != ent.Key && f.Name != "__typename" {
			return false
		}
	}
	return true
}

func (w *walker) keyOf(typ string, rec any) string {
	ent, ok := w.p.schema.Entity(typ)
	if !ok || ent.Key == "" {
		return ""
	}
	for _, v := range values(rec, ent.Key) {
		return keyString(v)
	}
	return ""
}

func keyString(v any) string {
	switch k := v.(type) {
	case string:
		return k
	case nil:
		return ""
	default:
		return fmt.Sprint(k)
	}
}

func distinct(keys []string) []string {
	seen := make(map[string]struct{}, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, k)
	}
	return out
}
