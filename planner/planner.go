package planner

import (
	"context"
	"fmt"
	"reflect"
	"slices"

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
	// field returns to the caller in ctx (e.g. the first n orders that are
	// not cancelled; an order only to its owner): the planner goes on only
	// below those.
	Select func(ctx context.Context, args map[string]any, recs []any) []any
	// Keys, on a root field, returns the keys of its call from the
	// arguments and the caller, or none when the caller may not read them
	// (the resolver then answers UNAUTHENTICATED or FORBIDDEN).
	Keys func(ctx context.Context, args map[string]any) []string
}

// Planner starts the upstream calls of operations.
type Planner struct {
	schema *Schema
	hooks  map[string]Hook
	cache  *lru.Cache[string, *compiled]
	// Off makes Start and Below do nothing and KeyOnly answer false: the
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

// Prepared is an operation's plan, looked up (or compiled) once per
// request by Prepare and handed to Start and the loaders' sparse fields.
type Prepared struct{ c *compiled }

// Prepare returns the plan of op; the zero Prepared when planning is off.
func (p *Planner) Prepare(op *graphql.OperationContext) Prepared {
	if p.Off || op == nil || op.Operation == nil {
		return Prepared{}
	}
	return Prepared{c: p.compiled(op)}
}

// preparedKey holds the request's plan in its context, for Below.
type preparedKey struct{}

// Start starts, at the beginning of an operation, the calls of every root
// field whose keys its Keys hook gives, all keys of one call in one batch,
// and everything below them as their keys become known. It returns at once,
// with ctx carrying the plan for Below; resolvers read the answers from the
// request's loaders.
func (p *Planner) Start(ctx context.Context, pp Prepared) context.Context {
	if pp.c == nil || !graphql.HasOperationContext(ctx) {
		return ctx
	}
	ctx = context.WithValue(ctx, preparedKey{}, pp.c)
	x := &execution{ctx: ctx, plan: pp.c, loads: loaders.From(ctx)}
	var wants []want
	for _, r := range x.plan.roots {
		if r.hook.Keys == nil {
			continue
		}
		if keys := r.hook.Keys(ctx, r.args); len(keys) > 0 {
			wants = append(wants, want{step: r, keys: distinct(keys)})
		}
	}
	x.round(nil, wants)
	return ctx
}

// Below starts every call below the current field, whose own record the
// resolver fetched itself (a search page, say).
func (p *Planner) Below(ctx context.Context, rec any) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return
	}
	if x := p.exec(ctx); x != nil {
		for _, r := range x.plan.roots {
			// By response name: the plan outlives the parsed document it
			// was compiled from.
			if r.alias == fc.Field.Alias && r.child != nil {
				x.round([]job{{shape: r.child, nodes: []node{{rec: rec}}, mode: all}}, nil)
			}
		}
	}
}

// KeyOnly reports whether the current field, declared with trustKey,
// selects nothing of its entity's record: its key, __typename, and fields
// served by calls keyed by the key. `Order.customer { id }` needs no call;
// `Order.customer { totalSpent }` needs the customer's orders only. The
// resolver then makes the object from the key alone.
func (p *Planner) KeyOnly(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if p.Off || fc == nil || fc.Field.Definition == nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	if r, ok := p.schema.Rule(fc.Object, fc.Field.Name); !ok || !r.TrustKey {
		return false
	}
	// The merged selections of this very place: the same AST field may be
	// key-only in a fragment and not where other selections merge into it.
	ok, _ := p.recordless(graphql.GetOperationContext(ctx), fc.Field.Definition.Type.Name(), fc.Field.Selections)
	return ok
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
	// The plan Start was given; looked up again only for a context that
	// did not come through Start.
	c, _ := ctx.Value(preparedKey{}).(*compiled)
	if c == nil {
		c = p.compiled(graphql.GetOperationContext(ctx))
	}
	return &execution{ctx: ctx, plan: c, loads: loaders.From(ctx)}
}

