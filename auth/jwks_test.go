package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// rsaKeys are generated once: 2048-bit generation is slow.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// keyServer serves a JWK Set over HTTP and counts the fetches.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	set     []byte // the JWKS body
	status  int    // answered instead of the set when not 200
	release chan struct{}

	fetches atomic.Int64
	fetched chan struct{} // signalled after every fetch is counted
}

// jwk is one RSA public key in JWK form.
func jwk(kid string, k *rsa.PrivateKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()),
		"e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func newKeyServer(t *testing.T, keys ...map[string]any) *keyServer {
	t.Helper()
	ks := &keyServer{status: http.StatusOK, fetched: make(chan struct{}, 1)}
	ks.serve(keys...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		release, status, set := ks.release, ks.status, ks.set
		ks.mu.Unlock()
		if release != nil {
			<-release
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
		} else {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(set)
		}
		ks.fetches.Add(1)
		select {
		case ks.fetched <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(ks.Close)
	return ks
}

// serve makes the server answer with these keys from now on.
func (ks *keyServer) serve(keys ...map[string]any) {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	ks.mu.Lock()
	ks.set, ks.status = b, http.StatusOK
	ks.mu.Unlock()
}

func (ks *keyServer) fail(status int) {
	ks.mu.Lock()
	ks.status = status
	ks.mu.Unlock()
}

// waitFetches waits until the server has answered at least n fetches.
func (ks *keyServer) waitFetches(t *testing.T, n int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for ks.fetches.Load() < n {
		select {
		case <-ks.fetched:
		case <-deadline:
			t.Fatalf("waited for %d JWKS fetches, got %d", n, ks.fetches.Load())
		}
	}
}

// eventually waits until cond holds, checking it every few milliseconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited in vain for %s", what)
		}
	}
}

func newJWKSVerifier(t *testing.T, ctx context.Context, o Options) *Verifier {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	o.Logger = quietLogger()
	v, err := NewVerifier(ctx, o)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

func rs256(t *testing.T, kid string, k *rsa.PrivateKey, edit func(jwt.MapClaims)) string {
	t.Helper()
	h := map[string]any{}
	if kid != "" {
		h["kid"] = kid
	}
	return sign(t, jwt.SigningMethodRS256, k, h, claimsAt(edit))
}

func TestJWKSVerifierAcceptsRS256(t *testing.T) {
	keys := rsaKeys()
	ks := newKeyServer(t, jwk("k1", keys[0]), jwk("k2", keys[1]))
	v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL})
	if err := v.Ready(); err != nil {
		t.Fatalf("Ready after a successful first fetch: %v", err)
	}
	tests := []struct {
		name  string
		token string
	}{
		{"a token signed with the first key", rs256(t, "k1", keys[0], func(c jwt.MapClaims) { c["scope"] = "support" })},
		{"a token signed with the second key", rs256(t, "k2", keys[1], func(c jwt.MapClaims) { c["scope"] = "support" })},
		// No kid: every RS256 key of the set is tried.
		{"a token without kid signed with the first key", rs256(t, "", keys[0], func(c jwt.MapClaims) { c["scope"] = "support" })},
		{"a token without kid signed with the second key", rs256(t, "", keys[1], func(c jwt.MapClaims) { c["scope"] = "support" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != "c-1" || !p.HasScope(ScopeSupport) {
				t.Errorf("principal %+v", p)
			}
		})
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1: known kids need no refresh", n)
	}
}

