// Package auth verifies the JWTs that clients send as
// "Authorization: Bearer <jwt>" and carries the resulting Principal in the
// request context.
//
// Tokens are HS256 (signed with a configured secret) or RS256 (signed with a
// key published in a configured JWKS). The token's "sub" is the customer id;
// its "scope" lists what else the caller may do (graphql-api.md, "Security").
// A request without a token is anonymous; a token that fails any check is
// refused with an error wrapping ErrInvalidToken, which the server answers
// with HTTP 401 and UNAUTHENTICATED.
package auth

import (
	"context"
	"errors"
	"slices"
)

// ScopeSupport is the scope of support staff: it allows reading any
// customer's data.
const ScopeSupport = "support"

// ErrInvalidToken is wrapped by every refusal of Verify and FromRequest.
//
// Its own message is safe to show clients. The full chain adds the reason
// ("invalid token: token is expired") and is built from fixed strings only:
// it never quotes the token, its header or its claims, so it is safe to log
// as well.
var ErrInvalidToken = errors.New("invalid token")

// Principal is the authenticated caller.
type Principal struct {
	// Subject is the token's "sub": the customer id. Never empty.
	Subject string
	// Scopes are the token's scopes, in token order, without empty entries.
	Scopes []string
}

// HasScope reports whether p holds scope s. A nil Principal (anonymous) holds
// no scope.
func (p *Principal) HasScope(s string) bool {
	return p != nil && slices.Contains(p.Scopes, s)
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p. A nil p makes the
// context anonymous.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by WithPrincipal, or nil when the
// caller is anonymous.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
