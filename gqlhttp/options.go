// Package gqlhttp holds the HTTP transports of the gateway: gqlgen
// graphql.Transport implementations for POST and GET /graphql that enforce
// the request rules of graphql-api.md ("Limits", "Security") and the
// GraphQL-over-HTTP status rules, plus WriteError and Recover for the other
// HTTP layers.
//
// gqlgen's own transports are not used because they echo the request body in
// error messages, do not bound or decode the body as the contract requires,
// and map statuses differently.
//
// Wiring:
//
//	srv := handler.New(es)
//	srv.AddTransport(gqlhttp.POST{Options: opts}) // answers every POST
//	srv.AddTransport(gqlhttp.GET{Options: opts})  // every GET but WebSocket upgrades
//
// A transport that must take some of these requests (SSE, WebSocket) has to
// be added before these two: gqlgen picks the first transport whose Supports
// says yes, and POST says yes to every POST so that a wrong Content-Type is
// answered 415 here rather than gqlgen's code-less "transport not supported".
//
// Checks run in the order of the contract: the request (method rules,
// Content-Type, Content-Encoding, size, UTF-8, JSON shape, field types), the
// token (Options.Authenticate), Options.PreCheck, parsing, validation,
// operation-context mutators (limits, APQ), the operation type, then
// execution. The first failing check answers; later ones never run.
package gqlhttp

import (
	"context"
	"log/slog"
	"math"
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DefaultMaxBodyBytes is the default limit on a request body, measured after
// decompression (graphql-api.md, "Limits"): 2 MiB.
const DefaultMaxBodyBytes int64 = 2 << 20

// Options configure both transports. The zero value is usable: a 2 MiB body
// limit, anonymous requests, no pre-check, slog.Default for logs.
type Options struct {
	// MaxBodyBytes is the largest accepted body in bytes after
	// decompression; a larger one is answered 413 BAD_REQUEST. Zero or
	// negative means DefaultMaxBodyBytes. The compressed bytes read off the
	// wire are bounded too (the limit plus 1/8 plus 64 KiB), so a stream of
	// compressed data that never produces output cannot be fed forever.
	MaxBodyBytes int64

	// Authenticate runs after the request checks and before anything is
	// parsed. A nil func makes every request anonymous. A non-nil error
	// refuses the request whole: HTTP 401, one UNAUTHENTICATED error with a
	// fixed message ("invalid or expired token"), no data, nothing parsed or
	// executed; the error itself is logged at debug level (so it must not
	// hold the token), never sent. On success the returned context (which
	// must derive from r.Context()) is the operation's context; a nil
	// context means r.Context().
	//
	// A request without credentials is not an error: return r.Context()
	// (anonymous) and let the fields that need a principal refuse.
	Authenticate func(r *http.Request) (context.Context, error)

	// PreCheck gets the query text as sent, after Authenticate and before
	// parsing, for cheap lexical limits. It is not called when the query
	// text is empty (an APQ request by hash alone; its text was checked
	// when it was registered). A non-nil error answers HTTP 400 with that
	// error alone; an error without extensions.code gets BAD_REQUEST.
	PreCheck func(query string) *gqlerror.Error

	// Logger receives the transport's logs, used as given (the caller
	// names the component). Nil means slog.Default() with
	// component=gqlhttp. Rejected requests are logged at debug level with
	// the reason, never the body or credentials.
	Logger *slog.Logger
}

func (o *Options) maxBody() int64 {
	if o.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	// Keep limit+1 and the compressed allowance representable.
	return min(o.MaxBodyBytes, math.MaxInt64/4)
}

// maxWireBytes bounds the bytes read off the connection for a compressed
// body. Incompressible data grows a little when deflated (5 bytes per 64 KiB
// stored block, plus headers), so a body just under the limit must still fit.
func (o *Options) maxWireBytes() int64 {
	m := o.maxBody()
	return m + m/8 + 64<<10
}

func (o *Options) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default().With("component", "gqlhttp")
}
