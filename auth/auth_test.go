package auth

import (
	"context"
	"testing"
)

func TestPrincipalRoundTripsThroughContext(t *testing.T) {
	p := &Principal{Subject: "c-1", Scopes: []string{ScopeSupport}}
	tests := []struct {
		name string
		ctx  context.Context
		want *Principal
	}{
		{"a bare context is anonymous", context.Background(), nil},
		{"a stored principal comes back as the same pointer", WithPrincipal(context.Background(), p), p},
		{"storing nil makes the context anonymous", WithPrincipal(WithPrincipal(context.Background(), p), nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromContext(tt.ctx); got != tt.want {
				t.Errorf("FromContext = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHasScope(t *testing.T) {
	tests := []struct {
		name  string
		p     *Principal
		scope string
		want  bool
	}{
		{"a nil principal holds no scope", nil, ScopeSupport, false},
		{"a principal without scopes holds none", &Principal{Subject: "c-1"}, ScopeSupport, false},
		{"a principal holds a scope it lists", &Principal{Subject: "c-1", Scopes: []string{"read", ScopeSupport}}, ScopeSupport, true},
		{"a principal does not hold a scope it does not list", &Principal{Subject: "c-1", Scopes: []string{"read"}}, ScopeSupport, false},
		{"scopes compare exactly, not by prefix or case", &Principal{Subject: "c-1", Scopes: []string{"Support", "supporter"}}, ScopeSupport, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.HasScope(tt.scope); got != tt.want {
				t.Errorf("HasScope(%q) = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}