func TestJWKSVerifierRefusesBadRS256Tokens(t *testing.T) {
	keys := rsaKeys()
	ks := newKeyServer(t, jwk("k1", keys[0]))
	// Unknown-kid refreshes are disabled so every case sees the same set.
	v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL, JWKSUnknownKIDInterval: -1})
	both := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL, HS256Secret: testSecret, JWKSUnknownKIDInterval: -1})

	pubDER, err := x509.MarshalPKIXPublicKey(&keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	kid1 := map[string]any{"kid": "k1"}

	tests := []struct {
		name   string
		v      *Verifier
		token  string
		reason error
	}{
		{"an HS256 token keyed with the public key PEM (alg confusion)", v, sign(t, jwt.SigningMethodHS256, pubPEM, kid1, claimsAt(nil)), errAlgorithm},
		{"an HS256 token keyed with the public key DER (alg confusion)", v, sign(t, jwt.SigningMethodHS256, pubDER, kid1, claimsAt(nil)), errAlgorithm},
		{"an HS256 token keyed with the public key PEM when a secret is configured too", both, sign(t, jwt.SigningMethodHS256, pubPEM, kid1, claimsAt(nil)), jwt.ErrTokenSignatureInvalid},
		{"an HS256 token keyed with the secret when only a JWKS is configured", v, sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(nil)), errAlgorithm},
		{"an RS512 token from a known key", v, sign(t, jwt.SigningMethodRS512, keys[0], kid1, claimsAt(nil)), errAlgorithm},
		{"a PS256 token from a known key", v, sign(t, jwt.SigningMethodPS256, keys[0], kid1, claimsAt(nil)), errAlgorithm},
		{"an alg none token with a known kid", v, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid1, claimsAt(nil)), errAlgorithm},
		{"a token with an unknown kid", v, rs256(t, "k9", keys[0], nil), errNoKey},
		{"a token without kid signed by a key not in the set", v, rs256(t, "", keys[1], nil), jwt.ErrTokenSignatureInvalid},
		{"a token whose kid is a number", v, sign(t, jwt.SigningMethodRS256, keys[0], map[string]any{"kid": 1}, claimsAt(nil)), errNoKey},
		{"a token signed by another key under a known kid", v, rs256(t, "k1", keys[1], nil), jwt.ErrTokenSignatureInvalid},
		{"an expired token from a known key", v, rs256(t, "k1", keys[0], func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Hour).Unix() }), jwt.ErrTokenExpired},
		{"a token without sub from a known key", v, rs256(t, "k1", keys[0], func(c jwt.MapClaims) { delete(c, "sub") }), jwt.ErrTokenRequiredClaimMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Verify(t.Context(), tt.token)
			assertRefused(t, err, tt.reason, tt.token)
			if strings.Contains(err.Error(), "k9") {
				t.Errorf("error %q quotes the kid", err)
			}
		})
	}
}

func TestJWKSUnknownKIDRefreshIsRateLimited(t *testing.T) {
	keys := rsaKeys()
	ks := newKeyServer(t, jwk("k1", keys[0]))
	v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL, JWKSUnknownKIDInterval: time.Hour})

	for i, kid := range []string{"k8", "k9", "k10"} {
		token := rs256(t, kid, keys[1], nil)
		_, err := v.Verify(t.Context(), token)
		assertRefused(t, err, errNoKey, token)
		if i == 0 {
			ks.waitFetches(t, 2)
		}
	}
	if n := ks.fetches.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2: the first fetch and one refresh for the first unknown kid", n)
	}
}

func TestJWKSKeyRotation(t *testing.T) {
	keys := rsaKeys()

	t.Run("a token with a new kid is accepted after the refresh it triggers", func(t *testing.T) {
		ks := newKeyServer(t, jwk("k1", keys[0]))
		v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL})
		old := rs256(t, "k1", keys[0], nil)
		if _, err := v.Verify(t.Context(), old); err != nil {
			t.Fatalf("Verify with the old key: %v", err)
		}

		ks.serve(jwk("k2", keys[1]))
		if _, err := v.Verify(t.Context(), rs256(t, "k2", keys[1], nil)); err != nil {
			t.Fatalf("Verify with the new key: %v", err)
		}
		if n := ks.fetches.Load(); n != 2 {
			t.Errorf("%d JWKS fetches, want 2", n)
		}
		// The refresh replaced the set: the removed key is no longer trusted.
		_, err := v.Verify(t.Context(), old)
		assertRefused(t, err, errNoKey, old)
	})

	t.Run("the periodic refresh picks up a new key", func(t *testing.T) {
		ks := newKeyServer(t, jwk("k1", keys[0]))
		v := newJWKSVerifier(t, t.Context(), Options{
			JWKSURL:                ks.URL,
			JWKSRefreshInterval:    10 * time.Millisecond,
			JWKSUnknownKIDInterval: -1, // only the periodic refresh may fetch
		})
		ks.serve(jwk("k1", keys[0]), jwk("k3", keys[2]))
		n := ks.fetches.Load()
		// Refreshes run one after another: once fetch n+2 is answered,
		// fetch n+1, which saw the new set, has been stored.
		ks.waitFetches(t, n+2)
		if _, err := v.Verify(t.Context(), rs256(t, "k3", keys[2], nil)); err != nil {
			t.Fatalf("Verify with the new key: %v", err)
		}
	})
}

