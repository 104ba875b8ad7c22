package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// KeyVersion is the version of the key derivation. Changing how keys are
// derived means a new version, so old entries are simply never read again.
const KeyVersion = "v1"

// Key derives the cache key of an entity from the upstream request that
// would fetch that one entity alone: service, method, path (escaped, as
// sent), query, JSON body and the identity headers sent with it (for
// example {"X-User-Id": sub}; nil or empty values for a public request).
// Two requests that would get the same answer get the same key; any
// difference in identity gives a different key, so one customer's entry
// can never answer another (privacy by construction).
//
// Canonical form, hashed with SHA-256:
//   - service as given; method upper-cased; path as given
//   - query parameters sorted by name, and the values of a repeated
//     parameter sorted: they are taken as a set (a comma-separated list
//     inside one value is one opaque value)
//   - the body, when it is JSON, re-encoded with object keys sorted
//     (numbers keep their literal text); otherwise its raw bytes
//   - identity headers by canonical name (X-User-Id), sorted; empty values
//     dropped, as a client drops an empty header
//
// Each part is length-prefixed, so no two different requests run
// together. The key reads "v1:<service>:<43 chars of base64url SHA-256>";
// Redis adds its KeyPrefix ("tutti:"). service should be a plain name
// ("customers"); bump it ("customers.2") when the stored record's shape
// changes.
//
// Entities that arrive in a batch answer are stored each under the key of
// the one-key request that would have fetched it alone
// (GET /customers/{id}, not GET /customers?ids=...), so batches of
// different sizes, and single fetches, share entries.
func Key(service, method, path string, query url.Values, body []byte, identity map[string]string) string {
	h := sha256.New()
	part := func(s string) {
		writeLen(h, len(s))
		io.WriteString(h, s)
	}
	part(KeyVersion)
	part(service)
	part(strings.ToUpper(method))
	part(path)

	names := make([]string, 0, len(query))
	for n := range query {
		names = append(names, n)
	}
	slices.Sort(names)
	writeLen(h, len(names))
	for _, n := range names {
		vs := slices.Clone(query[n])
		slices.Sort(vs)
		part(n)
		writeLen(h, len(vs))
		for _, v := range vs {
			part(v)
		}
	}

	if canon, ok := canonicalJSON(body); ok {
		part("json")
		part(string(canon))
	} else {
		part("raw")
		part(string(body))
	}

	ids := make([][2]string, 0, len(identity))
	for n, v := range identity {
		if v != "" {
			ids = append(ids, [2]string{http.CanonicalHeaderKey(n), v})
		}
	}
	slices.SortFunc(ids, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	writeLen(h, len(ids))
	for _, id := range ids {
		part(id[0])
		part(id[1])
	}

	return KeyVersion + ":" + keySafe(service) + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func writeLen(h hash.Hash, n int) {
	var b [binary.MaxVarintLen64]byte
	h.Write(b[:binary.PutUvarint(b[:], uint64(n))])
}

// canonicalJSON re-encodes body with object keys sorted and no
// insignificant space. ok is false for an empty body or one that is not a
// single JSON value.
func canonicalJSON(body []byte) ([]byte, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false // trailing data
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, false
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

// keySafe keeps the readable service part of a key free of separators and
// odd bytes; the hash covers the service exactly.
func keySafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
