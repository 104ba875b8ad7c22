package upstream

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// BatchSize is the most keys one batch request may carry (upstreams.md).
const BatchSize = 100

// Chunks splits keys into chunks of at most n (BatchSize when n <= 0), with
// duplicates and empty keys removed and the first occurrence's order kept.
func Chunks(keys []string, n int) [][]string {
	if n <= 0 {
		n = BatchSize
	}
	seen := make(map[string]struct{}, len(keys))
	uniq := make([]string, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		uniq = append(uniq, k)
	}
	out := make([][]string, 0, (len(uniq)+n-1)/n)
	for len(uniq) > 0 {
		m := min(n, len(uniq))
		out = append(out, uniq[:m:m])
		uniq = uniq[m:]
	}
	return out
}

// Batch fetches keys in chunks of at most BatchSize (see Chunks), the chunks
// in parallel, and merges the answers. fetch answers one chunk with values
// keyed by key; values for keys outside its chunk are dropped, so the result
// holds requested keys only and an absent key means "not found". No keys:
// no call and an empty map. The first failure cancels the other chunks and
// is returned with a nil map.
func Batch[V any](ctx context.Context, keys []string, fetch func(ctx context.Context, chunk []string) (map[string]V, error)) (map[string]V, error) {
	chunks := Chunks(keys, BatchSize)
	results := make([]map[string]V, len(chunks))
	switch len(chunks) {
	case 0:
		return map[string]V{}, nil
	case 1:
		m, err := fetch(ctx, chunks[0])
		if err != nil {
			return nil, err
		}
		results[0] = m
	default:
		g, gctx := errgroup.WithContext(ctx)
		for i, chunk := range chunks {
			g.Go(func() error {
				m, err := fetch(gctx, chunk)
				results[i] = m
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	out := make(map[string]V, len(keys))
	for i, chunk := range chunks {
		for _, k := range chunk {
			if v, ok := results[i][k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// Field decodes one JSON object member and records whether its key was
// present at all, so an envelope whose key is missing (not the contract)
// can be told from one whose value is null (read as empty: Go services
// encode an empty slice as null).
type Field[T any] struct {
	Value T
	Set   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	return Decode(b, &f.Value)
}
