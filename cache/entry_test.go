package cache

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestEntryIsFreshThenStaleThenGone(t *testing.T) {
	e := Entry{StoredAt: t0, FreshFor: time.Second, StaleFor: 2 * time.Second}
	for _, c := range []struct {
		after         time.Duration
		fresh, usable bool
	}{
		{0, true, true},
		{999 * time.Millisecond, true, true},
		{time.Second, false, true},
		{2999 * time.Millisecond, false, true},
		{3 * time.Second, false, false},
	} {
		now := t0.Add(c.after)
		if e.Fresh(now) != c.fresh || e.Usable(now) != c.usable {
			t.Errorf("after %v: fresh %v usable %v, want %v %v", c.after, e.Fresh(now), e.Usable(now), c.fresh, c.usable)
		}
	}
}

func TestEnvelopeRoundTrips(t *testing.T) {
	for _, e := range []Entry{
		{Value: []byte(`{"id":"c-1"}`), StoredAt: t0, FreshFor: time.Minute, StaleFor: time.Hour},
		{NotFound: true, StoredAt: t0, FreshFor: 5 * time.Second},
		{Value: []byte{}, StoredAt: t0, FreshFor: time.Millisecond},
		{Value: bytes.Repeat([]byte("x"), 70000), StoredAt: t0, FreshFor: 24 * time.Hour},
	} {
		b := encodeEntry(e)
		got, err := decodeEntry(b)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", e, err)
		}
		if !entriesEqual(got, e) {
			t.Fatalf("round trip: got %+v, want %+v", got, e)
		}
		if e.NotFound && len(b) > 20 {
			t.Errorf("not-found marker takes %d bytes", len(b))
		}
	}
}

func TestCorruptEnvelopesAreRejected(t *testing.T) {
	good := encodeEntry(Entry{Value: []byte(`{"a":1}`), StoredAt: t0, FreshFor: time.Minute})
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for name, b := range map[string][]byte{
		"empty":                {},
		"plain JSON":           []byte(`{"id":"c-1"}`),
		"truncated":            good[:len(good)-1],
		"one more byte":        append(bytes.Clone(good), 0),
		"unknown version":      flip(0),
		"unknown flag":         flip(1),
		"bit flip in value":    flip(len(good) - 6),
		"bit flip in checksum": flip(len(good) - 1),
	} {
		if _, err := decodeEntry(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
	}
}

// FuzzDecodeEntry: decodeEntry never panics on any input; what it accepts
// has durations and times in range and encodes back to an envelope that
// decodes to the same entry; a not-found entry carries no value.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(Entry{Value: []byte(`{"id":"c-1"}`), StoredAt: t0, FreshFor: time.Minute, StaleFor: time.Hour}))
	f.Add(encodeEntry(Entry{NotFound: true, StoredAt: t0, FreshFor: time.Second}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		if e.FreshFor < 0 || e.StaleFor < 0 || e.FreshFor > maxMillis*time.Millisecond || e.StaleFor > maxMillis*time.Millisecond {
			t.Fatalf("durations out of range: %+v", e)
		}
		if e.NotFound && len(e.Value) != 0 {
			t.Fatalf("not-found entry with a value: %+v", e)
		}
		again, err := decodeEntry(encodeEntry(e))
		if err != nil || !entriesEqual(again, e) {
			t.Fatalf("re-encoding %+v: %+v, %v", e, again, err)
		}
	})
}

func entriesEqual(a, b Entry) bool {
	return bytes.Equal(a.Value, b.Value) && a.NotFound == b.NotFound && a.StoredAt.Equal(b.StoredAt) &&
		a.FreshFor == b.FreshFor && a.StaleFor == b.StaleFor
}
