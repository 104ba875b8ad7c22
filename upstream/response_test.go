package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"testing"
)

// readBoth reads data as a response with readResponse and with
// http.ReadResponse, and returns what differs between the two ("" when
// nothing does): the head, the body, errors, and what is left after the
// body for the next response.
func readBoth(data []byte, method string) (diff string, fast bool) {
	req := &http.Request{Method: method}
	br1 := bufio.NewReaderSize(bytes.NewReader(data), 8<<10)
	br2 := bufio.NewReaderSize(bytes.NewReader(data), 8<<10)
	r1, err1 := readResponse(br1, req)
	r2, err2 := http.ReadResponse(br2, req)
	if (err1 == nil) != (err2 == nil) {
		return "errors: " + errString(err1) + " vs " + errString(err2), false
	}
	if err1 != nil {
		return "", false
	}
	_, fast = r1.Body.(*lengthBody)
	if _, ok := r1.Body.(*chunkedBody); ok {
		fast = true
	}
	switch {
	case r1.StatusCode != r2.StatusCode || r1.Status != r2.Status || r1.Proto != r2.Proto:
		return "status: " + r1.Status + " vs " + r2.Status, fast
	case !reflect.DeepEqual(r1.Header, r2.Header):
		return "headers differ", fast
	case r1.ContentLength != r2.ContentLength || r1.Close != r2.Close || !reflect.DeepEqual(r1.TransferEncoding, r2.TransferEncoding):
		return "framing differs", fast
	}
	b1, e1 := io.ReadAll(r1.Body)
	b2, e2 := io.ReadAll(r2.Body)
	if !bytes.Equal(b1, b2) || (e1 == nil) != (e2 == nil) {
		return "body: " + errString(e1) + " vs " + errString(e2), fast
	}
	if e1 == nil {
		rest1, _ := io.ReadAll(br1)
		rest2, _ := io.ReadAll(br2)
		if !bytes.Equal(rest1, rest2) {
			return "left after the body: " + string(rest1) + " vs " + string(rest2), fast
		}
	}
	return "", fast
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

var responseSeeds = []struct {
	raw  string
	fast bool // readResponse parses it itself
}{
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n", true},
	{"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\ncache-control:  max-age=30 \r\n\r\n{}", true},
	{"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 2\r\n\r\n{}", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\nNEXT", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},
	{"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 200 OK\r\nX-Multi: a\r\nX-Multi: b\r\nContent-Length: 1\r\n\r\nx", true},
	// Left to net/http:
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Upgrade\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nConnection: upgrade , close\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\n\r\nuntil the end", false},
	{"HTTP/1.1 204 No Content\r\n\r\n", false},
	{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1", false},
	{"", false},
}

func TestReadResponseAgreesWithNetHTTP(t *testing.T) {
	for _, s := range responseSeeds {
		diff, fast := readBoth([]byte(s.raw), http.MethodGet)
		if diff != "" {
			t.Errorf("%q: %s", s.raw, diff)
		}
		if fast != s.fast {
			t.Errorf("%q: parsed here = %v, want %v", s.raw, fast, s.fast)
		}
	}
	if diff, fast := readBoth([]byte(responseSeeds[0].raw), http.MethodHead); diff != "" || fast {
		t.Errorf("answer to HEAD: %s (parsed here: %v), want it left to net/http", diff, fast)
	}
}

// FuzzReadResponseAgrees: whatever the bytes, readResponse reads the same
// response as http.ReadResponse and leaves the same bytes after it.
func FuzzReadResponseAgrees(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff, _ := readBoth(data, http.MethodGet); diff != "" {
			t.Fatalf("%q: %s", data, diff)
		}
	})
}
