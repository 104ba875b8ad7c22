package auth

import (
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestFromRequest(t *testing.T) {
	v := newHS256Verifier(t)
	valid := sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["scope"] = "support" }))
	expired := sign(t, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["exp"] = 1 }))

	tests := []struct {
		name    string
		headers []string // Authorization values, in order
		wantSub string   // "" with wantErr false: anonymous
		wantErr error    // reason; nil when accepted or anonymous
	}{
		{"no header is anonymous", nil, "", nil},
		{"a bearer token is verified", []string{"Bearer " + valid}, "c-1", nil},
		{"the scheme is case-insensitive", []string{"bearer " + valid}, "c-1", nil},
		{"an upper-case scheme is accepted", []string{"BEARER " + valid}, "c-1", nil},
		{"spaces around the token are ignored", []string{"Bearer  " + valid + " "}, "c-1", nil},
		{"Bearer without a token is refused", []string{"Bearer"}, "", errEmptyToken},
		{"Bearer and a space without a token is refused", []string{"Bearer "}, "", errEmptyToken},
		{"a bearer token that is not a JWT is refused", []string{"bearer x"}, "", jwt.ErrTokenMalformed},
		{"an expired bearer token is refused", []string{"Bearer " + expired}, "", jwt.ErrTokenExpired},
		{"Basic credentials are refused", []string{"Basic x"}, "", errNotBearer},
		{"a bare token without a scheme is refused", []string{valid}, "", errNotBearer},
		{"an empty header is refused", []string{""}, "", errNotBearer},
		{"a tab after the scheme is refused", []string{"Bearer\t" + valid}, "", errNotBearer},
		{"two headers are refused even when both are valid", []string{"Bearer " + valid, "Bearer " + valid}, "", errSeveralHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/graphql", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			p, err := v.FromRequest(r)
			switch {
			case tt.wantErr != nil:
				if p != nil {
					t.Errorf("principal %+v, want nil", p)
				}
				assertRefused(t, err, tt.wantErr, valid)
			case err != nil:
				t.Fatalf("FromRequest: %v", err)
			case tt.wantSub == "" && p != nil:
				t.Errorf("principal %+v, want anonymous", p)
			case tt.wantSub != "" && (p == nil || p.Subject != tt.wantSub):
				t.Errorf("principal %+v, want subject %q", p, tt.wantSub)
			}
		})
	}
}
