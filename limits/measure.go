package limits

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// scanned is what one pass of the lexer learns about a document.
type scanned struct {
	tokens     int  // tokens read, comments not counted; stops at maxTokens+1
	over       bool // more tokens than maxTokens
	lexErr     bool // the lexer failed: the parser will report it
	aliases    int  // colons outside parentheses
	directives int  // @ signs
	depth      int  // deepest nesting of selection sets, as written
}

// scan lexes query with gqlparser's lexer, counting tokens and stopping at
// the first one over maxTokens (a negative maxTokens reads everything).
//
// Aliases and directives are counted from the tokens because the AST cannot
// tell `me: me` from `me`. In an executable document a colon outside
// parentheses is always an alias (arguments, variable definitions and
// object values are all inside parentheses), and `@` always starts a
// directive. For the same reason braces outside parentheses are selection
// sets, so their nesting is the deepest field as written. The lexer treats
// commas as white space.
func scan(query string, maxTokens int) scanned {
	var s scanned
	l := lexer.New(&ast.Source{Input: query})
	parens, braces := 0, 0
	for {
		tok, err := l.ReadToken()
		if err != nil {
			s.lexErr = true
			return s
		}
		switch tok.Kind {
		case lexer.EOF:
			return s
		case lexer.Comment:
			continue
		case lexer.ParenL:
			parens++
		case lexer.ParenR:
			parens--
		case lexer.BraceL:
			if parens == 0 {
				braces++
				s.depth = max(s.depth, braces)
			}
		case lexer.BraceR:
			if parens == 0 {
				braces--
			}
		case lexer.Colon:
			if parens == 0 {
				s.aliases++
			}
		case lexer.At:
			s.directives++
		}
		s.tokens++
		if over(s.tokens, maxTokens) {
			s.over = true
			return s
		}
	}
}

// countWritten counts the aliases and directives of a document from its AST,
// for a document that has no source. An alias equal to the field name is
// invisible here.
func countWritten(doc *ast.QueryDocument) (aliases, directives int) {
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Alias != "" && sel.Alias != sel.Name {
					aliases++
				}
				directives += len(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				directives += len(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				directives += len(sel.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			directives += len(v.Directives)
		}
		walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		directives += len(f.Directives)
		walk(f.SelectionSet)
	}
	return aliases, directives
}

// walker computes depth, root fields and cost on one document. Fragment
// results are memoized, so a document whose fragments spread each other
// twice at every level costs linear time, not exponential; a fragment met
// again while it is being walked (a cycle, which validation refuses)
// contributes nothing.
type walker struct {
	schema    *ast.Schema
	doc       *ast.QueryDocument
	op        *ast.OperationDefinition
	vars      map[string]any
	varsKnown bool
	mult      map[string]Multiplier
	// parentArgs are the ParentArg names of mult, sorted: the only part of
	// an enclosing field a fragment's cost can depend on.
	parentArgs []string

	fragDepth map[string]int
	fragCost  map[string]int
	walking   map[string]bool
}

func newWalker(schema *ast.Schema, doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, varsKnown bool, mult map[string]Multiplier) *walker {
	w := &walker{
		schema:    schema,
		doc:       doc,
		op:        op,
		vars:      vars,
		varsKnown: varsKnown,
		mult:      mult,
		fragDepth: map[string]int{},
		fragCost:  map[string]int{},
		walking:   map[string]bool{},
	}
	seen := map[string]bool{}
	for _, m := range mult {
		if m.Arg == "" && m.LenArg == "" && m.ParentArg != "" && !seen[m.ParentArg] {
			seen[m.ParentArg] = true
			w.parentArgs = append(w.parentArgs, m.ParentArg)
		}
	}
	sort.Strings(w.parentArgs)
	return w
}

// depth returns the depth of the deepest field of set, a field of set being
// at depth 1.
func (w *walker) depth(set ast.SelectionSet) int {
	d := 0
	for _, sel := range set {
		var n int
		switch sel := sel.(type) {
		case *ast.Field:
			n = 1 + w.depth(sel.SelectionSet)
		case *ast.InlineFragment:
			n = w.depth(sel.SelectionSet)
		case *ast.FragmentSpread:
			n = w.spreadDepth(sel.Name)
		}
		d = max(d, n)
	}
	return d
}

func (w *walker) spreadDepth(name string) int {
	if d, ok := w.fragDepth[name]; ok {
		return d
	}
	f := w.doc.Fragments.ForName(name)
	if f == nil || w.walking[name] {
		return 0
	}
	w.walking[name] = true
	d := w.depth(f.SelectionSet)
	delete(w.walking, name)
	w.fragDepth[name] = d
	return d
}

// rootFields counts the fields written at the root level of the document's
// operations, each fragment definition counted once.
func (w *walker) rootFields() int {
	n := 0
	counted := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				n++
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if counted[sel.Name] {
					continue
				}
				counted[sel.Name] = true
				if f := w.doc.Fragments.ForName(sel.Name); f != nil {
					walk(f.SelectionSet)
				}
			}
		}
	}
	for _, op := range w.doc.Operations {
		walk(op.SelectionSet)
	}
	return n
}

