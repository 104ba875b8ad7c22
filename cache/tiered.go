package cache

import (
	"context"
	"errors"
	"time"
)

// Tiered reads through its tiers in order (in-process first, then Redis)
// and writes to all of them. It is itself a Store.
type Tiered struct {
	tiers []Store
	now   func() time.Time
}

// NewTiered returns a Store over tiers, upper (faster, smaller) first:
// NewTiered(NewMemory(...), redis).
//
// GetMany asks each tier only for the keys still without a fresh entry: a
// fresh hit ends the search for that key; a stale one is kept but a lower
// tier is still asked, and the newer of the two wins. A hit in a lower tier
// is written back to the tiers above it (with its own remaining lifetime).
// A failing tier is skipped as if it had missed: the result is complete
// and good, and the error (all tiers' errors joined) only reports it.
//
// SetMany and Delete go to every tier; the error joins the tiers' errors.
func NewTiered(tiers ...Store) *Tiered {
	return &Tiered{tiers: tiers, now: time.Now}
}

// GetMany implements Store.
func (t *Tiered) GetMany(ctx context.Context, keys []string) ([]*Entry, error) {
	out := make([]*Entry, len(keys))
	now := t.now()
	pending := make([]int, len(keys)) // indexes of keys without a fresh entry
	for i := range pending {
		pending[i] = i
	}
	var errs []error
	for ti, tier := range t.tiers {
		if len(pending) == 0 {
			break
		}
		ks := make([]string, len(pending))
		for j, i := range pending {
			ks[j] = keys[i]
		}
		got, err := tier.GetMany(ctx, ks)
		if err != nil {
			errs = append(errs, err)
		}
		var backfill map[string]Entry
		next := pending[:0]
		for j, i := range pending {
			if j < len(got) && got[j] != nil && newer(got[j], out[i]) {
				out[i] = got[j]
				if ti > 0 {
					if backfill == nil {
						backfill = make(map[string]Entry)
					}
					backfill[keys[i]] = *got[j]
				}
			}
			if out[i] == nil || !out[i].Fresh(now) {
				next = append(next, i)
			}
		}
		pending = next
		for _, upper := range t.tiers[:ti] {
			if len(backfill) == 0 {
				break
			}
			if err := upper.SetMany(ctx, backfill); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return out, errors.Join(errs...)
}

// newer reports whether a should replace b (b may be nil).
func newer(a, b *Entry) bool {
	return b == nil || a.StoredAt.After(b.StoredAt)
}

// SetMany implements Store.
func (t *Tiered) SetMany(ctx context.Context, entries map[string]Entry) error {
	var errs []error
	for _, tier := range t.tiers {
		if err := tier.SetMany(ctx, entries); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete implements Store.
func (t *Tiered) Delete(ctx context.Context, keys ...string) error {
	var errs []error
	for _, tier := range t.tiers {
		if err := tier.Delete(ctx, keys...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
