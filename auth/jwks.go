package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// jwks holds the RS256 keys of one JWK Set URL. Fetching, the periodic
// refresh and the rate-limited refresh on an unknown kid are jwkset's; this
// type adds the first fetch bounded by the caller's context, readiness, and
// retries while no keys are held.
type jwks struct {
	url    string // redacted, for messages
	log    *slog.Logger
	life   context.Context // ends with close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// loaded is set once the jwkset storage exists, that is after the first
	// fetch, successful or not.
	loaded atomic.Pointer[jwksKeys]

	mu      sync.Mutex
	lastErr error // of the latest failed fetch
}

type jwksKeys struct {
	store jwkset.Storage
	kf    keyfunc.Keyfunc
}

func startJWKS(ctx context.Context, o Options) (*jwks, error) {
	u, err := url.Parse(o.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("jwks url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jwks url %s: not an absolute http or https url", u.Redacted())
	}
	// The refresh outlives NewVerifier's ctx: it ends with Close.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &jwks{
		url:    u.Redacted(),
		log:    o.Logger.With("component", "auth", "jwks_url", u.Redacted()),
		life:   life,
		cancel: cancel,
	}

	var limiter *rate.Limiter
	if o.JWKSUnknownKIDInterval > 0 {
		limiter = rate.NewLimiter(rate.Every(o.JWKSUnknownKIDInterval), 1)
	}
	first := make(chan error, 1)
	fail := func(err error) {
		j.mu.Lock()
		j.lastErr = err
		j.mu.Unlock()
		first <- err
	}
	j.wg.Go(func() {
		// NewStorageFromHTTP makes the first fetch synchronously with
		// life, which ctx cannot cut short; so it runs here and NewVerifier
		// stops waiting for it when ctx is done.
		remote, err := jwkset.NewStorageFromHTTP(o.JWKSURL, jwkset.HTTPClientStorageOptions{
			Client:                    o.HTTPClient,
			Ctx:                       life,
			HTTPTimeout:               DefaultJWKSFetchTimeout,
			NoErrorReturnFirstHTTPReq: true,
			RefreshErrorHandler:       j.fetchFailed,
			RefreshInterval:           o.JWKSRefreshInterval,
		})
		if err != nil {
			fail(err)
			return
		}
		store, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
			HTTPURLs: map[string]jwkset.Storage{o.JWKSURL: remote},
			// Also bounds the refresh a request waits for: a request with
			// an unknown kid waits at most this long, and at once fails
			// when the limiter has no token for that long.
			RateLimitWaitMax:  DefaultJWKSFetchTimeout,
			RefreshUnknownKID: limiter,
		})
		if err != nil {
			fail(err)
			return
		}
		kf, err := keyfunc.New(keyfunc.Options{Ctx: life, Storage: store})
		if err != nil {
			fail(err)
			return
		}
		j.loaded.Store(&jwksKeys{store: store, kf: kf})
		first <- nil
		if limiter != nil {
			j.retryUntilReady(life, o.JWKSUnknownKIDInterval)
		}
	})

	select {
	case err := <-first:
		if err != nil {
			j.close()
			return nil, fmt.Errorf("jwks %s: %w", j.url, err)
		}
	case <-ctx.Done():
		j.fetchFailed(ctx, fmt.Errorf("first fetch unfinished: %w", ctx.Err()))
	}
	return j, nil
}

// retryUntilReady, while no keys are held, reads a kid that is not there
// once per interval: by jwkset's contract that refreshes the set (under the
// same rate limit as tokens with unknown kids).
func (j *jwks) retryUntilReady(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for j.ready() != nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = j.loaded.Load().store.KeyRead(ctx, "")
		}
	}
}

func (j *jwks) fetchFailed(ctx context.Context, err error) {
	j.mu.Lock()
	j.lastErr = err
	j.mu.Unlock()
	if j.life.Err() == nil { // a fetch cut short by Close is no news
		j.log.WarnContext(ctx, "jwks fetch failed", "err", err)
	}
}

func (j *jwks) ready() error {
	k := j.loaded.Load()
	if k != nil {
		if all, err := k.store.KeyReadAll(context.Background()); err == nil && len(all) > 0 {
			return nil
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lastErr != nil {
		return fmt.Errorf("jwks %s: no keys: %w", j.url, j.lastErr)
	}
	if k == nil {
		return fmt.Errorf("jwks %s: first fetch unfinished", j.url)
	}
	return fmt.Errorf("jwks %s: holds no usable keys", j.url)
}

// key returns the RSA public key the token's kid names or, for a token
// without a kid, every RS256 signing key of the set (the parser accepts
// the token when one of them verifies it).
func (j *jwks) key(ctx context.Context, t *jwt.Token) (any, error) {
	k := j.loaded.Load()
	if k == nil {
		return nil, errNoKey
	}
	kid, present := t.Header["kid"]
	if _, ok := kid.(string); present && !ok {
		return nil, errNoKey // RFC 7515: a kid is a string
	}
	if !present || kid == "" {
		all, err := k.store.KeyReadAll(ctx)
		if err != nil {
			return nil, errors.Join(errNoKey, err)
		}
		var set jwt.VerificationKeySet
		for _, jwk := range all {
			m := jwk.Marshal()
			if (m.ALG != "" && m.ALG != jwkset.AlgRS256) || (m.USE != "" && m.USE != jwkset.UseSig) {
				continue
			}
			if pub, ok := jwk.Key().(*rsa.PublicKey); ok {
				set.Keys = append(set.Keys, pub)
			}
		}
		if len(set.Keys) == 0 {
			return nil, errNoKey
		}
		return set, nil
	}
	// keyfunc also refuses a JWK whose own alg differs from the token's.
	key, err := k.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, errors.Join(errNoKey, err)
	}
	if _, ok := key.(*rsa.PublicKey); !ok {
		return nil, errNoKey
	}
	return key, nil
}

func (j *jwks) close() {
	j.cancel()
	j.wg.Wait()
}
