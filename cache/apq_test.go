package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
)

func TestAPQRoundTripsThroughGqlgensExtension(t *testing.T) {
	for name, store := range map[string]Store{
		"redis":  newRedis(t, RedisOptions{}),
		"memory": NewMemory(MemoryOptions{}),
	} {
		t.Run(name, func(t *testing.T) {
			// The extension records its stats in the operation context.
			ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
			apq := extension.AutomaticPersistedQuery{Cache: NewAPQ(store, time.Hour)}
			query := "{ customer(id: \"c-1\") { name } }"
			sum := sha256.Sum256([]byte(query))
			hash := hex.EncodeToString(sum[:])
			params := func(q string) *graphql.RawParams {
				return &graphql.RawParams{Query: q, Extensions: map[string]any{
					"persistedQuery": map[string]any{"sha256Hash": hash, "version": 1},
				}}
			}

			if err := apq.MutateOperationParameters(ctx, params("")); err == nil || !strings.Contains(err.Message, "PersistedQueryNotFound") {
				t.Fatalf("unknown hash: %v", err)
			}
			if err := apq.MutateOperationParameters(ctx, params(query)); err != nil {
				t.Fatalf("hash with query: %v", err)
			}
			p := params("")
			if err := apq.MutateOperationParameters(ctx, p); err != nil || p.Query != query {
				t.Fatalf("known hash: %v, query %q", err, p.Query)
			}
		})
	}
}

func TestAPQIgnoresOversizedKeys(t *testing.T) {
	ctx := context.Background()
	a := NewAPQ(NewMemory(MemoryOptions{}), 0)
	long := strings.Repeat("a", apqKeyMax+1)
	a.Add(ctx, long, "q")
	if _, ok := a.Get(ctx, long); ok {
		t.Fatal("oversized key stored")
	}
	if a.ttl != 24*time.Hour {
		t.Fatalf("default TTL %v", a.ttl)
	}
}
