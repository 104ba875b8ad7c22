package gqlhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
)

// complexityLimitCode is what gqlgen's extension.ComplexityLimit sets; the
// contract calls it QUERY_TOO_COMPLEX.
const complexityLimitCode = "COMPLEXITY_LIMIT_EXCEEDED"

// unauthenticatedMessage is the only thing a refused token is told.
const unauthenticatedMessage = "invalid or expired token"

// failure is a request refused before execution.
type failure struct {
	status int
	err    *gqlerror.Error
}

func fail(status int, code gqlerr.Code, message string) *failure {
	return &failure{status: status, err: gqlerr.New(code, message)}
}

// reject answers f and logs it at debug level.
func (o *Options) reject(w http.ResponseWriter, r *http.Request, contentType string, f *failure) {
	o.logRejected(r, f.status, f.err)
	if err := writeErrors(w, contentType, f.status, nil, f.err); err != nil {
		o.log().LogAttrs(r.Context(), slog.LevelError, "encode graphql response", slog.Any("error", err))
	}
}

func (o *Options) logRejected(r *http.Request, status int, e *gqlerror.Error) {
	log := o.log()
	if !log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	log.LogAttrs(r.Context(), slog.LevelDebug, "graphql request rejected",
		slog.String("method", r.Method),
		slog.Int("status", status),
		slog.String("code", string(gqlerr.CodeOf(e))),
		slog.String("reason", e.Message))
}

// serve runs the part both transports share, once params are decoded and
// checked: authentication, the pre-check, parsing and validation, the
// operation-type rules, execution and the response.
func (o *Options) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, contentType string, params *graphql.RawParams, overGET bool) {
	ctx := r.Context()
	if o.Authenticate != nil {
		actx, err := o.Authenticate(r)
		if err != nil {
			o.log().LogAttrs(ctx, slog.LevelDebug, "authentication failed", slog.Any("error", err))
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			_ = writeErrors(w, contentType, http.StatusUnauthorized, nil,
				gqlerr.New(gqlerr.Unauthenticated, unauthenticatedMessage))
			return
		}
		if actx != nil {
			ctx = actx
		}
	}

	if o.PreCheck != nil && params.Query != "" {
		if e := o.PreCheck(params.Query); e != nil {
			if gqlerr.CodeOf(e) == "" {
				e = withCode(e, gqlerr.BadRequest)
			}
			o.reject(w, r, contentType, &failure{status: http.StatusBadRequest, err: e})
			return
		}
	}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if len(errs) > 0 || opCtx == nil || opCtx.Operation == nil {
		o.requestErrors(w, r, exec, ctx, contentType, opCtx, params, errs)
		return
	}

	switch opCtx.Operation.Operation {
	case ast.Mutation:
		if overGET {
			// GraphQL-over-HTTP: a mutation over GET is 405 with Allow.
			w.Header().Set("Allow", http.MethodPost)
			o.reject(w, r, contentType, fail(http.StatusMethodNotAllowed, gqlerr.BadRequest,
				"mutations are not allowed over GET; use POST"))
			return
		}
	case ast.Subscription:
		o.reject(w, r, contentType, fail(http.StatusBadRequest, gqlerr.BadRequest,
			"subscriptions are not supported over HTTP POST or GET"))
		return
	}
	if usesIncrementalDelivery(opCtx.Doc, opCtx.Operation) {
		o.reject(w, r, contentType, fail(http.StatusBadRequest, gqlerr.BadRequest,
			"@defer and @stream are not supported over HTTP POST or GET"))
		return
	}

	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	o.writeResult(ctx, w, contentType, responses(ctx))
}

// requestErrors answers errors from CreateOperationContext: parse,
// validation, operation resolution, variable coercion and the
// operation-parameter and operation-context mutators (APQ, limits). Codes
// are brought into the contract's set, the errors pass the executor's
// presenter and response middleware (DispatchError), and the status is
// gqlerr.HTTPStatus of the first error's code.
func (o *Options) requestErrors(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, ctx context.Context, contentType string, opCtx *graphql.OperationContext, params *graphql.RawParams, errs gqlerror.List) {
	list := make(gqlerror.List, 0, len(errs))
	unresolved := opCtx != nil && opCtx.Doc != nil && opCtx.Operation == nil
	for _, e := range errs {
		if e == nil {
			continue
		}
		list = append(list, contractError(e, unresolved, params.OperationName))
	}
	if len(list) == 0 {
		// The executor refused without saying why; not expected of gqlgen.
		list = gqlerror.List{gqlerr.New(gqlerr.Internal, "internal server error")}
		o.log().LogAttrs(ctx, slog.LevelError, "operation context not created and no error given")
	}

	dctx := ctx
	if opCtx != nil {
		dctx = graphql.WithOperationContext(ctx, opCtx)
	}
	var extensions map[string]any
	if resp := exec.DispatchError(dctx, list); resp != nil {
		if presented := withCodes(resp.Errors, gqlerr.BadRequest); len(presented) > 0 {
			list = presented
		}
		extensions = resp.Extensions
	}
	status := gqlerr.HTTPStatus(gqlerr.CodeOf(list[0]))
	o.logRejected(r, status, list[0])
	if err := writeErrors(w, contentType, status, extensions, list...); err != nil {
		o.log().LogAttrs(ctx, slog.LevelError, "encode graphql response", slog.Any("error", err))
	}
}

