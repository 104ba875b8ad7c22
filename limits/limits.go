// Package limits refuses GraphQL documents that are too large or too
// expensive to run, before any upstream call is made (graphql-api.md,
// "Limits"). A refused document gets one error with extensions.code
// QUERY_TOO_COMPLEX whose message names the limit, for example
// "query depth 17 exceeds the limit of 15".
//
// Six limits are checked, each with a default that Options may change:
//
//   - tokens (15 000): the GraphQL lexical tokens of the document as
//     gqlparser's lexer reads them: names, punctuators and values, a string
//     or block string being one token. Comments, commas, white space and
//     the JSON variables object do not count. Counting stops at the first
//     token over the limit, so a 2 MiB document costs no more than a small
//     one.
//   - depth (15): the deepest field of the operation that runs, a root field
//     being at depth 1 (`{ me { id } }` has depth 2). Inline fragments and
//     fragment spreads are expanded and add no depth of their own;
//     introspection fields (__schema, __type, __typename) count like any
//     other field.
//   - aliases (30), directives (50): every alias and every directive written
//     anywhere in the document (all operations and all fragment
//     definitions), each occurrence as written counted once; a fragment
//     spread twice does not count twice. `me: me` is an alias too.
//   - root fields (20): the fields written at the root level of any
//     operation of the document: in an operation's selection set, in inline
//     fragments there, and in fragment definitions spread there (and
//     transitively in the fragments those spread at their own top level).
//     Like aliases and directives this counts occurrences as written: a
//     fragment definition's fields count once however often it is spread,
//     since spreading the same fields twice adds no field to the execution.
//   - estimated cost (1 000): see Cost below.
//
// When a document is over several limits the message names the first in
// this order: tokens, depth, aliases, root fields, directives, cost.
//
// # Cost
//
// The cost is computed on the operation that runs, with fragments expanded
// and before identical selections are merged (two identical selections cost
// twice). A field costs 1, plus, when it has a selection, the cost of that
// selection multiplied by the most items the field can return:
//
//	cost(field) = 1 + size(field) × cost(selection)
//
// size is 1 except for the fields of the Multipliers table (a list of
// objects not in the table counts as one item, as do introspection lists).
// A field without a selection, a list of scalars such as Product.tags
// included, costs 1. Sizes read from arguments take the value given
// literally or through a variable, then the variable's default, then the
// argument's default in the schema; a value out of range is used as given,
// clamped at 0 (the resolvers refuse the value itself). Costs saturate at
// the largest int instead of overflowing.
//
// # Where the checks run
//
// The spec orders the checks: request, token, parsing, validation, limits,
// execution. Extension is a gqlgen handler extension that does both:
//
//   - MutateOperationContext runs Check after parsing and validation, in the
//     spec's order.
//   - MutateOperationParameters runs before gqlgen parses or validates
//     anything. gqlparser's validation is far from linear on hostile
//     documents (OverlappingFieldsCanBeMerged compares every pair of fields
//     sharing a response name: 3 750 copies of `me { id }`, a 26 KB
//     document, take seconds), so a large document that is over a limit is
//     refused here, in a few milliseconds. It counts the tokens first,
//     stopping at the first token over the limit. A document of at most 200
//     tokens is then let through: validating it costs a few milliseconds at
//     worst, and Check after validation will judge it. A larger document
//     within the token limit is parsed (a few milliseconds at most) and all
//     other limits are checked on it before validation; when one is broken
//     and validating the document is cheap (validation work, below, at most
//     200², a few milliseconds), it is validated first, and an invalid one
//     is left for gqlgen to report as GRAPHQL_VALIDATION_FAILED. A document
//     that does not parse is let through for gqlgen to report as
//     GRAPHQL_PARSE_FAILED, unless it failed because its selection sets
//     nest deeper than gqlparser accepts (parser.MaxNestingDepth, 1 000):
//     that one is over the depth limit and is refused as such.
//
// The spec's order is thus observable for every document within the token
// limit that is not both over a limit and long to validate. The exceptions:
// a document over the token limit is refused unparsed, even with a syntax
// or validation error (other than one the lexer meets in its first 15 000
// tokens); and one over another limit whose validation work exceeds 200²
// is refused on that limit without being validated.
//
// One limit is not the contract's: MaxValidationWork, the bound on what
// validation costs (gqlparser's OverlappingFieldsCanBeMerged compares
// repeated selections pairwise, fragment spreads expanded). It never
// refuses a document of one operation within the contract's cost where
// every list counts at least one item and every fragment is spread; it
// refuses, say, 5 000 copies of `id` under `orders(first: 0)`, which cost 2
// and would take validation seconds, or a hundred fragments of 60 copies
// spread into one selection set.
//
// gqlgen's own handler.Server.SetParserTokenLimit is not the token limit of
// the spec: gqlparser counts comments as tokens there and reports a breach
// as GRAPHQL_PARSE_FAILED. Leave it unset; the pre-check bounds the tokens
// before gqlgen's parser sees them.
package limits

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
)

// The defaults of graphql-api.md, "Limits".
const (
	DefaultMaxDepth      = 15
	DefaultMaxAliases    = 30
	DefaultMaxRootFields = 20
	DefaultMaxDirectives = 50
	DefaultMaxTokens     = 15000
	DefaultMaxCost       = 1000
)

