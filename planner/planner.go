package planner

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"

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
	cache  *lru.Cache[string, *compiled]
	// Off makes Root and Below do nothing and KeyOnly answer false: the
	// benchmarks' baselines without planning.
	Off bool
}

// New returns a planner over s; hooks are keyed "Type.field".
func New(s *Schema, hooks map[string]Hook) *Planner {
	return &Planner{schema: s, hooks: hooks, cache: newPlanCache()}
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

// Root starts every call the current root field needs, given the keys of
// its own @fetch call (resolved by the resolver from arguments or the
// caller). It returns at once; resolvers read the answers from the loaders.
func (p *Planner) Root(ctx context.Context, keys []string) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return
	}
	if x := p.exec(ctx); x != nil {
		if f := x.plan.roots[fc.Field.Field]; f != nil {
			x.fetch(f, keys)
		}
	}
}

// Below starts every call below the current field, whose own record the
// resolver fetched itself (a search page, say).
func (p *Planner) Below(ctx context.Context, rec any) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return
	}
	if x := p.exec(ctx); x != nil {
		if f := x.plan.roots[fc.Field.Field]; f != nil && f.child != nil {
			x.walk(f.child, []node{{rec: rec}}, all)
		}
	}
}

// KeyOnly reports whether the current field, declared with trustKey,
// selects nothing but the key of its entity type (and __typename):
// `Order.customer { id }` needs no call.
func (p *Planner) KeyOnly(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if p.Off || fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	return p.compiled(graphql.GetOperationContext(ctx)).keyOnly[fc.Field.Field]
}

// execution is one request's run of a compiled plan.
type execution struct {
	ctx   context.Context
	plan  *compiled
	loads *loaders.Loaders
}

func (p *Planner) exec(ctx context.Context) *execution {
	if p.Off || !graphql.HasOperationContext(ctx) {
		return nil
	}
	return &execution{ctx: ctx, plan: p.compiled(graphql.GetOperationContext(ctx)), loads: loaders.From(ctx)}
}

// fetch starts f's call for keys and walks f's selection on the records it
// will return: at once for what the keys alone decide, and, before the
// records are published, for the rest.
func (x *execution) fetch(f *fetchStep, keys []string) {
	c := x.loads.Call(f.call)
	if c == nil || len(keys) == 0 {
		return
	}
	keys = distinct(keys)
	var then func([][]any)
	if f.child != nil && f.child.needsRecords {
		next := all
		if f.byKey {
			next = rest
		}
		then = func(groups [][]any) {
			var nodes []node
			for _, g := range groups {
				if f.hook.Select != nil {
					g = f.hook.Select(f.args, g)
				}
				for _, rec := range g {
					nodes = append(nodes, node{rec: rec, key: f.child.keyOf(rec)})
				}
			}
			if len(nodes) > 0 {
				x.walk(f.child, nodes, next)
			}
		}
	}
	c.Prefetch(x.ctx, keys, then)
	if f.byKey && f.child != nil {
		stubs := make([]node, len(keys))
		for i, k := range keys {
			stubs[i] = node{key: k}
		}
		x.walk(f.child, stubs, keysOnly)
	}
}

// walk starts the calls that shape s needs for nodes.
func (x *execution) walk(s *shape, nodes []node, m mode) {
	for _, f := range s.fetches {
		if (m == keysOnly && !f.byEntityKey) || (m == rest && f.byEntityKey) {
			continue
		}
		var keys []string
		for _, n := range nodes {
			if f.byEntityKey && n.key != "" {
				keys = append(keys, n.key)
				continue
			}
			for _, v := range values(n.rec, f.key) {
				if k := keyString(v); k != "" {
					keys = append(keys, k)
				}
			}
		}
		x.fetch(f, keys)
	}
	if m == keysOnly {
		return
	}
	for _, n := range s.nested {
		var children []node
		for _, p := range nodes {
			for _, v := range values(p.rec, n.from) {
				children = append(children, node{rec: v, key: n.child.keyOf(v)})
			}
		}
		if len(children) > 0 {
			x.walk(n.child, children, all)
		}
	}
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
