package resolvers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Cursors makes and reads the opaque cursors of Query.products. A cursor
// names one edge: the catalog cursor of the page request the edge came from
// and its position in that answer, with the search text it belongs to. It
// is signed, so a cursor the gateway did not make (or made for another
// search) is refused before any upstream call.
type Cursors struct {
	key []byte
}

// NewCursors returns a codec signing with key. Replicas that serve the same
// clients must share it.
func NewCursors(key []byte) *Cursors { return &Cursors{key: key} }

// position is what a cursor holds.
type position struct {
	Search   string `json:"q"`
	Upstream string `json:"c"`
	Offset   int    `json:"o"`
	// Next is the catalog cursor of the page after the edge's own, set on
	// the last edge of a catalog page: resuming there is one request.
	Next string `json:"n,omitempty"`
}

var errBadCursor = errors.New("cursor was not made by this gateway for this search")

// maxCursorLen bounds the work done on a hostile cursor.
const maxCursorLen = 2048

func (c *Cursors) encode(p position) string {
	b, _ := json.Marshal(p) // a struct of strings and an int always marshals
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(c.sign(b))
}

func (c *Cursors) decode(s, search string) (position, error) {
	var p position
	body, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > maxCursorLen {
		return p, errBadCursor
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, c.sign(b)) {
		return p, errBadCursor
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Offset < 0 || p.Search != search {
		return p, errBadCursor
	}
	return p, nil
}

func (c *Cursors) sign(b []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("tutti-cursor-v1\x00"))
	m.Write(b)
	return m.Sum(nil)[:16]
}
