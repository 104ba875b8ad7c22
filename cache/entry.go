package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Entry is one cached value: the encoded record (or a not-found marker),
// when it was stored, how long it is fresh, and how long after that it may
// still be served stale when the upstream fails (stale-if-error).
//
// An entry lives in a store until StoredAt+FreshFor+StaleFor. Value is
// shared between the store and its readers: never modify it.
type Entry struct {
	// Value is the encoded record (the upstream's JSON, typically). Empty
	// when NotFound.
	Value []byte
	// NotFound marks a cached "no such entity" answer.
	NotFound bool
	// StoredAt is when the answer came from the upstream. Zero when
	// writing means "now".
	StoredAt time.Time
	// FreshFor is how long after StoredAt the entry answers without asking
	// the upstream. An entry with FreshFor <= 0 is never stored.
	FreshFor time.Duration
	// StaleFor is how long after it stops being fresh the entry may still
	// answer when the upstream fails: the max-stale age.
	StaleFor time.Duration
}

// Fresh reports whether the entry may answer at now without asking the
// upstream.
func (e Entry) Fresh(now time.Time) bool {
	return now.Before(e.StoredAt.Add(max(e.FreshFor, 0)))
}

// Usable reports whether the entry may answer at now at all: fresh, or
// within StaleFor after that (for stale-if-error).
func (e Entry) Usable(now time.Time) bool {
	return now.Before(e.Expires())
}

// Expires is when the entry stops being usable and leaves the stores.
func (e Entry) Expires() time.Time {
	return e.StoredAt.Add(max(e.FreshFor, 0) + max(e.StaleFor, 0))
}

// The envelope is how an Entry is stored in Redis:
//
//	byte 0      version (envelopeV1)
//	byte 1      flags: bit 0 = NotFound; other bits must be zero
//	uvarint     StoredAt, Unix milliseconds
//	uvarint     FreshFor, milliseconds
//	uvarint     StaleFor, milliseconds
//	uvarint     len(Value)
//	Value
//	4 bytes     CRC-32C (Castagnoli), big-endian, of everything before it
//
// About 16 bytes of overhead for a typical entry. A new layout gets a new
// version byte; readers treat an unknown version as a miss, so a rolling
// deploy only costs misses.
const (
	envelopeV1   byte = 1
	flagNotFound byte = 1 << 0
	// maxMillis bounds the durations (about 34 years) so that nothing
	// decoded overflows time.Duration; maxStoredMillis bounds StoredAt
	// (about the year 4200).
	maxMillis       = 1 << 40
	maxStoredMillis = 1 << 46
)

var (
	crcTable = crc32.MakeTable(crc32.Castagnoli)

	// errCorrupt is returned by decodeEntry for anything that is not a
	// well-formed envelope. Readers count it and treat the key as a miss.
	errCorrupt = errors.New("corrupt cache entry")
)

// encodeEntry returns the envelope of e. StoredAt and the durations are
// kept to the millisecond.
func encodeEntry(e Entry) []byte {
	b := make([]byte, 0, 2+4*binary.MaxVarintLen64+len(e.Value)+4)
	var flags byte
	if e.NotFound {
		flags |= flagNotFound
	}
	b = append(b, envelopeV1, flags)
	b = binary.AppendUvarint(b, clampMillis(e.StoredAt.UnixMilli(), maxStoredMillis))
	b = binary.AppendUvarint(b, clampMillis(e.FreshFor.Milliseconds(), maxMillis))
	b = binary.AppendUvarint(b, clampMillis(e.StaleFor.Milliseconds(), maxMillis))
	if e.NotFound {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Value)))
		b = append(b, e.Value...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func clampMillis(ms, hi int64) uint64 {
	return uint64(min(max(ms, 0), hi))
}

// decodeEntry parses an envelope. It never panics and accepts nothing but
// what encodeEntry can produce (up to non-minimal varints): any other input,
// including a truncated or bit-flipped one, returns errCorrupt. Value
// aliases b.
func decodeEntry(b []byte) (Entry, error) {
	if len(b) < 2+4+4 {
		return Entry{}, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if body[0] != envelopeV1 {
		return Entry{}, fmt.Errorf("%w: version %d", errCorrupt, body[0])
	}
	if crc32.Checksum(body, crcTable) != sum {
		return Entry{}, fmt.Errorf("%w: checksum", errCorrupt)
	}
	flags := body[1]
	if flags&^flagNotFound != 0 {
		return Entry{}, fmt.Errorf("%w: flags %#x", errCorrupt, flags)
	}
	rest := body[2:]
	var fields [4]uint64
	limits := [4]uint64{maxStoredMillis, maxMillis, maxMillis, uint64(len(rest))}
	for i := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > limits[i] {
			return Entry{}, fmt.Errorf("%w: header field %d", errCorrupt, i)
		}
		fields[i], rest = v, rest[n:]
	}
	if fields[3] != uint64(len(rest)) {
		return Entry{}, fmt.Errorf("%w: value length %d, have %d", errCorrupt, fields[3], len(rest))
	}
	e := Entry{
		NotFound: flags&flagNotFound != 0,
		StoredAt: time.UnixMilli(int64(fields[0])),
		FreshFor: time.Duration(fields[1]) * time.Millisecond,
		StaleFor: time.Duration(fields[2]) * time.Millisecond,
	}
	if e.NotFound {
		if len(rest) != 0 {
			return Entry{}, fmt.Errorf("%w: not-found entry with a value", errCorrupt)
		}
		return e, nil
	}
	e.Value = rest[:len(rest):len(rest)]
	return e, nil
}
