package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport sends plain-HTTP/1.1 requests over a pool of kept-alive
// connections per host, writing each request and reading its response on
// the caller's goroutine. Every other request — https, or one that the
// environment's proxy settings send through a proxy — goes to Fallback.
//
// Why not net/http's Transport alone: it runs two goroutines per
// connection and hands every request and response between them and the
// caller over channels, and its Request.Write and ReadResponse allocate for
// every header. For a gateway whose upstream calls each wait milliseconds
// for a small answer, those hand-offs, the wake-ups they cause and the
// allocations are a large part of the CPU a call costs. Measured on the
// bench (docs/benchmarks.md, "Upstream transport"): the 14-call dashboard
// at 16 clients needs 0.78–0.87× the gateway CPU of net/http's Transport,
// alternating the two binaries in one run. BenchmarkTransport shows the
// same per request from many goroutines, and the one case where it does
// not pay: one request at a time with the server in the same process,
// where the caller's thread idles while its own server answers.
//
// What it does like net/http: a request on a reused connection that the
// server had closed (nothing came back) is sent again on a new connection
// when it is replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key
// header; body rewindable); httptrace's GotConn and WroteRequest hooks are
// called; the context's cancellation and deadline end the exchange at once;
// response headers are limited (MaxHeaderBytes); informational (1xx)
// answers before the real one are skipped. What it leaves out: HTTP/2 and
// TLS (Fallback's), transparent gzip (it does not ask for it), a 101 switch
// (an error), and timers for idle connections: one idle for longer than
// IdleTimeout is closed when it is next picked, not before.
type Transport struct {
	// Fallback carries what this transport does not: https and proxied
	// requests. Nil: http.DefaultTransport.
	Fallback http.RoundTripper
	// Dialer opens connections. Default: 2 s timeout, 30 s keep-alive.
	Dialer *net.Dialer
	// MaxIdlePerHost bounds the idle connections kept per host. Default 256.
	MaxIdlePerHost int
	// IdleTimeout is how long an idle connection may be reused. Default 90 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a response's status line and headers. Default
	// 64 KiB.
	MaxHeaderBytes int64
	// Proxy reports the proxy for a request (nil: none), as
	// http.Transport.Proxy; asked once per host. Nil: no proxy.
	Proxy func(*http.Request) (*url.URL, error)

	mu    sync.Mutex
	hosts map[string]*hostPool
}

// hostPool is one host's idle connections, newest last.
type hostPool struct {
	proxied bool
	idle    []*pconn
}

// pconn is one kept-alive connection.
type pconn struct {
	conn   net.Conn
	cr     *connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
}

// errHeaderTooLarge ends a response whose headers pass MaxHeaderBytes.
var errHeaderTooLarge = errors.New("upstream response headers too large")

// connReader counts what is read from the connection and, while limit is
// not negative, refuses to read past it.
type connReader struct {
	c     net.Conn
	limit int64
	read  int64
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit == 0 {
		return 0, errHeaderTooLarge
	}
	if r.limit > 0 && int64(len(p)) > r.limit {
		p = p[:r.limit]
	}
	n, err := r.c.Read(p)
	r.read += int64(n)
	if r.limit > 0 {
		r.limit -= int64(n)
	}
	return n, err
}

// aLongTimeAgo is a deadline in the past: setting it ends any I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return t.fallback().RoundTrip(req)
	}
	addr := hostPort(req)
	if t.proxied(addr, req) {
		return t.fallback().RoundTrip(req)
	}
	// A request that cannot be written fails before it takes a connection.
	if err := checkRequest(req); err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	replayable := replayable(req)
	for {
		pc, err := t.get(ctx, addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: pc.conn, Reused: pc.reused})
		}
		resp, err := t.exchange(ctx, addr, pc, req, trace)
		if err == nil {
			return resp, nil
		}
		// A reused connection that failed before answering anything had
		// been closed by the server (between the liveness check and the
		// write): the request most likely never reached it.
		if pc.reused && pc.cr.read == 0 && replayable && ctx.Err() == nil && networkFailure(err) {
			if req.Body != nil && req.Body != http.NoBody {
				body, gerr := req.GetBody()
				if gerr != nil {
					return nil, err
				}
				req = req.Clone(ctx)
				req.Body = body
			}
			continue
		}
		closeBody(req)
		return nil, err
	}
}

