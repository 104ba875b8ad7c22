package upstream_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
)

// countingServer is an httptest server that counts the connections opened
// to it.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func leanTransport(t *testing.T) *upstream.Transport {
	t.Helper()
	tr := upstream.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// fetch sends a GET through tr and returns the body.
func fetch(t *testing.T, tr http.RoundTripper, ctx context.Context, u string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestTransportKeepsConnectionsAlive(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") != "" {
			// Flushed before the end: sent chunked, no Content-Length.
			_, _ = io.WriteString(w, "chunk-one ")
			w.(http.Flusher).Flush()
		}
		_, _ = io.WriteString(w, "answer "+r.URL.RawQuery)
	})
	tr := leanTransport(t)
	for i := range 20 {
		q := fmt.Sprintf("i=%d", i)
		want := "answer " + q
		if i%2 == 1 {
			q += "&chunked=1"
			want = "chunk-one answer " + q
		}
		got, err := fetch(t, tr, context.Background(), s.URL+"/x?"+q)
		if err != nil || got != want {
			t.Fatalf("request %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests one after another opened %d connections, want 1", n)
	}
}

func TestTransportConcurrentRequests(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		_, _ = io.WriteString(w, r.URL.Path)
	})
	tr := leanTransport(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 16 {
		wg.Go(func() {
			for i := range 25 {
				p := fmt.Sprintf("/g%d/i%d", g, i)
				if got, err := fetch(t, tr, context.Background(), s.URL+p); err != nil || got != p {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 400 requests failed or got another's answer", n)
	}
	if n := conns.Load(); n > 16 {
		t.Errorf("16 clients opened %d connections, want at most 16", n)
	}
}

func TestTransportBodyNotReadToItsEndClosesTheConnection(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
	})
	tr := leanTransport(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got, err := fetch(t, tr, context.Background(), s.URL); err != nil || len(got) != 64<<10 {
		t.Fatalf("next request: %d bytes, %v", len(got), err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the rest of an unread body must not be read as the next answer", n)
	}
}

// rawServer answers each connection with serve, on a plain TCP listener,
// for responses net/http's server would not write.
func rawServer(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close() // the client may keep it in its pool
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// readRequest reads one request off r, body included.
func readRequest(r *bufio.Reader) (*http.Request, string, error) {
	req, err := http.ReadRequest(r)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(req.Body)
	return req, string(b), err
}

// traceConns returns a context whose trace counts the connections a
// request got, and how many of them were reused.
func traceConns() (context.Context, *atomic.Int32, *atomic.Int32) {
	var got, reused atomic.Int32
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		got.Add(1)
		if i.Reused {
			reused.Add(1)
		}
	}})
	return ctx, &got, &reused
}

func TestTransportSkipsIdleConnectionsTheServerClosed(t *testing.T) {
	// Each connection serves one request and is then closed without a
	// Connection: close header, as a server whose idle timeout has passed.
	var (
		mu    sync.Mutex
		posts []string
	)
	u := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		req, body, err := readRequest(r)
		if err != nil {
			return
		}
		if req.Method == http.MethodPost {
			mu.Lock()
			posts = append(posts, body)
			mu.Unlock()
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(20 * time.Millisecond) // the client pools the connection first
	})
	tr := leanTransport(t)
	ctx, gotConns, reused := traceConns()
	if got, err := fetch(t, tr, ctx, u); err != nil || got != "ok" {
		t.Fatalf("first GET: %q, %v", got, err)
	}
	time.Sleep(60 * time.Millisecond) // the server has closed it by now
	if got, err := fetch(t, tr, ctx, u); err != nil || got != "ok" {
		t.Fatalf("GET after the server closed the idle connection: %q, %v", got, err)
	}
	// The dead connection is seen before it is used: it is not a send.
	if g, r := gotConns.Load(), reused.Load(); g != 2 || r != 0 {
		t.Errorf("GotConn %d times (%d reused), want 2 (0): a closed idle connection must not be written to", g, r)
	}

	// A POST, which cannot be sent twice, goes out once.
	time.Sleep(60 * time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, io.MultiReader(strings.NewReader(`{"a":1}`)))
	req.ContentLength = 7
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST after the server closed the idle connection: %v", err)
	}
	_, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || posts[0] != `{"a":1}` {
		t.Errorf("server got POST bodies %q, want one", posts)
	}
}

