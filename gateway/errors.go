package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/upstream"
)

// presenter is the one place where errors become what clients see: an
// upstream failure becomes UPSTREAM_UNAVAILABLE or UPSTREAM_ERROR with the
// service's name; an error that already carries a contract code is kept; any
// other is INTERNAL, logged once with an id the message repeats. Messages
// never hold upstream URLs, keys or bodies. Without suggestions, no message
// says "Did you mean".
func presenter(log *slog.Logger, suggestions bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := present(ctx, log, err)
		if !suggestions {
			// gqlgen's switch covers unknown fields only; the validator
			// also suggests arguments, directive arguments, input fields,
			// types and enum values.
			if i := strings.Index(gqlErr.Message, " Did you mean "); i >= 0 {
				gqlErr.Message = gqlErr.Message[:i]
			}
		}
		return gqlErr
	}
}

func present(ctx context.Context, log *slog.Logger, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	path := graphql.GetPath(ctx)
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue):
		code, msg := gqlerr.UpstreamError, fmt.Sprintf("the %s service answered with something unusable", ue.Service)
		if errors.Is(err, upstream.ErrUnavailable) {
			code, msg = gqlerr.UpstreamUnavailable, fmt.Sprintf("the %s service is unavailable", ue.Service)
		}
		log.WarnContext(ctx, "upstream failure", "service", ue.Service, "path", path.String(), "err", err)
		gqlErr = gqlerr.New(code, msg)
		gqlErr.Extensions["service"] = ue.Service
	case errors.As(err, &gqlErr) && gqlerr.CodeOf(gqlErr) != "":
		// Copy: the same error value may be returned for several fields.
		c := *gqlErr
		gqlErr = &c
	default:
		id := newID()
		log.ErrorContext(ctx, "internal error", "error_id", id, "path", path.String(), "err", err)
		gqlErr = gqlerr.New(gqlerr.Internal, "internal error (id "+id+")")
	}
	if gqlErr.Path == nil {
		gqlErr.Path = path
	}
	return gqlErr
}

// recoverFunc turns a panic in a resolver into an INTERNAL error for that
// field; the stack goes to the log, never to the client.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		id := newID()
		log.ErrorContext(ctx, "panic in resolver", "error_id", id, "panic", fmt.Sprint(p))
		return gqlerr.New(gqlerr.Internal, "internal error (id "+id+")")
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