// job is a shape to run on nodes in a mode.
type job struct {
	shape *shape
	nodes []node
	mode  mode
}

// want is a step whose call needs keys.
type want struct {
	step *fetchStep
	keys []string
}

// round runs jobs (and starts wants) known at one point of the operation:
// it follows held objects (@from) and entity keys as far as they go without
// waiting, then sends one batch per call with every key gathered, and runs
// what the answers make known, before they are published, as the next
// round.
func (x *execution) round(jobs []job, wants []want) {
	queue := jobs
	for _, w := range wants {
		if w.step.byKey && w.step.child != nil {
			queue = append(queue, job{shape: w.step.child, nodes: stubs(w.keys), mode: keysOnly})
		}
	}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, f := range j.shape.fetches {
			if (j.mode == keysOnly && !f.byEntityKey) || (j.mode == rest && f.byEntityKey) {
				continue
			}
			var keys []string
			for _, n := range j.nodes {
				if f.byEntityKey && n.key != "" {
					keys = append(keys, n.key)
					continue
				}
				each(n.rec, f.key, func(v reflect.Value) bool {
					if k := keyOf(v); k != "" {
						keys = append(keys, k)
					}
					return true
				})
			}
			if len(keys) == 0 {
				continue
			}
			keys = distinct(keys)
			if !f.noCall {
				wants = append(wants, want{step: f, keys: keys})
			}
			if (f.byKey || f.noCall) && f.child != nil {
				queue = append(queue, job{shape: f.child, nodes: stubs(keys), mode: keysOnly})
			}
		}
		if j.mode == keysOnly {
			continue
		}
		for _, n := range j.shape.nested {
			var children []node
			for _, p := range j.nodes {
				each(p.rec, n.from, func(v reflect.Value) bool {
					rec := v.Interface()
					children = append(children, node{rec: rec, key: n.child.keyOf(rec)})
					return true
				})
			}
			if len(children) > 0 {
				queue = append(queue, job{shape: n.child, nodes: children, mode: all})
			}
		}
	}

	// One batch per call, in the order the calls were first wanted.
	var order []string
	byCall := map[string][]want{}
	for _, w := range wants {
		if _, ok := byCall[w.step.call]; !ok {
			order = append(order, w.step.call)
		}
		byCall[w.step.call] = append(byCall[w.step.call], w)
	}
	for _, call := range order {
		c := x.loads.Call(call)
		if c == nil {
			continue
		}
		ws := byCall[call]
		var all []string
		needs := false
		for _, w := range ws {
			all = append(all, w.keys...)
			needs = needs || w.step.continues()
		}
		all = distinct(all)
		var then func([][]any)
		if needs {
			then = func(groups [][]any) { x.round(x.next(all, groups, ws), nil) }
		}
		c.Prefetch(x.ctx, all, then)
	}
}

// next makes the jobs that the records of one batch (groups, in the order
// of keys) allow, for each step that wanted them.
func (x *execution) next(keys []string, groups [][]any, ws []want) []job {
	at := make(map[string]int, len(keys))
	for i, k := range keys {
		at[k] = i
	}
	var jobs []job
	for _, w := range ws {
		s := w.step
		if !s.continues() {
			continue
		}
		var nodes []node
		for _, k := range w.keys {
			g := groups[at[k]]
			if s.hook.Select != nil {
				g = s.hook.Select(x.ctx, s.args, g)
			}
			for _, rec := range g {
				nodes = append(nodes, node{rec: rec, key: s.child.keyOf(rec)})
			}
		}
		if len(nodes) == 0 {
			continue
		}
		m := all
		if s.byKey {
			m = rest
		}
		jobs = append(jobs, job{shape: s.child, nodes: nodes, mode: m})
	}
	return jobs
}

func stubs(keys []string) []node {
	out := make([]node, len(keys))
	for i, k := range keys {
		out[i] = node{key: k}
	}
	return out
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
	if len(keys) <= 16 {
		// Few keys (the usual case): compared in place, no map.
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, k)
	}
	return out
}
