package gqlhttp

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/tutti-gw/tutti/gqlerr"
)

// Recover wraps next so that a panic in the HTTP layer becomes a 500 with
// one INTERNAL error ("internal server error"), in the media type the
// client's Accept asks for, and the panic value and stack are logged at
// error level with logger (nil: slog.Default()); the body never holds
// either.
//
// When the handler had already started its response, the status can no
// longer change: the panic is logged and the connection aborted
// (http.ErrAbortHandler), so the client sees a truncated response rather
// than a complete-looking one. A panic with http.ErrAbortHandler itself is
// passed on untouched.
//
// Panics inside resolvers never get here: gqlgen's recover func handles
// them per field.
func Recover(logger *slog.Logger, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.LogAttrs(r.Context(), slog.LevelError, "panic serving http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())))
			if tw.started {
				panic(http.ErrAbortHandler)
			}
			clear(w.Header()) // whatever the handler meant to send, e.g. a Content-Length
			WriteError(w, r, http.StatusInternalServerError,
				gqlerr.New(gqlerr.Internal, "internal server error"))
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started. Unwrap lets
// http.ResponseController reach the connection's own writer.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(status int) {
	if status >= 200 {
		t.started = true
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		t.started = true
		f.Flush()
	}
}

// Hijack keeps WebSocket upgrades working behind the middleware.
func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.started = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