func TestTransportResendsOnlyWhatMaySafelyGoTwice(t *testing.T) {
	// Each connection answers its first request and closes on its second
	// without a word, as a server does that closes an idle connection just
	// as the next request arrives.
	var (
		mu    sync.Mutex
		posts int
	)
	u := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		for i := 0; ; i++ {
			req, _, err := readRequest(r)
			if err != nil || i == 1 {
				return
			}
			if req.Method == http.MethodPost {
				mu.Lock()
				posts++
				mu.Unlock()
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := leanTransport(t)
	ctx, gotConns, reused := traceConns()
	if got, err := fetch(t, tr, ctx, u); err != nil || got != "ok" {
		t.Fatalf("first GET: %q, %v", got, err)
	}
	if got, err := fetch(t, tr, ctx, u); err != nil || got != "ok" {
		t.Fatalf("GET the server dropped: %q, %v; want it sent again on a new connection", got, err)
	}
	if g, r := gotConns.Load(), reused.Load(); g != 3 || r != 1 {
		t.Errorf("GotConn %d times (%d reused), want 3 (1): the resend is on the trace", g, r)
	}

	// Now a POST on the reused connection: dropped, and not sent again.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, io.MultiReader(strings.NewReader(`{"a":1}`)))
	req.ContentLength = 7
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a POST the server dropped succeeded")
	}
	if g := gotConns.Load(); g != 4 {
		t.Errorf("GotConn %d times, want 4: a POST is never sent twice", g)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != 0 {
		t.Errorf("server answered %d POSTs, want 0", posts)
	}
}

func TestTransportStopsWhenTheContextEnds(t *testing.T) {
	gone := make(chan struct{})
	s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the client went away
		close(gone)
	})
	tr := leanTransport(t)

	t.Run("cancelled while waiting for headers", func(t *testing.T) {
		s2, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		_, err := fetch(t, tr, ctx, s2.URL)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %v", d)
		}
	})
	t.Run("deadline while reading the body", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := fetch(t, tr, ctx, s.URL)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("the server never saw the connection close")
		}
	})
	t.Run("a later request works", func(t *testing.T) {
		s3, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fine") })
		if got, err := fetch(t, tr, context.Background(), s3.URL); err != nil || got != "fine" {
			t.Fatalf("%q, %v", got, err)
		}
	})
}

// answering is a raw server that writes answer to every request on a
// connection until the client closes it (after the first request, with
// once), and counts the connections it was given.
func answering(t *testing.T, answer string, once bool) (string, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	u := rawServer(t, func(c net.Conn, r *bufio.Reader) {
		conns.Add(1)
		for {
			if _, _, err := readRequest(r); err != nil {
				return
			}
			_, _ = io.WriteString(c, answer)
			if once {
				return
			}
		}
	})
	return u, &conns
}