// contractError returns e (copied when changed) with a contract code and a
// bounded message.
func contractError(e *gqlerror.Error, unresolved bool, operationName string) *gqlerror.Error {
	code := gqlerr.CodeOf(e)
	switch {
	case unresolved:
		// GraphQL spec, GetOperation: a request error, not a validation
		// error (the document itself is valid). Apollo calls it
		// OPERATION_RESOLUTION_FAILURE with 400; the contract's nearest code
		// is BAD_REQUEST. The message does not repeat the client's name.
		c := withCode(e, gqlerr.BadRequest)
		c.Locations, c.Path = nil, nil
		if operationName == "" {
			c.Message = "operationName is required: the document has more than one operation"
		} else {
			c.Message = "operationName does not name an operation in the document"
		}
		return c
	case code == complexityLimitCode:
		e = withCode(e, gqlerr.QueryTooComplex)
	case !gqlerr.Known(code):
		// No code, or one the contract does not know: the request was
		// refused before execution, so it is a bad request.
		e = withCode(e, gqlerr.BadRequest)
	}
	if len(e.Message) > maxMessageBytes {
		c := *e
		c.Message = truncate(e.Message, maxMessageBytes)
		e = &c
	}
	return e
}

// writeResult answers an execution result. The status is 200 whenever the
// result has a data entry, null or not (GraphQL-over-HTTP: data present
// means 2xx, for both media types). A result without a data entry (the
// executor refused before resolving anything) is 200 for application/json
// and, for application/graphql-response+json, the status of its first
// error's code, as the spec requires 4xx or 5xx there.
func (o *Options) writeResult(ctx context.Context, w http.ResponseWriter, contentType string, resp *graphql.Response) {
	if resp == nil {
		// The executor ends a stream with nil; for a one-shot operation
		// that happens only when the context is already done, most often
		// because the client went away.
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			o.log().LogAttrs(ctx, slog.LevelError, "executor returned no response", slog.Any("ctx_err", err))
		}
		_ = writeErrors(w, contentType, http.StatusInternalServerError, nil,
			gqlerr.New(gqlerr.Internal, "internal server error"))
		return
	}
	errs := withCodes(resp.Errors, gqlerr.Internal)
	if n := len(resp.Errors) - countCoded(resp.Errors); n > 0 {
		o.log().LogAttrs(ctx, slog.LevelWarn, "graphql errors without extensions.code sent as INTERNAL",
			slog.Int("count", n))
	}
	status := http.StatusOK
	body := resultBody{Errors: errs, Data: resp.Data, Extensions: resp.Extensions}
	if len(resp.Data) == 0 {
		if len(errs) == 0 {
			body.Data = []byte("null")
		} else if contentType == ContentTypeGraphQLResponse {
			status = gqlerr.HTTPStatus(gqlerr.CodeOf(errs[0]))
		}
	}
	if err := writeJSON(w, contentType, status, body); err != nil {
		o.log().LogAttrs(ctx, slog.LevelError, "encode graphql response", slog.Any("error", err))
	}
}

func countCoded(errs gqlerror.List) int {
	n := 0
	for _, e := range errs {
		if e != nil && gqlerr.CodeOf(e) != "" {
			n++
		}
	}
	return n
}

// usesIncrementalDelivery reports whether op (with the fragments it spreads)
// carries @defer or @stream. These transports answer one response per
// request; executing such an operation would send only its first part.
func usesIncrementalDelivery(doc *ast.QueryDocument, op *ast.OperationDefinition) bool {
	if doc == nil || op == nil {
		return false
	}
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	incremental := func(ds ast.DirectiveList) bool {
		for _, d := range ds {
			if d != nil && (d.Name == "defer" || d.Name == "stream") {
				return true
			}
		}
		return false
	}
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if incremental(s.Directives) || walk(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if incremental(s.Directives) || walk(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if incremental(s.Directives) {
					return true
				}
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				if f := doc.Fragments.ForName(s.Name); f != nil && walk(f.SelectionSet) {
					return true
				}
			}
		}
		return false
	}
	return walk(op.SelectionSet)
}