// CloseIdleConnections closes every idle connection, here and in Fallback.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	var conns []*pconn
	for _, h := range t.hosts {
		conns = append(conns, h.idle...)
		h.idle = nil
	}
	t.mu.Unlock()
	for _, pc := range conns {
		_ = pc.conn.Close()
	}
	// Not http.DefaultTransport's, which others in the process share.
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// proxied reports whether requests to addr go through a proxy, asking
// Proxy once per host.
func (t *Transport) proxied(addr string, req *http.Request) bool {
	t.mu.Lock()
	h := t.hosts[addr]
	t.mu.Unlock()
	if h != nil {
		return h.proxied
	}
	proxied := false
	if t.Proxy != nil {
		p, err := t.Proxy(req)
		proxied = err != nil || p != nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hosts == nil {
		t.hosts = map[string]*hostPool{}
	}
	if h := t.hosts[addr]; h != nil {
		return h.proxied
	}
	t.hosts[addr] = &hostPool{proxied: proxied}
	return proxied
}

// get returns an idle connection to addr, or dials one. An idle connection
// is first checked for having been closed by the server (or having sent
// something unasked, such as a 408 before closing): net/http learns that
// from the goroutine reading each idle connection; here one non-blocking
// peek does, so a dead connection is neither written to nor counted as a
// send.
func (t *Transport) get(ctx context.Context, addr string) (*pconn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		h := t.hosts[addr]
		var pc *pconn
		if n := len(h.idle); n > 0 {
			pc = h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
		}
		var stale []*pconn
		if pc != nil && now.Sub(pc.idleAt) > t.idleTimeout() {
			// The newest is too old, so are all the others.
			stale = append(h.idle, pc)
			h.idle = nil
			pc = nil
		}
		t.mu.Unlock()
		for _, s := range stale {
			_ = s.conn.Close()
		}
		if pc == nil {
			break
		}
		if !alive(pc.conn) {
			_ = pc.conn.Close()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	d := t.Dialer
	if d == nil {
		d = defaultDialer
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cr := &connReader{c: c, limit: -1}
	return &pconn{conn: c, cr: cr, br: bufio.NewReaderSize(cr, 8<<10), bw: bufio.NewWriterSize(c, 4<<10)}, nil
}

var defaultDialer = &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}

// put returns a connection whose last response was read in full.
func (t *Transport) put(addr string, pc *pconn) {
	pc.idleAt = time.Now()
	t.mu.Lock()
	h := t.hosts[addr]
	if len(h.idle) < t.maxIdle() {
		h.idle = append(h.idle, pc)
		pc = nil
	}
	t.mu.Unlock()
	if pc != nil {
		_ = pc.conn.Close()
	}
}

// exchange writes req on pc and reads the response's headers. On error the
// connection is closed.
func (t *Transport) exchange(ctx context.Context, addr string, pc *pconn, req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = pc.conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	pc.cr.read = 0
	if err := writeRequest(pc.bw, req); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	pc.cr.limit = t.maxHeaderBytes()
	var resp *http.Response
	for informational := 0; ; informational++ {
		if informational > 5 {
			return fail(errors.New("too many 1xx informational responses"))
		}
		var err error
		resp, err = readResponse(pc.br, req)
		if err != nil {
			if errors.Is(err, errHeaderTooLarge) {
				err = fmt.Errorf("%w: over %d bytes", errHeaderTooLarge, t.maxHeaderBytes())
			}
			return fail(err)
		}
		// Informational answers (100 Continue, 103 Early Hints) precede
		// the real one; a 101 switch is nothing this client asked for.
		if resp.StatusCode < 100 || resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("unexpected 101 Switching Protocols"))
		}
		pc.cr.limit = t.maxHeaderBytes()
	}
	pc.cr.limit = -1
	b := &body{ctx: ctx, rc: resp.Body, t: t, addr: addr, pc: pc, stop: stop, keep: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
	}
	resp.Body = b
	return resp, nil
}

// body hands the connection back to the pool once the response has been
// read to its end; closed earlier, the connection is closed.
type body struct {
	ctx    context.Context
	rc     io.ReadCloser
	t      *Transport
	addr   string
	pc     *pconn
	stop   func() bool
	keep   bool
	done   atomic.Bool // the connection was given back or closed
	closed atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.done.Load() {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
		// Cut short by the context (its AfterFunc set a past deadline):
		// say so, as net/http does, rather than "i/o timeout".
		if err != io.EOF && b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
	}
	return n, err
}

// Close closes the connection unless the body was read to its end: what is
// left would be read as the next response.
func (b *body) Close() error {
	b.closed.Store(true)
	b.finish(false)
	return nil
}

// finish gives the connection back when the response ended cleanly, or
// closes it; only its first call counts.
func (b *body) finish(clean bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	// stop reports false when the context ended first and its deadline
	// was (or is being) set in the past: the connection is spoiled.
	if b.stop() && clean && b.keep && b.pc.br.Buffered() == 0 {
		b.t.put(b.addr, b.pc)
		return
	}
	_ = b.pc.conn.Close()
}

