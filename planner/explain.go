package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tutti-gw/tutti/loaders"
)

// Step is one upstream call of a plan, in REST terms.
type Step struct {
	// ID numbers the steps in dependency order (a step only waits for
	// steps with smaller ids).
	ID int `json:"id"`
	// Call is the batch call, as schema/ names it.
	Call    string `json:"call"`
	Service string `json:"service"`
	// Request is the method and URL template of one upstream request.
	Request string `json:"request"`
	// MaxKeys is the most keys the step can take: exact when they come
	// from arguments, an upper bound derived from list sizes otherwise.
	MaxKeys int `json:"maxKeys"`
	// Requests is how many upstream requests MaxKeys keys cost (split at
	// 100 keys; one per key where the service has no batch call).
	Requests int `json:"requests"`
	// WaitsFor lists the steps whose answers hold this step's keys; empty
	// when the keys come from the operation itself.
	WaitsFor []int `json:"waitsFor"`
	// Depth is the length of the chain of waits ending with this step.
	Depth int `json:"depth"`
	// Keys says where the keys come from.
	Keys string `json:"keys"`
	// Fields are the response paths the step serves.
	Fields []string `json:"fields"`
	// SparseFields is the field set asked of a service that takes one (the
	// catalog's `fields`): the record fields the operation selects.
	SparseFields []string `json:"sparseFields,omitempty"`
}

// Plan is the explain output of one operation.
type Plan struct {
	Steps []*Step `json:"steps"`
	// Depth is the longest chain of dependent calls: the critical path in
	// upstream round trips.
	Depth int `json:"depth"`
}

// fixedListSize is the size assumed for a list the parent's record holds
// (lines of an order), as the cost limit assumes it.
const fixedListSize = 10

// Explain returns the plan of the operation for the caller in ctx: the
// calls the planner starts, which ones wait for which, and which fields
// each serves. It makes no upstream call, and is worked out anew on each
// call (it is asked for by header, not on every request).
func (p *Planner) Explain(ctx context.Context, op *graphql.OperationContext) *Plan {
	if op == nil || op.Operation == nil {
		return &Plan{Steps: []*Step{}}
	}
	return p.explain(ctx, op)
}

func (p *Planner) explain(ctx context.Context, op *graphql.OperationContext) *Plan {
	e := &explainer{p: p, op: op, at: map[string]*Step{}, sources: map[*Step]map[string]int{}}
	for _, r := range p.rootCalls(op) {
		f := r.field
		n := 1
		if r.hook.Keys != nil {
			// The caller may not read this field: it makes no call.
			if n = len(distinct(r.hook.Keys(ctx, r.args))); n == 0 {
				continue
			}
		}
		if r.rule.Call == loaders.SearchProducts {
			n = intOf(r.args["first"], 20)
		}
		e.fetch(r.rule.Call, f.Definition.Type.Name(), f.Field, f.Selections, f.Alias, nil, n, "arguments")
	}
	plan := &Plan{Steps: e.steps}
	sparse := p.compiled(op).fields
	for _, s := range e.steps {
		plan.Depth = max(plan.Depth, s.Depth)
		s.SparseFields = sparse[s.Call]
	}
	if plan.Steps == nil {
		plan.Steps = []*Step{}
	}
	return plan
}

type explainer struct {
	p     *Planner
	op    *graphql.OperationContext
	steps []*Step
	// at merges the same call at the same point (same waits).
	at      map[string]*Step
	sources map[*Step]map[string]int
}

