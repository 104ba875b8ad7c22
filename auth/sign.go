package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// SignHS256 returns an HS256 token for subject sub with the given scopes
// (written space-separated; omitted when empty), issued now and expiring
// after ttl. For the demo's sample tokens and for tests. The secret must not
// be empty, sub non-empty, ttl positive, and no scope empty or containing
// whitespace.
func SignHS256(secret []byte, sub string, scopes []string, ttl time.Duration) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("sign hs256: empty secret")
	case sub == "":
		return "", errors.New("sign hs256: empty subject")
	case ttl <= 0:
		return "", fmt.Errorf("sign hs256: ttl %v is not positive", ttl)
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return "", fmt.Errorf("sign hs256: scope %q is empty or has whitespace", s)
		}
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Scope: scopes,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign hs256: %w", err)
	}
	return s, nil
}