func TestTransportOddResponses(t *testing.T) {
	tr := leanTransport(t)
	// fetchAll fetches u n times and wants want each time.
	fetchAll := func(t *testing.T, u string, n int, want string) {
		t.Helper()
		for range n {
			if got, err := fetch(t, tr, context.Background(), u); err != nil || got != want {
				t.Fatalf("%q, %v; want %q", got, err, want)
			}
		}
	}
	t.Run("headers over the limit are refused", func(t *testing.T) {
		u, _ := answering(t, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\nContent-Length: 2\r\n\r\nok", true)
		_, err := fetch(t, tr, context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), "headers too large") {
			t.Fatalf("err = %v, want headers too large", err)
		}
	})
	t.Run("an informational answer before the real one is skipped", func(t *testing.T) {
		u, _ := answering(t, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
		fetchAll(t, u, 2, "ok")
	})
	t.Run("a body that ends with the connection is read and not reused", func(t *testing.T) {
		u, conns := answering(t, "HTTP/1.1 200 OK\r\n\r\nuntil close", true)
		fetchAll(t, u, 2, "until close")
		if n := conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
	t.Run("Connection: keep-alive keeps it, Connection: close does not", func(t *testing.T) {
		for _, tc := range []struct {
			header string
			conns  int32
		}{{"Connection: keep-alive\r\nKeep-Alive: timeout=5", 1}, {"Connection: close", 3}} {
			u, conns := answering(t, "HTTP/1.1 200 OK\r\n"+tc.header+"\r\nContent-Length: 2\r\n\r\nok", false)
			fetchAll(t, u, 3, "ok")
			if n := conns.Load(); n != tc.conns {
				t.Errorf("%s: %d connections for 3 requests, want %d", tc.header, n, tc.conns)
			}
		}
	})
	t.Run("bytes after the answer spoil the connection", func(t *testing.T) {
		u, conns := answering(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE", false)
		fetchAll(t, u, 2, "ok")
		if n := conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2: garbage must not be read as the next answer", n)
		}
	})
}

type recordingRT struct {
	n atomic.Int32
	http.RoundTripper
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.RoundTripper.RoundTrip(req)
}

func TestTransportLeavesHTTPSAndProxiesToTheFallback(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure")
	}))
	defer tlsSrv.Close()
	fb := &recordingRT{RoundTripper: tlsSrv.Client().Transport}
	tr := &upstream.Transport{Fallback: fb}
	defer tr.CloseIdleConnections()
	if got, err := fetch(t, tr, context.Background(), tlsSrv.URL); err != nil || got != "secure" {
		t.Fatalf("https: %q, %v", got, err)
	}
	if fb.n.Load() != 1 {
		t.Errorf("https went to the fallback %d times, want 1", fb.n.Load())
	}

	// Without a Fallback, https goes to http.DefaultTransport: here it
	// does not trust the test server's certificate, and says so.
	if _, err := fetch(t, &upstream.Transport{}, context.Background(), tlsSrv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("https without a Fallback: err = %v, want a certificate error from http.DefaultTransport", err)
	}

	plain, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.String()) })
	proxyURL, _ := url.Parse(plain.URL)
	viaProxy := &recordingRT{RoundTripper: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	defer viaProxy.RoundTripper.(*http.Transport).CloseIdleConnections()
	ptr := &upstream.Transport{Fallback: viaProxy, Proxy: http.ProxyURL(proxyURL)}
	defer ptr.CloseIdleConnections()
	for range 2 {
		if _, err := fetch(t, ptr, context.Background(), "http://upstream.example/x"); err != nil {
			t.Fatal(err)
		}
	}
	if viaProxy.n.Load() != 2 {
		t.Errorf("proxied host went to the fallback %d times, want 2", viaProxy.n.Load())
	}
}

