package limits

import (
	"context"
	"fmt"
	"sort"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Extension is the gqlgen handler extension that enforces the limits:
//
//	srv.Use(extension.AutomaticPersistedQuery{...}) // fills in the query first
//	srv.Use(limits.New(limits.Options{}))
//
// Use it after the APQ extension, so that its pre-check sees the query a
// hash stands for; used before, the pre-check sees an empty query and only
// the check after validation applies. Install it in the handler rather than
// calling PreCheck from the HTTP layer: gqlgen calls it for every transport
// (POST, GET, websocket), after the HTTP layer has checked the request and
// the bearer token, as the spec's order wants.
//
// It holds no per-request state and is safe for concurrent use.
type Extension struct {
	o      Options
	schema *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = &Extension{}

// New returns an Extension enforcing o, zero fields taking their defaults.
func New(o Options) *Extension {
	return &Extension{o: o.withDefaults()}
}

// ExtensionName implements graphql.HandlerExtension.
func (e *Extension) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension. It keeps the schema and
// refuses a Multipliers table that names a field or an argument the schema
// lacks, so a typo in the table fails at start-up instead of costing every
// item of that list as one.
func (e *Extension) Validate(es graphql.ExecutableSchema) error {
	e.schema = es.Schema()
	if err := ValidateMultipliers(e.schema, e.o.Multipliers); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator:
// the pre-check, run before gqlgen parses or validates the query. See the
// package doc for what it refuses and why.
func (e *Extension) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	return e.preCheck(p.Query, p.OperationName, p.Variables, true)
}

// MutateOperationContext implements graphql.OperationContextMutator: Check
// on the parsed and validated operation, in the spec's order.
func (e *Extension) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Doc == nil || oc.Operation == nil {
		return nil
	}
	return Check(e.schema, oc.Doc, oc.Operation, oc.Variables, e.o)
}

// PreCheck is the cheap check of a raw query before parsing. nil means the
// query may go on to parsing and validation, not that it is within the
// limits: Check must still run after validation. It counts the tokens,
// stopping at the first token over the limit; then, for a query of more than
// 200 tokens that parses, it checks the aliases, directives and root fields
// of the whole document and, when the document has exactly one operation,
// its depth and a lower bound of its cost (each size read from a variable
// taken as 0, since the variables are not known here). It refuses only
// documents that are over a limit whatever the variables and operation name.
//
// The Extension runs a fuller pre-check (with the variables and operation
// name) by itself; PreCheck is for callers outside gqlgen's handler.
func (e *Extension) PreCheck(query string) *gqlerror.Error {
	return e.preCheck(query, "", nil, false)
}

// smallDocument is the most tokens of a document the pre-check leaves to
// Check after validation. Validating a document this small costs a few
// milliseconds whatever it holds (the worst measured, 196 copies of one
// field, about 5 ms), so such documents, which include most ordinary
// queries, see the spec's order exactly and are parsed once.
const smallDocument = 200

func (e *Extension) preCheck(query, opName string, vars map[string]any, varsKnown bool) *gqlerror.Error {
	return e.checkText(query, opName, vars, varsKnown, smallDocument)
}

// checkText checks the limits on a query's text before validation, letting
// through unparsed the documents of at most small tokens.
func (e *Extension) checkText(query, opName string, vars map[string]any, varsKnown bool, small int) *gqlerror.Error {
	if query == "" {
		return nil
	}
	s := scan(query, e.o.MaxTokens)
	if s.over {
		return tokensError(e.o)
	}
	if s.lexErr || s.tokens <= small {
		return nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		// gqlparser refuses selection sets nested deeper than
		// parser.MaxNestingDepth as a syntax error; such a document is over
		// the depth limit, and this is the limit's error to give. Any other
		// syntax error is left for gqlgen to report.
		if s.depth > parser.MaxNestingDepth && over(s.depth, e.o.MaxDepth) {
			return depthError(s.depth, e.o)
		}
		return nil
	}
	var op *ast.OperationDefinition
	if varsKnown || len(doc.Operations) == 1 {
		op = doc.Operations.ForName(opName)
	}
	work, name, most := validationWork(doc)
	if err := checkParsed(e.schema, doc, op, vars, varsKnown, s.aliases, s.directives, e.o); err != nil {
		// The contract checks validation before the limits. Where that
		// is cheap, a document that is over a limit and also invalid is
		// left for gqlgen to report as invalid.
		if work <= cheapValidationWork && e.schema != nil && len(validator.Validate(e.schema, doc)) > 0 {
			return nil
		}
		return err
	}
	if work > MaxValidationWork {
		return tooComplex("query repeats %q %d times in one selection set: validation work %d (repeats squared, summed) exceeds the limit of %d", name, most, work, MaxValidationWork)
	}
	return nil
}

// ValidateMultipliers reports the first rule of m whose "Type.field" key or
// argument the schema does not have.
func ValidateMultipliers(schema *ast.Schema, m map[string]Multiplier) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := validateRule(schema, k, m[k]); err != nil {
			return fmt.Errorf("multiplier %q: %w", k, err)
		}
	}
	return nil
}

