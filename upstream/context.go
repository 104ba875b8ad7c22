package upstream

import (
	"context"
	"sync"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	userIDKey
	metaRecordKey
)

// WithRequestID returns a context whose upstream calls carry
// X-Request-Id: id. One GraphQL request uses one id for all its calls.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id set by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// WithUserID returns a context whose calls to services with
// Options.SendUserID carry X-User-Id: sub (the token's subject). An empty
// sub removes it, which is how calls made for no one in particular drop it
// (a ctx that carries none is returned as it is).
func WithUserID(ctx context.Context, sub string) context.Context {
	if sub == "" && UserID(ctx) == "" {
		return ctx
	}
	return context.WithValue(ctx, userIDKey, sub)
}

// UserID returns the subject set by WithUserID, or "".
func UserID(ctx context.Context) string {
	s, _ := ctx.Value(userIDKey).(string)
	return s
}

// MetaRecord collects the Meta of the answers to calls made with a context
// from RecordMeta, so a caller of a typed method (which returns only data)
// can still honour Cache-Control. Safe for concurrent use: batch methods
// run their chunks in parallel.
type MetaRecord struct {
	mu     sync.Mutex
	calls  int
	maxAge int
}

// RecordMeta returns a context whose successful calls report their Meta to
// the returned record.
func RecordMeta(ctx context.Context) (context.Context, *MetaRecord) {
	r := &MetaRecord{maxAge: -1}
	return context.WithValue(ctx, metaRecordKey, r), r
}

func (r *MetaRecord) add(m Meta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if m.MaxAge >= 0 && (r.maxAge < 0 || m.MaxAge < r.maxAge) {
		r.maxAge = m.MaxAge
	}
}

// MaxAge is the smallest Cache-Control max-age (seconds) among the recorded
// answers that carried one, or -1 when none did.
func (r *MetaRecord) MaxAge() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxAge
}

// Calls is the number of answers recorded.
func (r *MetaRecord) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func metaRecordFrom(ctx context.Context) *MetaRecord {
	r, _ := ctx.Value(metaRecordKey).(*MetaRecord)
	return r
}