// Options sets the limits. A zero field takes its default; a negative one
// turns that limit off.
type Options struct {
	// MaxDepth is the deepest a field may be, a root field being at depth 1.
	// Default 15.
	MaxDepth int
	// MaxAliases is how many aliases the document may write. Default 30.
	MaxAliases int
	// MaxRootFields is how many fields the document may write at the root
	// level of its operations. Default 20.
	MaxRootFields int
	// MaxDirectives is how many directives the document may write.
	// Default 50.
	MaxDirectives int
	// MaxTokens is how many lexical tokens the document may have, comments
	// and commas not counted. Default 15 000.
	MaxTokens int
	// MaxCost is the highest estimated cost of the operation. Default 1 000.
	MaxCost int
	// Multipliers sizes the list fields for the cost estimate, keyed by
	// "Type.field" (the type the field is selected on). Nil means
	// DefaultMultipliers(); a non-nil map replaces the defaults whole.
	Multipliers map[string]Multiplier
}

// Multiplier says how many items a list field can return at most, for the
// cost estimate. The first of Arg, LenArg and ParentArg that is set is used;
// Fixed is the size when none is set, and the fallback when the argument
// named is absent, null and has no default. With nothing usable the size is 1.
type Multiplier struct {
	// Arg names an Int argument of the field whose value is the size, as
	// `first` on Customer.orders.
	Arg string
	// LenArg names a list argument of the field whose length is the size,
	// as `ids` on Query.customers. A single value given for a list counts as
	// a list of one, per input coercion.
	LenArg string
	// ParentArg names an Int argument of the enclosing field whose value is
	// the size: a connection's edges are as many as the connection field's
	// `first` (ProductConnection.edges sized by Query.products' first).
	ParentArg string
	// Fixed is a size that no argument gives, as 10 for Order.lines.
	Fixed int
}

// DefaultMultipliers returns the shop's list fields (schema.graphql) and
// their sizes. A new list of objects is one more line here.
func DefaultMultipliers() map[string]Multiplier {
	return map[string]Multiplier{
		"Query.customers":         {LenArg: "ids"},
		"Query.productsBySku":     {LenArg: "skus"},
		"ProductConnection.edges": {ParentArg: "first"},
		"Customer.orders":         {Arg: "first"},
		"Order.lines":             {Fixed: 10},
	}
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxDepth, DefaultMaxDepth)
	def(&o.MaxAliases, DefaultMaxAliases)
	def(&o.MaxRootFields, DefaultMaxRootFields)
	def(&o.MaxDirectives, DefaultMaxDirectives)
	def(&o.MaxTokens, DefaultMaxTokens)
	def(&o.MaxCost, DefaultMaxCost)
	if o.Multipliers == nil {
		o.Multipliers = DefaultMultipliers()
	}
	return o
}

// over reports whether n breaks limit; a negative limit is no limit.
func over(n, limit int) bool {
	return limit >= 0 && n > limit
}

// tooComplex is the one error a refused document gets.
func tooComplex(format string, args ...any) *gqlerror.Error {
	return gqlerr.New(gqlerr.QueryTooComplex, fmt.Sprintf(format, args...))
}

// Check returns the error for the first limit of o that the document breaks,
// or nil when it is within all of them. It is a pure function: it reads the
// document and changes nothing, so a cached document may be checked by any
// number of requests at once.
//
// doc may be validated or not: Check resolves types through schema itself,
// ignores unknown fields, types and fragments and does not loop on fragment
// cycles, leaving those errors to validation. op is the operation that runs;
// when nil, only the document-wide limits (tokens, aliases, root fields,
// directives) are checked. vars are the request's variables (raw JSON or
// coerced; a variable absent from vars takes its default). The tokens are
// counted from the source the document was parsed from; a document built
// in code, without a source, has its aliases and directives counted from
// the AST and no token limit.
func Check(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, o Options) *gqlerror.Error {
	o = o.withDefaults()
	var src string
	if doc.Position != nil && doc.Position.Src != nil {
		src = doc.Position.Src.Input
	}
	if src != "" {
		c := scan(src, o.MaxTokens)
		if c.over {
			return tokensError(o)
		}
		return checkParsed(schema, doc, op, vars, true, c.aliases, c.directives, o)
	}
	aliases, directives := countWritten(doc)
	return checkParsed(schema, doc, op, vars, true, aliases, directives, o)
}

// checkParsed checks every limit but tokens on a parsed document whose
// aliases and directives have been counted. varsKnown false means the
// variables are unknown: a size read from a variable is then taken as 0,
// which makes the cost a lower bound.
func checkParsed(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, varsKnown bool, aliases, directives int, o Options) *gqlerror.Error {
	w := newWalker(schema, doc, op, vars, varsKnown, o.Multipliers)
	if op != nil {
		if d := w.depth(op.SelectionSet); over(d, o.MaxDepth) {
			return depthError(d, o)
		}
	}
	if over(aliases, o.MaxAliases) {
		return tooComplex("query alias count %d exceeds the limit of %d", aliases, o.MaxAliases)
	}
	if n := w.rootFields(); over(n, o.MaxRootFields) {
		return tooComplex("query root field count %d exceeds the limit of %d", n, o.MaxRootFields)
	}
	if over(directives, o.MaxDirectives) {
		return tooComplex("query directive count %d exceeds the limit of %d", directives, o.MaxDirectives)
	}
	if op != nil {
		if c := w.cost(); over(c, o.MaxCost) {
			return tooComplex("query estimated cost %d exceeds the limit of %d", c, o.MaxCost)
		}
	}
	return nil
}

func depthError(d int, o Options) *gqlerror.Error {
	return tooComplex("query depth %d exceeds the limit of %d", d, o.MaxDepth)
}

func tokensError(o Options) *gqlerror.Error {
	return tooComplex("query token count exceeds the limit of %d", o.MaxTokens)
}
