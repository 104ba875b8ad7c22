package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults and limits of a Verifier.
const (
	// DefaultLeeway is the clock skew allowed on nbf when Options.Leeway
	// is zero: enough for unsynchronised clocks. exp gets none: the
	// contract refuses an expired token, and one second after exp it is.
	DefaultLeeway = 30 * time.Second

	// DefaultJWKSRefreshInterval is how often the JWKS is fetched again when
	// Options.JWKSRefreshInterval is zero. It bounds how long a key removed
	// from the JWKS (revoked) is still accepted; new keys need not wait for
	// it, an unknown kid triggers a refresh.
	DefaultJWKSRefreshInterval = 5 * time.Minute

	// DefaultJWKSUnknownKIDInterval is the least time between two refreshes
	// triggered by an unknown kid when Options.JWKSUnknownKIDInterval is
	// zero, so that tokens with made-up kids cannot make the gateway hammer
	// the key server.
	DefaultJWKSUnknownKIDInterval = 30 * time.Second

	// DefaultJWKSFetchTimeout bounds one JWKS fetch, and is the timeout of
	// the HTTP client made when Options.HTTPClient is nil.
	DefaultJWKSFetchTimeout = 10 * time.Second

	// MaxTokenBytes is the longest token Verify parses; longer ones are
	// refused unparsed.
	MaxTokenBytes = 8 << 10

	// MinHS256SecretBytes is the shortest HS256 secret that RFC 7518 §3.2
	// allows (as long as the hash output). A shorter one is still accepted —
	// refusing to start would take a whole deployment down over it — but
	// NewVerifier logs a warning.
	MinHS256SecretBytes = 32
)

// Options configure a Verifier. At least one of HS256Secret and JWKSURL must
// be set; each enables exactly one algorithm.
type Options struct {
	// HS256Secret enables HS256 tokens signed with it (JWT_HS256_SECRET).
	// Should be at least MinHS256SecretBytes long.
	HS256Secret []byte

	// JWKSURL enables RS256 tokens signed by a key of the JWK Set at this
	// http(s) URL (JWT_JWKS_URL): the key its header kid names, or, without
	// a kid, any RS256 signing key of the set. The set is fetched by
	// NewVerifier, again every JWKSRefreshInterval, and when a token names a
	// kid not in it (at most once per JWKSUnknownKIDInterval).
	JWKSURL string

	// HTTPClient fetches the JWKS. Nil means a client with a
	// DefaultJWKSFetchTimeout timeout.
	HTTPClient *http.Client

	// Leeway is the clock skew allowed on nbf (never on exp). Zero means
	// DefaultLeeway; a negative value allows none.
	Leeway time.Duration

	// JWKSRefreshInterval is the period of the background JWKS refresh.
	// Zero means DefaultJWKSRefreshInterval.
	JWKSRefreshInterval time.Duration

	// JWKSUnknownKIDInterval is the least time between refreshes triggered
	// by an unknown kid (and by retries while not Ready). Zero means
	// DefaultJWKSUnknownKIDInterval; a negative value disables such
	// refreshes, leaving only the periodic one.
	JWKSUnknownKIDInterval time.Duration

	// Logger receives JWKS fetch failures. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock for exp, nbf and iat. Nil means time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use. Close it to
// stop the background JWKS refresh.
type Verifier struct {
	secret  []byte
	methods []string
	parser  *jwt.Parser
	now     func() time.Time
	jwks    *jwks // nil without Options.JWKSURL
}

// NewVerifier returns a Verifier for o.
//
// With a JWKS URL it makes the first fetch before returning, waiting at most
// until ctx is done. A failed or unfinished first fetch is not an error: the
// gateway should start and report not ready rather than crash-loop while
// the key server is down. Ready tells, and the fetch is retried in the
// background (at the JWKSUnknownKIDInterval pace) until keys arrive; until
// then RS256 tokens are refused. Errors are returned only for options that
// can never work: nothing configured, a short secret, a URL that is not
// http(s).
func NewVerifier(ctx context.Context, o Options) (*Verifier, error) {
	if len(o.HS256Secret) == 0 && o.JWKSURL == "" {
		return nil, errors.New("new verifier: neither an hs256 secret nor a jwks url is configured")
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	o.Leeway = max(o.Leeway, 0)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JWKSRefreshInterval <= 0 {
		o.JWKSRefreshInterval = DefaultJWKSRefreshInterval
	}
	if o.JWKSUnknownKIDInterval == 0 {
		o.JWKSUnknownKIDInterval = DefaultJWKSUnknownKIDInterval
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultJWKSFetchTimeout}
	}

	v := &Verifier{}
	if len(o.HS256Secret) > 0 {
		if len(o.HS256Secret) < MinHS256SecretBytes {
			o.Logger.Warn("JWT HS256 secret is shorter than RFC 7518 requires; use at least 32 random bytes", "bytes", len(o.HS256Secret), "want", MinHS256SecretBytes)
		}
		v.secret = slices.Clone(o.HS256Secret)
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if o.JWKSURL != "" {
		j, err := startJWKS(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
		v.jwks = j
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg())
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(o.Now),
		jwt.WithStrictDecoding(),
	)
	v.now = o.Now
	return v, nil
}

// Close stops the background JWKS refresh. Tokens signed with keys already
// fetched are still verified. Close may be called more than once.
func (v *Verifier) Close() {
	if v.jwks != nil {
		v.jwks.close()
	}
}

// Ready reports whether the Verifier can verify every algorithm it was
// configured for: nil without a JWKS URL, otherwise nil once the JWKS has
// been fetched and holds at least one key. Meant for a readiness probe.
func (v *Verifier) Ready() error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.ready()
}

// Reasons for a refusal, wrapped together with ErrInvalidToken. Besides these,
// the jwt sentinels jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid,
// jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet and
// jwt.ErrTokenRequiredClaimMissing (sub) are used.
var (
	errTooLong        = errors.New("token is too long")
	errAlgorithm      = errors.New("signing algorithm is not accepted")
	errNoKey          = errors.New("no signing key for the token's kid")
	errSeveralHeaders = errors.New("several authorization headers")
	errNotBearer      = errors.New("authorization scheme is not bearer")
	errEmptyToken     = errors.New("empty bearer token")
)

func refuse(reason error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, reason)
}

