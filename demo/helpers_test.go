package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of most tests: recent orders and etas are placed
// relative to its day.
var testNow = time.Date(2026, time.November, 25, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// startDemo starts a Demo on free ports with the test clock and closes it
// when the test ends.
func startDemo(t *testing.T, opts Options) *tc {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock
	}
	d := New(opts)
	if err := d.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &tc{t: t, d: d, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// tc is a test's client of one Demo.
type tc struct {
	t  *testing.T
	d  *Demo
	hc *http.Client
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the body into v, failing the test if it is not JSON.
func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// errorCode returns the "error" of an error body.
func (r resp) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.decode(t, &e)
	return e.Error
}

// do sends a request to the service with its key. body is sent as is when
// it is a string, else JSON-encoded; nil sends none. hdr holds header
// name/value pairs; an empty value removes the header (so
// "X-Api-Key", "" sends no key).
func (c *tc) do(method, svc, path string, body any, hdr ...string) resp {
	c.t.Helper()
	r, err := c.try(method, svc, path, body, hdr...)
	if err != nil {
		c.t.Fatalf("%s %s %s: %v", method, svc, path, err)
	}
	return r
}

// try is do that returns the transport error instead of failing.
func (c *tc) try(method, svc, path string, body any, hdr ...string) (resp, error) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		bs, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(bs)
	}
	req, err := http.NewRequest(method, c.d.URL(svc)+path, rd)
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("X-Api-Key", c.d.APIKey(svc))
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

// get is do for a GET that must answer 200 with JSON decoded into v.
func (c *tc) get(svc, path string, v any) {
	c.t.Helper()
	r := c.do("GET", svc, path, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("GET %s %s: status %d, body %s", svc, path, r.status, r.body)
	}
	r.decode(c.t, v)
}

// wantStatus fails the test unless r has the status (and, if code is set,
// the error code).
func wantStatus(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.errorCode(t); got != code {
			t.Fatalf("error %q, want %q", got, code)
		}
	}
}

// keys returns the JSON object's keys.
func keys(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode object %s: %v", raw, err)
	}
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// idList formats ids from..to with format, e.g. idList("c-%04d", 1, 3).
func idList(format string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}
