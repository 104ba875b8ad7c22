package gqlhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlhttp"
)

// gateway is a gqlgen handler over testserver's schema (Query.name,
// Query.find(id: Int!), Mutation.name, Subscription.name) with the transports
// under test, served over real HTTP. It counts what reached the executor.
type gateway struct {
	*testserver.TestServer
	url string
	// prepared counts operations that reached CreateOperationContext
	// (parsing); executed counts those that reached DispatchOperation.
	prepared, executed atomic.Int64
	// principal is the value of principalKey the last executed operation saw.
	principal atomic.Value
}

type principalKey struct{}

type gatewayOption func(*gateway, *gqlhttp.Options)

func newGateway(t *testing.T, opts ...gatewayOption) *gateway {
	t.Helper()
	return newGatewayOn(t, testserver.New(), opts...)
}

func newGatewayOn(t *testing.T, ts *testserver.TestServer, opts ...gatewayOption) *gateway {
	t.Helper()
	g := &gateway{TestServer: ts}
	o := gqlhttp.Options{Logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(g, &o)
	}
	g.AddTransport(gqlhttp.POST{Options: o})
	g.AddTransport(gqlhttp.GET{Options: o})
	g.Use(countPrepared{&g.prepared})
	g.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		g.executed.Add(1)
		if p, ok := ctx.Value(principalKey{}).(string); ok {
			g.principal.Store(p)
		}
		return next(ctx)
	})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.url = srv.URL + "/graphql"
	return g
}

// countPrepared counts operations reaching the executor's parameter stage,
// the first thing CreateOperationContext does.
type countPrepared struct{ n *atomic.Int64 }

func (countPrepared) ExtensionName() string                   { return "countPrepared" }
func (countPrepared) Validate(graphql.ExecutableSchema) error { return nil }
func (c countPrepared) MutateOperationParameters(context.Context, *graphql.RawParams) *gqlerror.Error {
	c.n.Add(1)
	return nil
}

// result is a decoded GraphQL-over-HTTP response.
type result struct {
	status  int
	header  http.Header
	raw     []byte
	hasData bool
	data    json.RawMessage
	errors  []respError
}

type respError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (r result) code(i int) string {
	if i >= len(r.errors) {
		return ""
	}
	c, _ := r.errors[i].Extensions["code"].(string)
	return c
}

func decode(t testing.TB, resp *http.Response) result {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	res := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatalf("response is not a JSON object: %v: %q", err, raw)
	}
	res.data, res.hasData = top["data"]
	if e, ok := top["errors"]; ok {
		if err := json.Unmarshal(e, &res.errors); err != nil {
			t.Fatalf("errors is not a list of errors: %v: %s", err, e)
		}
		if len(res.errors) == 0 {
			t.Fatalf("errors is present but empty: %s", raw)
		}
	}
	for i, e := range res.errors {
		if c, ok := e.Extensions["code"].(string); !ok || c == "" {
			t.Fatalf("error %d has no extensions.code: %s", i, raw)
		}
	}
	return res
}

// post sends body to the gateway with the given headers (Content-Type
// defaults to application/json).
func (g *gateway) post(t *testing.T, body []byte, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	setHeaders(req, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return decode(t, resp)
}

// get sends a GET with the given query-string parameters.
func (g *gateway) get(t *testing.T, params url.Values, header ...string) result {
	t.Helper()
	return g.getRaw(t, params.Encode(), header...)
}

func (g *gateway) getRaw(t *testing.T, rawQuery string, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url+"?"+rawQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	setHeaders(req, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	return decode(t, resp)
}

func setHeaders(req *http.Request, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			req.Header.Del(kv[i])
			continue
		}
		req.Header.Set(kv[i], kv[i+1])
	}
}

// postRaw sends a POST over a connection of its own, writing the body while
// it reads the response. A server that refuses a large body answers before
// reading it and then closes the connection; net/http's client may report
// the failed write instead of the answer, this does not. contentLength -1
// sends the body chunked.
func (g *gateway) postRaw(t *testing.T, body io.Reader, contentLength int64, header ...string) result {
	t.Helper()
	u, err := url.Parse(g.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := http.NewRequest(http.MethodPost, g.url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = contentLength
	if contentLength < 0 {
		req.TransferEncoding = []string{"chunked"}
	}
	req.Header.Set("Content-Type", "application/json")
	setHeaders(req, header)
	go func() { _ = req.Write(conn) }() // a refused body's write fails; the answer counts
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return decode(t, resp)
}

// wantRequestError asserts a refused request: status, exactly one error with
// code, no data entry, and nothing executed.
func (g *gateway) wantRequestError(t *testing.T, r result, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(r.errors) != 1 || r.code(0) != code {
		t.Fatalf("errors = %s, want one with code %s", r.raw, code)
	}
	if r.hasData {
		t.Errorf("response has a data entry: %s", r.raw)
	}
	if n := g.executed.Load(); n != 0 {
		t.Errorf("executor ran %d operations, want none", n)
	}
}

func wantData(t *testing.T, r result, data string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.status, r.raw)
	}
	if len(r.errors) != 0 {
		t.Fatalf("unexpected errors: %s", r.raw)
	}
	if !jsonEqual(r.data, data) {
		t.Fatalf("data = %s, want %s", r.data, data)
	}
}

func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// paddedRequest is a valid request for { name } of exactly size bytes,
// filled out by an ignored top-level member.
func paddedRequest(t testing.TB, size int) []byte {
	t.Helper()
	head := `{"query":"{ name }","padding":"`
	tail := `"}`
	n := size - len(head) - len(tail)
	if n < 0 {
		t.Fatalf("size %d too small", size)
	}
	return []byte(head + strings.Repeat("x", n) + tail)
}
