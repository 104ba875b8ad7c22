package planner

import (
	"encoding/json"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// compiled is an operation's plan, worked out once per document, operation
// name and variables and then run for every request that sends them: which
// calls each field starts, where their keys come from, what the records
// below them need. Running it costs no selection-set work.
type compiled struct {
	// roots are the root fields that make a call.
	roots []*fetchStep
	// fields are the sparse field sets, by call.
	fields map[string][]string
}

// shape is what one selection set on one type needs from its objects.
type shape struct {
	typ     string
	entKey  string
	fetches []*fetchStep
	nested  []*nestStep
	// needsRecords: something below needs more than the objects' keys.
	needsRecords bool
}

// fetchStep is a field served by a call.
type fetchStep struct {
	call string
	// key is the JSON path of the key in the parent's record.
	key string
	// byEntityKey: the key is the parent entity's own key, known before
	// the parent's record.
	byEntityKey bool
	// byKey: the call's keys are the child entity's keys.
	byKey bool
	// noCall: the selection needs nothing of the child's record (its key,
	// and fields served by calls keyed by it: `Order.customer { totalSpent }`),
	// and the key always names a record (trustKey): the call is not made,
	// its keys only start the calls below.
	noCall bool
	hook   Hook
	args   map[string]any
	child  *shape // nil when the field has no selection
	// alias is the root field's response name (root steps only).
	alias string
}

// continues reports whether the records of f's call start anything: the
// calls below keyed by more than the child's own key, or, when the call's
// keys are not the child's keys (orders by customer), any call below.
func (f *fetchStep) continues() bool {
	if f.child == nil {
		return false
	}
	if f.byKey {
		return f.child.needsRecords
	}
	return len(f.child.fetches) > 0 || len(f.child.nested) > 0
}

// nestStep is a field whose objects the parent's record holds.
type nestStep struct {
	from  string
	child *shape
}

func (s *shape) keyOf(rec any) string {
	if s.entKey == "" {
		return ""
	}
	key := ""
	each(rec, s.entKey, func(v reflect.Value) bool {
		key = keyOf(v)
		return false
	})
	return key
}

// planCacheSize bounds the compiled plans kept (per process).
const planCacheSize = 1000

func newPlanCache() *lru.Cache[string, *compiled] {
	c, err := lru.New[string, *compiled](planCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}

// compiled returns the plan of op, compiling it on first use.
func (p *Planner) compiled(op *graphql.OperationContext) *compiled {
	key := planKey(op)
	if c, ok := p.cache.Get(key); ok {
		return c
	}
	c := p.compile(op)
	p.cache.Add(key, c)
	return c
}

// planKey identifies what a plan depends on: the document, the operation
// and the variables (arguments and @skip/@include may come from them).
func planKey(op *graphql.OperationContext) string {
	vars, _ := json.Marshal(op.Variables) // maps marshal with sorted keys
	return op.RawQuery + "\x00" + op.OperationName + "\x00" + string(vars)
}

func (p *Planner) compile(op *graphql.OperationContext) *compiled {
	c := &compiled{}
	if op.Operation == nil {
		return c
	}
	for _, r := range p.rootCalls(op) {
		f := r.field
		step := &fetchStep{call: r.rule.Call, hook: r.hook, args: r.args, alias: f.Alias}
		childType := f.Definition.Type.Name()
		if ent, ok := p.schema.Entity(childType); ok && ent.Call == r.rule.Call {
			step.byKey = true
		}
		if len(f.Selections) > 0 {
			step.child = p.shapeOf(op, childType, f.Selections)
		}
		c.roots = append(c.roots, step)
	}
	c.fields = p.fields(op)
	return c
}

// rootType is the type of op's root fields.
func rootType(op *graphql.OperationContext) string {
	if op.Operation.Operation == ast.Mutation {
		return "Mutation"
	}
	return "Query"
}

// rootCall is a root field that makes a call, with its arguments and hook.
type rootCall struct {
	field graphql.CollectedField
	rule  Rule
	hook  Hook
	args  map[string]any
}

// rootCalls returns the root fields of op that make a call, leaving out
// those whose arguments fail their hook's Check.
func (p *Planner) rootCalls(op *graphql.OperationContext) []rootCall {
	root := rootType(op)
	var out []rootCall
	for _, f := range graphql.CollectFields(op, op.Operation.SelectionSet, []string{root}) {
		rule, ok := p.schema.Rule(root, f.Name)
		if !ok || rule.Call == "" || f.Definition == nil {
			continue
		}
		r := rootCall{field: f, rule: rule, hook: p.hooks[root+"."+f.Name], args: f.ArgumentMap(op.Variables)}
		if r.hook.Check != nil && r.hook.Check(r.args) != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// shapeOf compiles what sel, on objects of typ, needs.
func (p *Planner) shapeOf(op *graphql.OperationContext, typ string, sel ast.SelectionSet) *shape {
	ent, isEntity := p.schema.Entity(typ)
	s := &shape{typ: typ}
	if isEntity {
		s.entKey = ent.Key
	}
	for _, f := range graphql.CollectFields(op, sel, []string{typ}) {
		rule, ok := p.schema.Rule(typ, f.Name)
		if !ok || f.Definition == nil {
			continue
		}
		childType := f.Definition.Type.Name()
		switch {
		case rule.Call != "":
			args := f.ArgumentMap(op.Variables)
			h := p.hooks[typ+"."+f.Name]
			if h.Check != nil && h.Check(args) != nil {
				continue
			}
			step := &fetchStep{call: rule.Call, key: rule.Key, hook: h, args: args,
				byEntityKey: isEntity && ent.Key != "" && rule.Key == ent.Key}
			if ce, ok := p.schema.Entity(childType); ok && ce.Call == rule.Call {
				step.byKey = true
			}
			if rule.TrustKey && len(f.Selections) > 0 {
				if ok, calls := p.recordless(op, childType, f.Selections); ok && !calls {
					continue // the key alone: nothing to start
				} else if ok {
					step.noCall = true
				}
			}
			if len(f.Selections) > 0 {
				step.child = p.shapeOf(op, childType, f.Selections)
			}
			if !step.byEntityKey {
				s.needsRecords = true
			}
			s.fetches = append(s.fetches, step)
		case rule.HasFrom && len(f.Selections) > 0:
			s.nested = append(s.nested, &nestStep{from: rule.From, child: p.shapeOf(op, childType, f.Selections)})
			s.needsRecords = true
		}
	}
	return s
}

// recordless reports whether sel, on the entity typ, needs nothing of a
// typ record: it selects the key, __typename, and fields served by calls
// keyed by the key (Customer.totalSpent, by the customer's id); calls
// reports whether it selects any of those fields (else it is the key
// alone).
func (p *Planner) recordless(op *graphql.OperationContext, typ string, sel ast.SelectionSet) (ok, calls bool) {
	ent, isEnt := p.schema.Entity(typ)
	if !isEnt || ent.Key == "" {
		return false, false
	}
	for _, f := range graphql.CollectFields(op, sel, []string{typ}) {
		if f.Name == ent.Key || f.Name == "__typename" {
			continue
		}
		r, declared := p.schema.Rule(typ, f.Name)
		if !declared || r.Call == "" || r.Key != ent.Key {
			return false, false
		}
		calls = true
	}
	return true, calls
}
