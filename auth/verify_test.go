package auth

import (
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAcceptsHS256(t *testing.T) {
	v := newHS256Verifier(t)
	tests := []struct {
		name       string
		claims     jwt.MapClaims
		wantScopes []string
	}{
		{"scopes as a space-separated string", claimsAt(func(c jwt.MapClaims) { c["scope"] = "support  orders:read " }), []string{"support", "orders:read"}},
		{"scopes as a JSON array of strings", claimsAt(func(c jwt.MapClaims) { c["scope"] = []string{"support", "orders:read", ""} }), []string{"support", "orders:read"}},
		{"no scope claim means no scopes", claimsAt(nil), nil},
		{"a null scope means no scopes", claimsAt(func(c jwt.MapClaims) { c["scope"] = nil }), nil},
		{"an empty scope string means no scopes", claimsAt(func(c jwt.MapClaims) { c["scope"] = "" }), nil},
		{"a token one second before its exp", claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Add(time.Second).Unix() }), nil},
		// The contract refuses expired, unsigned, wrongly signed, other-
		// algorithm and malformed tokens; none of these is any of those.
		{"a token without exp", claimsAt(func(c jwt.MapClaims) { delete(c, "exp") }), nil},
		{"a token issued in the future (iat is informational)", claimsAt(func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Hour).Unix() }), nil},
		{"nbf within the leeway is tolerated", claimsAt(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(20 * time.Second).Unix() }), nil},
		{"iat may be absent", claimsAt(func(c jwt.MapClaims) { delete(c, "iat") }), nil},
		{"a kid on an HS256 token is ignored", claimsAt(nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := sign(t, jwt.SigningMethodHS256, testSecret, map[string]any{"kid": "whatever"}, tt.claims)
			p, err := v.Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != "c-1" {
				t.Errorf("Subject = %q, want c-1", p.Subject)
			}
			if !slices.Equal(p.Scopes, tt.wantScopes) {
				t.Errorf("Scopes = %q, want %q", p.Scopes, tt.wantScopes)
			}
		})
	}
}