// step returns the step of call at the point after waits, with keys from
// where, making it if needed.
func (e *explainer) step(call string, waits []*Step, n int, where, path string) *Step {
	ids := make([]int, len(waits))
	depth := 1
	for i, w := range waits {
		ids[i] = w.ID
		depth = max(depth, w.Depth+1)
	}
	id := fmt.Sprint(call, ids)
	// Keys from one source (the same parent records) overlap, so a source
	// counts with the most any of its fields asks for; sources add up (each
	// root field is a source of its own).
	source := where + " of " + path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		source = where + " of " + path[:i]
	}
	if s, ok := e.at[id]; ok {
		s.Fields = append(s.Fields, path)
		e.sources[s][source] = max(e.sources[s][source], n)
		s.MaxKeys = 0
		for _, v := range e.sources[s] {
			s.MaxKeys += v
		}
		s.Requests = requestsFor(call, s.MaxKeys)
		if !strings.Contains(s.Keys, where) {
			s.Keys += "; " + where
		}
		return s
	}
	r, _ := loaders.Describe(call)
	req := r.One
	if n > 1 && r.Many != "" {
		req = r.Many
	}
	s := &Step{ID: len(e.steps) + 1, Call: call, Service: r.Service, Request: req, MaxKeys: n,
		Requests: requestsFor(call, n), WaitsFor: ids, Depth: depth, Keys: where, Fields: []string{path}}
	e.steps = append(e.steps, s)
	e.at[id] = s
	e.sources[s] = map[string]int{source: n}
	return s
}

func requestsFor(call string, keys int) int {
	if keys <= 0 {
		return 0
	}
	if r, _ := loaders.Describe(call); !r.Batch {
		if call == loaders.SearchProducts {
			return 1 + (keys-1)/100
		}
		return keys
	}
	return (keys + 99) / 100
}

// fetch adds the step of call for field and walks its selection: fields
// keyed by the fetched entity's own key wait for what this step waits for;
// the others wait for this step.
func (e *explainer) fetch(call, childType string, field *ast.Field, sel ast.SelectionSet, path string, waits []*Step, n int, where string) {
	s := e.step(call, waits, n, where, path)
	ent, isEntity := e.p.schema.Entity(childType)
	byKey := isEntity && ent.Call == call
	count := n
	if call == loaders.OrdersByCustomer {
		count = n * intOf(field.ArgumentMap(e.op.Variables)["first"], 10)
	}
	e.walk(childType, sel, path, count, s, waits, byKey)
}

// walk adds the steps that sel needs on count objects of typ at path,
// whose records arrive with step rec (nil when they are held by the
// operation) and whose keys are known once keyWaits have answered.
func (e *explainer) walk(typ string, sel ast.SelectionSet, path string, count int, rec *Step, keyWaits []*Step, byKey bool) {
	ent, isEntity := e.p.schema.Entity(typ)
	for _, f := range graphql.CollectFields(e.op, sel, []string{typ}) {
		rule, ok := e.p.schema.Rule(typ, f.Name)
		if !ok || f.Definition == nil {
			continue
		}
		childPath := path + "." + f.Alias
		childType := f.Definition.Type.Name()
		switch {
		case rule.Call != "":
			if h := e.p.hooks[typ+"."+f.Name]; h.Check != nil && h.Check(f.ArgumentMap(e.op.Variables)) != nil {
				continue
			}
			waits := []*Step{rec}
			where := fmt.Sprintf("%s of %s records", rule.Key, typ)
			if isEntity && byKey && rule.Key == ent.Key {
				waits, where = keyWaits, fmt.Sprintf("%s keys, known before its records", typ)
			}
			if rule.TrustKey && len(f.Selections) > 0 {
				if ok, _ := e.p.recordless(e.op, childType, f.Selections); ok {
					// No call for the record: the calls keyed by its key
					// wait for what this one would have waited for.
					e.walk(childType, f.Selections, childPath, count, nil, compact(waits), true)
					continue
				}
			}
			e.fetch(rule.Call, childType, f.Field, f.Selections, childPath, compact(waits), count, where)
		case rule.HasFrom:
			n := count
			if f.Definition.Type.Elem != nil && rule.From != "" && rule.From != "items" {
				n = count * fixedListSize
			}
			e.walk(childType, f.Selections, childPath, n, rec, []*Step{rec}, false)
		}
	}
}

func compact(steps []*Step) []*Step {
	var out []*Step
	for _, s := range steps {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func intOf(v any, def int) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	case interface{ Int64() (int64, error) }:
		if i, err := n.Int64(); err == nil {
			return int(i)
		}
	}
	return def
}