// enclosing is the field whose selection is being costed, for ParentArg.
type enclosing struct {
	field *ast.Field
	def   *ast.FieldDefinition
}

// cost returns the estimated cost of the operation.
func (w *walker) cost() int {
	var root *ast.Definition
	switch {
	case w.schema == nil:
	case w.op.Operation == ast.Mutation:
		root = w.schema.Mutation
	case w.op.Operation == ast.Subscription:
		root = w.schema.Subscription
	default:
		root = w.schema.Query
	}
	return w.setCost(w.op.SelectionSet, root, enclosing{})
}

func (w *walker) setCost(set ast.SelectionSet, parent *ast.Definition, enc enclosing) int {
	total := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			total = addSat(total, w.fieldCost(sel, parent, enc))
		case *ast.InlineFragment:
			t := parent
			if sel.TypeCondition != "" {
				t = w.typeNamed(sel.TypeCondition)
			}
			total = addSat(total, w.setCost(sel.SelectionSet, t, enc))
		case *ast.FragmentSpread:
			total = addSat(total, w.spreadCost(sel.Name, enc))
		}
	}
	return total
}

func (w *walker) fieldCost(f *ast.Field, parent *ast.Definition, enc enclosing) int {
	if len(f.SelectionSet) == 0 {
		return 1
	}
	var def *ast.FieldDefinition
	var child *ast.Definition
	if parent != nil {
		def = parent.Fields.ForName(f.Name)
	}
	if def != nil {
		child = w.typeNamed(def.Type.Name())
	}
	sub := w.setCost(f.SelectionSet, child, enclosing{field: f, def: def})
	size := 1
	if parent != nil {
		if m, ok := w.mult[parent.Name+"."+f.Name]; ok {
			size = w.size(m, f, def, enc)
		}
	}
	return addSat(1, mulSat(size, sub))
}

// spreadCost is a fragment's cost where it is spread. It depends on the
// spread's place only through the ParentArg values of the enclosing field,
// so results are kept per fragment and those values.
func (w *walker) spreadCost(name string, enc enclosing) int {
	f := w.doc.Fragments.ForName(name)
	if f == nil || w.walking[name] {
		return 0
	}
	key := name
	if len(w.parentArgs) > 0 {
		b := []byte(name)
		for _, a := range w.parentArgs {
			b = append(b, 0)
			if v, ok := w.intArg(enc.field, enc.def, a); ok {
				b = strconv.AppendInt(b, int64(v), 10)
			}
		}
		key = string(b)
	}
	if c, ok := w.fragCost[key]; ok {
		return c
	}
	w.walking[name] = true
	c := w.setCost(f.SelectionSet, w.typeNamed(f.TypeCondition), enc)
	delete(w.walking, name)
	w.fragCost[key] = c
	return c
}

func (w *walker) typeNamed(name string) *ast.Definition {
	if w.schema == nil {
		return nil
	}
	return w.schema.Types[name]
}

// size is the most items field f can return under rule m.
func (w *walker) size(m Multiplier, f *ast.Field, def *ast.FieldDefinition, enc enclosing) int {
	switch {
	case m.Arg != "":
		if v, ok := w.intArg(f, def, m.Arg); ok {
			return v
		}
	case m.LenArg != "":
		if v, ok := w.lenArg(f, def, m.LenArg); ok {
			return v
		}
	case m.ParentArg != "":
		if v, ok := w.intArg(enc.field, enc.def, m.ParentArg); ok {
			return v
		}
	}
	if m.Fixed > 0 {
		return m.Fixed
	}
	return 1
}