func validateRule(schema *ast.Schema, key string, m Multiplier) error {
	typ, field, ok := cutLast(key, '.')
	if !ok {
		return fmt.Errorf("key is not Type.field")
	}
	t := schema.Types[typ]
	if t == nil {
		return fmt.Errorf("no type %s", typ)
	}
	def := t.Fields.ForName(field)
	if def == nil {
		return fmt.Errorf("no field %s on %s", field, typ)
	}
	for _, a := range []string{m.Arg, m.LenArg} {
		if a != "" && def.Arguments.ForName(a) == nil {
			return fmt.Errorf("no argument %s", a)
		}
	}
	if m.Fixed < 0 {
		return fmt.Errorf("negative Fixed %d", m.Fixed)
	}
	return nil
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], i > 0 && i < len(s)-1
		}
	}
	return s, "", false
}

// MaxValidationWork bounds the work of GraphQL validation on a document
// before it is validated. gqlparser's OverlappingFieldsCanBeMerged compares
// every pair of selections sharing a response name in a selection set,
// fragment spreads expanded: n copies cost n² comparisons, and 15 000
// copies of `id` under `orders(first: 0)` — cost 2, within every limit of
// the contract — take tens of seconds. The work is the sum, over the
// selection sets of the whole document (every operation and fragment:
// validation reads them all), of the square of each response name's count
// with the fragments spread into the set counted in. The bound is the
// default cost limit squared: an operation within that cost, where every
// list counts at least one item, repeats selections at most 1 000 times in
// all, so its work is at most 1 000² (about 90 ms of validation on a small
// machine). A document can reach the bound within the contract's cost only
// through repeats the cost does not see: under a list sized 0, in
// fragments no operation spreads, or spread over several operations.
const MaxValidationWork = DefaultMaxCost * DefaultMaxCost

// cheapValidationWork is the most validation work (200 copies of one
// field, a few milliseconds) spent on a document already known to be over
// a limit, to find whether it is also invalid: the contract reports
// validation errors first.
const cheapValidationWork = smallDocument * smallDocument

// validationWork returns the document's validation work (see
// MaxValidationWork) and its most repeated response name in one selection
// set, with its count. Fragment spreads are expanded through a memo (each
// fragment's counts are computed once; a cycle, which validation refuses,
// counts nothing), and counts saturate rather than overflow.
func validationWork(doc *ast.QueryDocument) (work int, worst string, most int) {
	memo := map[string]map[string]int{}
	var counts func(set ast.SelectionSet, into map[string]int, visiting map[string]bool)
	counts = func(set ast.SelectionSet, into map[string]int, visiting map[string]bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				key := s.Alias
				if key == "" {
					key = s.Name
				}
				into[key] = addSat(into[key], 1)
			case *ast.InlineFragment:
				counts(s.SelectionSet, into, visiting)
			case *ast.FragmentSpread:
				m, ok := memo[s.Name]
				if !ok {
					f := doc.Fragments.ForName(s.Name)
					if f == nil || visiting[s.Name] {
						continue
					}
					visiting[s.Name] = true
					m = map[string]int{}
					counts(f.SelectionSet, m, visiting)
					delete(visiting, s.Name)
					memo[s.Name] = m
				}
				for k, n := range m {
					into[k] = addSat(into[k], n)
				}
			}
		}
	}
	// visit adds the work of set and of the sets below its fields (those
	// of spread fragments are visited with the fragments themselves).
	var visit func(set ast.SelectionSet)
	visit = func(set ast.SelectionSet) {
		c := map[string]int{}
		counts(set, c, map[string]bool{})
		for k, n := range c {
			work = addSat(work, mulSat(n, n))
			if n > most {
				most, worst = n, k
			}
		}
		var below func(ast.SelectionSet)
		below = func(set ast.SelectionSet) {
			for _, sel := range set {
				switch s := sel.(type) {
				case *ast.Field:
					if len(s.SelectionSet) > 0 {
						visit(s.SelectionSet)
					}
				case *ast.InlineFragment:
					below(s.SelectionSet)
				}
			}
		}
		below(set)
	}
	for _, op := range doc.Operations {
		visit(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		visit(f.SelectionSet)
	}
	return work, worst, most
}