func TestVerifyRefusesBadHS256Tokens(t *testing.T) {
	v := newHS256Verifier(t)
	otherSecret := []byte("fedcba9876543210fedcba9876543210")
	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claimsAt(nil))
	valid := sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(nil))
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name   string
		token  string
		reason error
	}{
		{"an expired token", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Minute).Unix() })), jwt.ErrTokenExpired},
		{"a token expired just beyond the leeway", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-31 * time.Second).Unix() })), jwt.ErrTokenExpired},
		{"a token expired a second ago (no leeway on exp)", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Second).Unix() })), jwt.ErrTokenExpired},
		{"a token at its exp", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Unix() })), jwt.ErrTokenExpired},
		{"a token whose nbf is in the future", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Hour).Unix() })), jwt.ErrTokenNotValidYet},
		{"an unsigned alg none token", noneToken, errAlgorithm},
		{"an alg none token with the signature of a valid one", noneToken + parts[2], errAlgorithm},
		{"an upper-case NONE token", enc([]byte(`{"alg":"NONE","typ":"JWT"}`)) + "." + parts[1] + ".", errAlgorithm},
		{"a token without alg", enc([]byte(`{"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], errAlgorithm},
		{"a token signed with another secret", sign(t, jwt.SigningMethodHS256, otherSecret, nil, claimsAt(nil)), jwt.ErrTokenSignatureInvalid},
		{"an HS512 token when only HS256 is configured", sign(t, jwt.SigningMethodHS512, testSecret, nil, claimsAt(nil)), errAlgorithm},
		{"an HS384 token when only HS256 is configured", sign(t, jwt.SigningMethodHS384, testSecret, nil, claimsAt(nil)), errAlgorithm},
		{"an RS256 header when no JWKS is configured", enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + parts[1] + "." + parts[2], errAlgorithm},
		{"a valid token whose claims were swapped", parts[0] + "." + enc([]byte(`{"sub":"c-2","exp":9999999999}`)) + "." + parts[2], jwt.ErrTokenSignatureInvalid},
		{"a valid token with its signature cut off", parts[0] + "." + parts[1] + ".", jwt.ErrTokenSignatureInvalid},
		{"a token without sub", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { delete(c, "sub") })), jwt.ErrTokenRequiredClaimMissing},
		{"a token with an empty sub", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["sub"] = "" })), jwt.ErrTokenRequiredClaimMissing},
		{"a token whose sub is a number", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["sub"] = 42 })), jwt.ErrTokenMalformed},
		{"a token whose scope is a number", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["scope"] = 7 })), jwt.ErrTokenMalformed},
		{"a token whose scope array holds a number", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["scope"] = []any{"support", 7} })), jwt.ErrTokenMalformed},
		{"a token whose exp is a string", sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), jwt.ErrTokenMalformed},
		{"an empty string", "", jwt.ErrTokenMalformed},
		{"one word", "abc", jwt.ErrTokenMalformed},
		{"three short segments", "a.b.c", jwt.ErrTokenMalformed},
		{"two segments", parts[0] + "." + parts[1], jwt.ErrTokenMalformed},
		{"four segments", valid + ".x", jwt.ErrTokenMalformed},
		{"garbage base64", "!!!!.@@@@.####", jwt.ErrTokenMalformed},
		{"base64 of garbage", enc([]byte("not json")) + "." + enc([]byte("nor this")) + "." + enc([]byte("sig")), jwt.ErrTokenMalformed},
		{"padded base64 segments", parts[0] + "==." + parts[1] + "." + parts[2], jwt.ErrTokenMalformed},
		{"a token longer than the limit", parts[0] + "." + strings.Repeat("A", MaxTokenBytes) + "." + parts[2], errTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tt.token)
			if p != nil {
				t.Errorf("principal %+v, want nil", p)
			}
			assertRefused(t, err, tt.reason, tt.token)
		})
	}
}

func TestVerifyWithNegativeLeewayAllowsNoSkew(t *testing.T) {
	v, err := NewVerifier(t.Context(), Options{HS256Secret: testSecret, Leeway: -1, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	defer v.Close()
	token := sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Second).Unix() }))
	_, err = v.Verify(t.Context(), token)
	assertRefused(t, err, jwt.ErrTokenExpired, token)
}

func TestShortSecretIsAcceptedWithAWarning(t *testing.T) {
	var logs strings.Builder
	v, err := NewVerifier(t.Context(), Options{HS256Secret: []byte("short"), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	defer v.Close()
	tok, err := SignHS256([]byte("short"), "c-1", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(t.Context(), tok); err != nil || p.Subject != "c-1" {
		t.Fatalf("Verify = %v, %v", p, err)
	}
	if !strings.Contains(logs.String(), "shorter than RFC 7518") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

func TestNewVerifierRefusesUnusableOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"nothing configured", Options{}},
		{"a JWKS URL that does not parse", Options{JWKSURL: "http://[::1"}},
		{"a relative JWKS URL", Options{JWKSURL: "/keys.json"}},
		{"a JWKS URL of another scheme", Options{JWKSURL: "ftp://example.com/keys.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(t.Context(), tt.o)
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier succeeded, want an error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "new verifier: ") || strings.Contains(msg, "short") {
				t.Errorf("error %q: want a lowercase chain that does not quote the secret", msg)
			}
		})
	}
}

func TestSignHS256(t *testing.T) {
	v, err := NewVerifier(t.Context(), Options{HS256Secret: testSecret})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	defer v.Close()

	t.Run("a signed token verifies with its subject and scopes", func(t *testing.T) {
		token, err := SignHS256(testSecret, "c-7", []string{ScopeSupport, "orders:read"}, time.Hour)
		if err != nil {
			t.Fatalf("SignHS256: %v", err)
		}
		p, err := v.Verify(t.Context(), token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if p.Subject != "c-7" || !slices.Equal(p.Scopes, []string{ScopeSupport, "orders:read"}) {
			t.Errorf("principal %+v", p)
		}
	})
	t.Run("a token without scopes verifies with none", func(t *testing.T) {
		token, err := SignHS256(testSecret, "c-7", nil, time.Hour)
		if err != nil {
			t.Fatalf("SignHS256: %v", err)
		}
		p, err := v.Verify(t.Context(), token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if p.Scopes != nil {
			t.Errorf("Scopes = %q, want none", p.Scopes)
		}
	})

	refusals := []struct {
		name   string
		secret []byte
		sub    string
		scopes []string
		ttl    time.Duration
	}{
		{"an empty secret is refused", nil, "c-1", nil, time.Hour},
		{"an empty subject is refused", testSecret, "", nil, time.Hour},
		{"a zero ttl is refused", testSecret, "c-1", nil, 0},
		{"a scope with a space is refused", testSecret, "c-1", []string{"a b"}, time.Hour},
		{"an empty scope is refused", testSecret, "c-1", []string{""}, time.Hour},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if token, err := SignHS256(tt.secret, tt.sub, tt.scopes, tt.ttl); err == nil {
				t.Errorf("SignHS256 = %q, want an error", token)
			}
		})
	}
}