// argValue finds the value of argument name of field f: the literal given,
// else the argument's default in the schema. ok is false when there is
// neither, or only a null.
func (w *walker) argValue(f *ast.Field, def *ast.FieldDefinition, name string) (*ast.Value, bool) {
	if f != nil {
		if a := f.Arguments.ForName(name); a != nil && a.Value != nil && a.Value.Kind != ast.NullValue {
			if a.Value.Kind != ast.Variable || w.varSet(a.Value.Raw) {
				return a.Value, true
			}
		}
	}
	if def != nil {
		if a := def.Arguments.ForName(name); a != nil && a.DefaultValue != nil && a.DefaultValue.Kind != ast.NullValue {
			return a.DefaultValue, true
		}
	}
	return nil, false
}

// varSet reports whether variable name has a value: given in the request,
// or a default in the operation. With unknown variables every variable has
// one (taken as 0 by intArg and lenArg).
func (w *walker) varSet(name string) bool {
	if !w.varsKnown {
		return true
	}
	if v, ok := w.vars[name]; ok {
		return v != nil
	}
	if w.op != nil {
		if d := w.op.VariableDefinitions.ForName(name); d != nil && d.DefaultValue != nil {
			return d.DefaultValue.Kind != ast.NullValue
		}
	}
	return false
}

// variable returns variable name's value: the request's, else the
// operation's default (a literal).
func (w *walker) variable(name string) (any, *ast.Value) {
	if v, ok := w.vars[name]; ok {
		return v, nil
	}
	if w.op != nil {
		if d := w.op.VariableDefinitions.ForName(name); d != nil {
			return nil, d.DefaultValue
		}
	}
	return nil, nil
}

// intArg is the Int value of argument name, clamped at 0.
func (w *walker) intArg(f *ast.Field, def *ast.FieldDefinition, name string) (int, bool) {
	v, ok := w.argValue(f, def, name)
	if !ok {
		return 0, false
	}
	if v.Kind == ast.Variable {
		if !w.varsKnown {
			return 0, true
		}
		raw, lit := w.variable(v.Raw)
		if lit != nil {
			return literalInt(lit)
		}
		return anyInt(raw)
	}
	return literalInt(v)
}

// lenArg is the length of list argument name.
func (w *walker) lenArg(f *ast.Field, def *ast.FieldDefinition, name string) (int, bool) {
	v, ok := w.argValue(f, def, name)
	if !ok {
		return 0, false
	}
	if v.Kind == ast.Variable {
		if !w.varsKnown {
			return 0, true
		}
		raw, lit := w.variable(v.Raw)
		if lit != nil {
			v = lit
		} else {
			if raw == nil {
				return 0, false
			}
			if rv := reflect.ValueOf(raw); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
				return rv.Len(), true
			}
			return 1, true
		}
	}
	switch v.Kind {
	case ast.NullValue:
		return 0, false
	case ast.ListValue:
		return len(v.Children), true
	default:
		return 1, true
	}
}

func literalInt(v *ast.Value) (int, bool) {
	if v == nil || v.Kind != ast.IntValue {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil {
		// Out of range: ParseInt gives the nearest bound.
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return clamp(n), true
}

// anyInt reads an Int variable as JSON decoding (json.Number or float64) or
// gqlparser's coercion (int64) left it.
func anyInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return clamp(int64(n)), true
	case int32:
		return clamp(int64(n)), true
	case int64:
		return clamp(n), true
	case uint64:
		return clamp(int64(min(n, math.MaxInt64))), true
	case float64:
		return clampFloat(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return clamp(i), true
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		return clampFloat(f)
	}
	return 0, false
}

func clampFloat(f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= math.MaxInt64:
		return math.MaxInt, true
	case f <= 0:
		return 0, true
	}
	return int(f), true
}

func clamp(n int64) int {
	if n < 0 {
		return 0
	}
	if n > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}

// addSat and mulSat add and multiply non-negative ints, saturating at
// math.MaxInt.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func mulSat(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}