// Verify checks token and returns its Principal, or an error wrapping
// ErrInvalidToken. A token is refused when it is malformed or longer than
// MaxTokenBytes; when its alg is not one configured (so never "none", and
// never HS256 checked against a JWKS key); when its signature does not
// verify; when an RS256 token names a kid the JWKS does not hold (without a
// kid, every RS256 key of the set is tried); when exp is past (no leeway: at
// exp the token is expired) or nbf in the future (beyond the leeway); when
// sub is missing or empty, or scope is neither a string nor an array of
// strings. The contract lists what is refused — expired, unsigned, wrongly
// signed, another algorithm, malformed — so a token without exp is
// accepted, and iat, which RFC 7519 makes informational, is not checked.
//
// ctx bounds the JWKS refresh an unknown kid may trigger.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	switch {
	case token == "":
		return nil, refuse(jwt.ErrTokenMalformed)
	case len(token) > MaxTokenBytes:
		return nil, refuse(errTooLong)
	}
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyfunc(ctx))
	if err != nil {
		return nil, refuse(v.reason(tok, err))
	}
	if c.ExpiresAt != nil && !v.now().Before(c.ExpiresAt.Time) {
		return nil, refuse(jwt.ErrTokenExpired)
	}
	if c.Subject == "" {
		return nil, refuse(fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing))
	}
	return &Principal{Subject: c.Subject, Scopes: slices.Clip([]string(c.Scope))}, nil
}

// keyfunc picks the key by the token's algorithm, which the parser has
// already checked against v.methods: the HS256 secret for HS256, a JWKS key
// for RS256. A JWKS key is never handed to the HMAC method.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		switch alg := t.Method.Alg(); {
		case alg == jwt.SigningMethodHS256.Alg() && v.secret != nil:
			return v.secret, nil
		case alg == jwt.SigningMethodRS256.Alg() && v.jwks != nil:
			return v.jwks.key(ctx, t)
		default:
			return nil, errAlgorithm
		}
	}
}

// reason maps a parse error to a fixed-text reason, so that nothing from
// the token (alg, kid, JSON fragments) reaches the error message.
func (v *Verifier) reason(tok *jwt.Token, err error) error {
	for _, own := range []error{errAlgorithm, errNoKey} {
		if errors.Is(err, own) {
			return own
		}
	}
	if tok != nil && tok.Method != nil && !slices.Contains(v.methods, tok.Method.Alg()) {
		return errAlgorithm
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return jwt.ErrTokenMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing or unknown to the jwt package.
		return errAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return jwt.ErrTokenSignatureInvalid
	}
	for _, s := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet} {
		if errors.Is(err, s) {
			return s
		}
	}
	return jwt.ErrTokenInvalidClaims
}

// FromRequest authenticates r by its Authorization header. No header: nil,
// nil (anonymous). One header "Bearer <jwt>" (scheme case-insensitive): the
// verified Principal or an error wrapping ErrInvalidToken. Anything else (an
// empty header, another scheme, an empty token, several Authorization
// headers) is refused: a client that sends credentials wants them checked,
// not ignored.
func (v *Verifier) FromRequest(r *http.Request) (*Principal, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, refuse(errSeveralHeaders)
	}
	scheme, token, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, refuse(errNotBearer)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, refuse(errEmptyToken)
	}
	return v.Verify(r.Context(), token)
}