// checkRequest refuses, before any connection is taken, what net/http's
// Transport refuses: an invalid method, request URI, Host or header, and a
// length without a body.
func checkRequest(req *http.Request) error {
	if req.Method != "" && !validFieldName(req.Method) {
		return fmt.Errorf("invalid method %q", req.Method)
	}
	if !validHeaderValue(req.URL.RequestURI()) || strings.ContainsAny(req.URL.RequestURI(), " ") {
		return errors.New("invalid request URI")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHost(host) {
		return errors.New("invalid Host")
	}
	for k, vs := range req.Header {
		if !validFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	if (req.Body == nil || req.Body == http.NoBody) && req.ContentLength > 0 {
		return fmt.Errorf("ContentLength=%d with no body", req.ContentLength)
	}
	return nil
}

// framingHeaders are written from the request's fields, never from Header
// (as net/http leaves them out): a second Content-Length or a
// Transfer-Encoding next to it would frame the request two ways.
var framingHeaders = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// writeRequest writes req, checked by checkRequest, as Request.Write does
// for the requests a gateway sends — a known length, no trailers — with
// plain appends instead of fmt and sorted headers (Request.Write was a
// quarter of this transport's CPU: 0.55 s of a 12 s profile, 0.12 s now);
// other requests go to Request.Write.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	hasBody := req.Body != nil && req.Body != http.NoBody
	if len(req.TransferEncoding) > 0 || req.Trailer != nil || req.ContentLength < 0 || (hasBody && req.ContentLength == 0) {
		return req.Write(w)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	_, _ = w.WriteString(method)
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(req.URL.RequestURI())
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(host)
	_, _ = w.WriteString("\r\n")
	if _, ok := req.Header["User-Agent"]; !ok {
		_, _ = w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	for k, vs := range req.Header {
		if framingHeaders[k] {
			continue
		}
		for _, v := range vs {
			_, _ = w.WriteString(k)
			_, _ = w.WriteString(": ")
			_, _ = w.WriteString(v)
			_, _ = w.WriteString("\r\n")
		}
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		// net/http sends a length even for an empty body of these.
		hasBody = true
	}
	if hasBody {
		_, _ = w.WriteString("Content-Length: ")
		_, _ = w.WriteString(strconv.FormatInt(req.ContentLength, 10))
		_, _ = w.WriteString("\r\n")
	}
	if req.Close && req.Header.Get("Connection") == "" {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	_, err := w.WriteString("\r\n")
	if req.Body != nil && req.Body != http.NoBody {
		err = writeBody(w, req)
	}
	return err
}

// errBodyLength is a request body longer or shorter than its ContentLength.
var errBodyLength = errors.New("request body length differs from ContentLength")

// writeBody copies exactly ContentLength bytes of the body, and fails when
// the body has fewer or more.
func writeBody(w io.Writer, req *http.Request) error {
	defer closeBody(req)
	n, err := io.CopyN(w, req.Body, req.ContentLength)
	if err == io.EOF || (err == nil && n != req.ContentLength) {
		return errBodyLength
	}
	if err != nil {
		return err
	}
	if m, _ := req.Body.Read(make([]byte, 1)); m > 0 {
		return errBodyLength
	}
	return nil
}

// networkFailure reports whether err came from the connection (a write or
// read that failed, an end of stream), not from the request itself.
func networkFailure(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// validHost reports whether h is a host[:port] net/http would send: the
// characters of a registered name, an IP literal and a port.
func validHost(h string) bool { return madeOf(h, "!$%&'()*+,-.:;=[]_~") }

// validFieldName reports whether k is an HTTP token (RFC 9110, 5.6.2).
func validFieldName(k string) bool { return madeOf(k, "!#$%&'*+-.^_`|~") }

// madeOf reports whether s is not empty and holds only ASCII letters,
// digits and the bytes of punct.
func madeOf(s, punct string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(punct, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// replayable reports whether req may be sent a second time, as net/http
// decides it.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// hostPort is req's host with the port made explicit.
func hostPort(req *http.Request) string {
	port := req.URL.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(req.URL.Hostname(), port)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback != nil {
		return t.Fallback
	}
	return http.DefaultTransport
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return 90 * time.Second
}

func (t *Transport) maxIdle() int {
	if t.MaxIdlePerHost > 0 {
		return t.MaxIdlePerHost
	}
	return 256
}

func (t *Transport) maxHeaderBytes() int64 {
	if t.MaxHeaderBytes > 0 {
		return t.MaxHeaderBytes
	}
	return 64 << 10
}