func TestTransportWritesRequestsAsNetHTTPDoes(t *testing.T) {
	type seen struct {
		Method, URI, Host, Body string
		Header                  http.Header
		Length                  int64
	}
	got := make(chan seen, 1)
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, string(b), r.Header.Clone(), r.ContentLength}
	})
	tr := leanTransport(t)
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		wantLength               int64
	}{
		{"a GET with headers and an escaped query", http.MethodGet, "/p/a%20b?ids=1,2&x=%C3%A9", "", http.Header{"X-Api-Key": {"k"}, "X-Multi": {"a", "b"}}, 0},
		{"a POST with a body", http.MethodPost, "/orders", `{"sku":"s-1"}`, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-1"}}, 13},
		{"a POST without a body", http.MethodPost, "/refunds", "", nil, 0},
		{"a DELETE", http.MethodDelete, "/reservations/r-1", "", nil, 0},
		{"framing headers in Header are not sent", http.MethodGet, "/x", "", http.Header{"Content-Length": {"99"}, "Transfer-Encoding": {"chunked"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, body)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			g := <-got
			if g.Method != tc.method || g.URI != tc.path || g.Host != strings.TrimPrefix(s.URL, "http://") || g.Body != tc.body || g.Length != tc.wantLength {
				t.Errorf("server saw %+v", g)
			}
			for k, v := range tc.header {
				if k == "Content-Length" || k == "Transfer-Encoding" {
					continue
				}
				if !slices.Equal(g.Header[k], v) {
					t.Errorf("header %s = %q, want %q", k, g.Header[k], v)
				}
			}
			// A POST says its length even when it is 0, as net/http's does.
			wantCL := []string(nil)
			if tc.method == http.MethodPost {
				wantCL = []string{fmt.Sprint(tc.wantLength)}
			}
			if cl := g.Header["Content-Length"]; !slices.Equal(cl, wantCL) {
				t.Errorf("Content-Length %q, want %q", cl, wantCL)
			}
			if te := g.Header["Transfer-Encoding"]; te != nil {
				t.Errorf("Transfer-Encoding %q sent", te)
			}
			if g.Header.Get("User-Agent") == "" {
				t.Error("no User-Agent")
			}
		})
	}
	t.Run("an invalid request is refused, not sent, and spoils no connection", func(t *testing.T) {
		before := conns.Load()
		for _, h := range []http.Header{{"X-Id": {"a\r\nX-Injected: 1"}}, {"Bad Name": {"v"}}} {
			req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
			req.Header = h
			if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "invalid header") {
				t.Errorf("%v: err = %v", h, err)
			}
		}
		post, _ := http.NewRequest(http.MethodPost, s.URL, nil)
		post.ContentLength = 5
		if _, err := tr.RoundTrip(post); err == nil || !strings.Contains(err.Error(), "no body") {
			t.Errorf("a length without a body: err = %v", err)
		}
		select {
		case g := <-got:
			t.Errorf("server saw %+v", g)
		default:
		}
		if _, err := fetch(t, tr, context.Background(), s.URL); err != nil {
			t.Fatal(err)
		}
		<-got
		if n := conns.Load(); n != before {
			t.Errorf("%d new connections: refused requests closed pooled ones", n-before)
		}
	})
}

// A Client reads every body to its end, however it is framed, so calls one
// after another share one connection; a body shorter than its
// Content-Length fails the call as a transport failure.
func TestClientReadsBodiesToTheirEnd(t *testing.T) {
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("chunked") != "" {
			_, _ = io.WriteString(w, `{"a":`)
			w.(http.Flusher).Flush()
		} else {
			_, _ = io.WriteString(w, `{"a":`)
		}
		_, _ = io.WriteString(w, `1}`)
	})
	c, err := upstream.NewClient(upstream.Options{Service: "things", BaseURL: s.URL, APIKey: "k", Transport: leanTransport(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		call := get
		if i%2 == 1 {
			call.Query = url.Values{"chunked": {"1"}}
		}
		var out struct{ A int }
		if _, err := c.Do(context.Background(), call, &out); err != nil || out.A != 1 {
			t.Fatalf("call %d: %+v, %v", i, out, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 calls one after another opened %d connections, want 1", n)
	}

	short, _ := answering(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"a\":1}", true)
	c, err = upstream.NewClient(upstream.Options{Service: "things", BaseURL: short, APIKey: "k", MaxAttempts: 1, Transport: leanTransport(t)})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ A int }
	if _, err := c.Do(context.Background(), get, &out); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("a body cut short: err = %v, want ErrUnavailable", err)
	}
}