func TestJWKSReadiness(t *testing.T) {
	keys := rsaKeys()

	t.Run("a key server that fails at start leaves the verifier not ready but running", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.fail(http.StatusServiceUnavailable)
		v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL})
		err := v.Ready()
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Ready = %v, want an error naming status 503", err)
		}
		token := rs256(t, "k1", keys[0], nil)
		_, err = v.Verify(t.Context(), token)
		assertRefused(t, err, errNoKey, token)
	})

	t.Run("an empty key set is not ready", func(t *testing.T) {
		ks := newKeyServer(t)
		v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL})
		if err := v.Ready(); err == nil || !strings.Contains(err.Error(), "no usable keys") {
			t.Fatalf("Ready = %v, want no usable keys", err)
		}
	})

	t.Run("the verifier becomes ready when the key server recovers", func(t *testing.T) {
		ks := newKeyServer(t)
		ks.fail(http.StatusInternalServerError)
		v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL, JWKSUnknownKIDInterval: 10 * time.Millisecond})
		if v.Ready() == nil {
			t.Fatal("Ready while the key server fails")
		}
		ks.serve(jwk("k1", keys[0]))
		eventually(t, "readiness", func() bool { return v.Ready() == nil })
		if _, err := v.Verify(t.Context(), rs256(t, "k1", keys[0], nil)); err != nil {
			t.Fatalf("Verify after recovery: %v", err)
		}
	})

	t.Run("a first fetch slower than ctx does not hold up start-up", func(t *testing.T) {
		ks := newKeyServer(t, jwk("k1", keys[0]))
		release := make(chan struct{})
		ks.mu.Lock()
		ks.release = release
		ks.mu.Unlock()
		unblock := sync.OnceFunc(func() { close(release) })
		defer unblock() // before the server's Close, which waits for handlers

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		v, err := NewVerifier(ctx, Options{JWKSURL: ks.URL, Logger: quietLogger(), Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		defer v.Close()
		if err := v.Ready(); err == nil || !strings.Contains(err.Error(), "unfinished") {
			t.Fatalf("Ready = %v, want first fetch unfinished", err)
		}

		unblock()
		eventually(t, "readiness", func() bool { return v.Ready() == nil })
		if _, err := v.Verify(t.Context(), rs256(t, "k1", keys[0], nil)); err != nil {
			t.Fatalf("Verify after the slow first fetch: %v", err)
		}
	})

	t.Run("an HS256-only verifier is always ready", func(t *testing.T) {
		if err := newHS256Verifier(t).Ready(); err != nil {
			t.Fatalf("Ready = %v", err)
		}
	})
}

func TestCloseIsIdempotentAndKeepsFetchedKeys(t *testing.T) {
	keys := rsaKeys()
	ks := newKeyServer(t, jwk("k1", keys[0]))
	v := newJWKSVerifier(t, t.Context(), Options{JWKSURL: ks.URL})
	v.Close()
	v.Close()
	if _, err := v.Verify(t.Context(), rs256(t, "k1", keys[0], nil)); err != nil {
		t.Fatalf("Verify after Close: %v", err)
	}
}
