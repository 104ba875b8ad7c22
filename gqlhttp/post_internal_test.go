package gqlhttp

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadLimited(t *testing.T) {
	const limit = 100_000
	tests := []struct {
		name     string
		src      io.Reader
		hint     int64
		wantOver bool
		wantLen  int
	}{
		{"an endless stream stops one byte past the limit", zeros{}, 0, true, 0},
		{"a lying length hint changes nothing", zeros{}, 1 << 40, true, 0},
		{"exactly the limit is read whole", bytes.NewReader(make([]byte, limit)), limit, false, limit},
		{"exactly the limit a byte at a time", iotest.OneByteReader(bytes.NewReader(make([]byte, limit))), 0, false, limit},
		{"one past the limit is over", bytes.NewReader(make([]byte, limit+1)), 0, true, 0},
		{"an empty body is empty", bytes.NewReader(nil), 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, over, err := readLimited(tt.src, limit, tt.hint)
			if err != nil || over != tt.wantOver || len(b) != tt.wantLen {
				t.Fatalf("len %d, over %v, err %v", len(b), over, err)
			}
			if cap(b) > limit+1 {
				t.Errorf("buffer capacity %d exceeds limit+1", cap(b))
			}
		})
	}
	t.Run("a read error is returned", func(t *testing.T) {
		_, _, err := readLimited(iotest.ErrReader(io.ErrUnexpectedEOF), limit, 0)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v", err)
		}
	})
}
