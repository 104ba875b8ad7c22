package gqlhttp_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
	"github.com/tutti-gw/tutti/gqlhttp"
)

const maxBody = 2 << 20 // the contract's default limit, 2 097 152 bytes

func TestPOSTAnswersAValidQueryWithData(t *testing.T) {
	g := newGateway(t)
	r := g.post(t, []byte(`{"query":"query Q { name }","operationName":"Q","variables":{},"extensions":{}}`))
	wantData(t, r, `{"name":"test"}`)
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if g.executed.Load() != 1 {
		t.Errorf("executed = %d, want 1", g.executed.Load())
	}
}

func TestPOSTContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		status      int
	}{
		{"application/json is accepted", "application/json", 200},
		{"a utf-8 charset is accepted", "application/json; charset=utf-8", 200},
		{"the charset name is case-insensitive", "Application/JSON; charset=UTF-8", 200},
		{"another charset is refused", "application/json; charset=iso-8859-1", 415},
		{"text/plain is refused", "text/plain", 415},
		{"a missing Content-Type is refused", "", 415},
		{"application/graphql is refused", "application/graphql", 415},
		{"a form is refused", "application/x-www-form-urlencoded", 415},
		{"multipart is refused", "multipart/form-data; boundary=x", 415},
		{"graphql-response+json is not a request type", "application/graphql-response+json", 415},
		{"an unparsable Content-Type is refused", "application/json; charset", 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			r := g.post(t, []byte(`{"query":"{ name }"}`), "Content-Type", tt.contentType)
			if tt.status == 200 {
				wantData(t, r, `{"name":"test"}`)
				return
			}
			g.wantRequestError(t, r, tt.status, "BAD_REQUEST")
		})
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflated(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(b)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPOSTContentEncoding(t *testing.T) {
	req := []byte(`{"query":"{ name }"}`)
	tests := []struct {
		name     string
		encoding string
		body     []byte
		status   int
	}{
		{"gzip is decompressed", "gzip", gzipped(t, req), 200},
		{"x-gzip is gzip", "x-gzip", gzipped(t, req), 200},
		{"deflate as zlib is decompressed", "deflate", zlibbed(t, req), 200},
		{"deflate as raw deflate is decompressed", "deflate", deflated(t, req), 200},
		{"identity is the body as sent", "identity", req, 200},
		{"identity around gzip is gzip", "identity, GZIP", gzipped(t, req), 200},
		{"br is refused", "br", req, 415},
		{"compress is refused", "compress", req, 415},
		{"stacked codings are refused", "gzip, gzip", gzipped(t, gzipped(t, req)), 415},
		{"an unknown coding beside gzip is refused", "gzip, zstd", gzipped(t, req), 415},
		{"a corrupt gzip body is a bad request", "gzip", []byte("\x1f\x8b\x08\x00garbage"), 400},
		{"a plain body labelled gzip is a bad request", "gzip", req, 400},
		{"a truncated gzip body is a bad request", "gzip", gzipped(t, req)[:20], 400},
		{"a corrupt deflate body is a bad request", "deflate", []byte{0xff, 0xff, 0xff}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			r := g.post(t, tt.body, "Content-Encoding", tt.encoding)
			if tt.status == 200 {
				wantData(t, r, `{"name":"test"}`)
				return
			}
			g.wantRequestError(t, r, tt.status, "BAD_REQUEST")
			if tt.status == 415 && r.header.Get("Accept-Encoding") != "gzip, deflate" {
				t.Errorf("Accept-Encoding = %q, want the accepted codings", r.header.Get("Accept-Encoding"))
			}
		})
	}
}

func TestPOSTBodySize(t *testing.T) {
	exact := paddedRequest(t, maxBody)
	over := paddedRequest(t, maxBody+1)
	tests := []struct {
		name     string
		body     []byte
		length   int64 // -1: chunked
		encoding string
		status   int
	}{
		{"exactly 2 MiB is accepted", exact, int64(len(exact)), "", 200},
		{"exactly 2 MiB chunked is accepted", exact, -1, "", 200},
		{"2 MiB and one byte is refused by its length", over, int64(len(over)), "", 413},
		{"2 MiB and one byte chunked is refused while read", over, -1, "", 413},
		{"2 MiB after gzip decompression is accepted", gzipped(t, exact), -1, "gzip", 200},
		{"2 MiB and one byte after gzip decompression is refused", gzipped(t, over), -1, "gzip", 413},
		{"2 MiB and one byte after deflate decompression is refused", zlibbed(t, over), -1, "deflate", 413},
		{"10 MB is refused", paddedRequest(t, 10_000_000), 10_000_000, "", 413},
		{"10 MB chunked is refused", paddedRequest(t, 10_000_000), -1, "", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // a refused large body costs the server a lingering close
			g := newGateway(t)
			r := g.postRaw(t, bytes.NewReader(tt.body), tt.length, "Content-Encoding", tt.encoding)
			if tt.status == 200 {
				wantData(t, r, `{"name":"test"}`)
				return
			}
			g.wantRequestError(t, r, tt.status, "BAD_REQUEST")
			if strings.Contains(string(r.raw), "xxxxxxxx") {
				t.Errorf("response echoes the body: %.200s", r.raw)
			}
		})
	}
}

func TestPOSTMaxBodyBytesIsConfigurable(t *testing.T) {
	limit := func(_ *gateway, o *gqlhttp.Options) { o.MaxBodyBytes = 100 }
	wantData(t, newGateway(t, limit).post(t, paddedRequest(t, 100)), `{"name":"test"}`)
	g := newGateway(t, limit)
	g.wantRequestError(t, g.post(t, paddedRequest(t, 101)), 413, "BAD_REQUEST")
}

// A gzip bomb: 256 concatenated gzip members of 1 MiB of zeros each, 256 MiB
// decompressed from a quarter of a megabyte. It is refused after 2 MiB of
// output, and the whole exchange allocates a small fraction of what the body
// would decompress to.
func TestPOSTRefusesAGzipBombWithoutInflatingIt(t *testing.T) {
	member := gzipped(t, make([]byte, 1<<20))
	bomb := bytes.Repeat(member, 256)
	g := newGateway(t)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := g.postRaw(t, bytes.NewReader(bomb), int64(len(bomb)), "Content-Encoding", "gzip")
	runtime.ReadMemStats(&after)

	g.wantRequestError(t, r, 413, "BAD_REQUEST")
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("bomb of %d KiB compressed: %.1f MiB allocated in all", len(bomb)>>10, float64(alloc)/(1<<20))
	if alloc > 32<<20 {
		t.Errorf("allocated %d MiB for a refused bomb, want < 32 MiB", alloc>>20)
	}
}

func TestPOSTBodyShape(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		message string // a part of the message
	}{
		{"invalid UTF-8 is refused", "{\"query\":\"{ name }\xff\"}", "UTF-8"},
		{"invalid UTF-8 outside strings is refused", "\xfe{}", "UTF-8"},
		{"invalid JSON is refused", `{"query":`, "not valid JSON"},
		{"a JSON object with trailing data is refused", `{"query":"{ name }"} {}`, "not valid JSON"},
		{"single quotes are not JSON", `{'query':'{ name }'}`, "not valid JSON"},
		{"an empty body is refused", ``, "empty"},
		{"a blank body is refused", " \n\t ", "empty"},
		{"a JSON array is batching", `[{"query":"{ name }"},{"query":"{ name }"}]`, "batching is not supported"},
		{"an empty JSON array is batching", `[]`, "batching is not supported"},
		{"a JSON string is refused", `"{ name }"`, "must be a JSON object"},
		{"a JSON number is refused", `42`, "must be a JSON object"},
		{"JSON null is refused", `null`, "must be a JSON object"},
		{"JSON true is refused", `true`, "must be a JSON object"},
		{"a missing query is refused", `{}`, "no query"},
		{"a null query is refused", `{"query":null}`, "no query"},
		{"an empty query is refused", `{"query":""}`, "no query"},
		{"a blank query is refused", `{"query":"  \n "}`, "no query"},
		{"keys are case-sensitive", `{"Query":"{ name }"}`, "no query"},
		{"a numeric query is refused", `{"query":1}`, "query must be a string"},
		{"an object query is refused", `{"query":{"a":1}}`, "query must be a string"},
		{"string variables are refused", `{"query":"{ name }","variables":"{}"}`, "variables must be"},
		{"array variables are refused", `{"query":"{ name }","variables":[1]}`, "variables must be"},
		{"numeric variables are refused", `{"query":"{ name }","variables":1}`, "variables must be"},
		{"a numeric operationName is refused", `{"query":"{ name }","operationName":1}`, "operationName must be"},
		{"array extensions are refused", `{"query":"{ name }","extensions":[]}`, "extensions must be"},
		{"string extensions are refused", `{"query":"{ name }","extensions":"x"}`, "extensions must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			r := g.post(t, []byte(tt.body))
			g.wantRequestError(t, r, 400, "BAD_REQUEST")
			if len(r.errors) == 1 && !strings.Contains(r.errors[0].Message, tt.message) {
				t.Errorf("message = %q, want it to mention %q", r.errors[0].Message, tt.message)
			}
			if g.prepared.Load() != 0 {
				t.Errorf("a refused body reached the executor")
			}
		})
	}
}

func TestPOSTAcceptsWhatTheContractAllows(t *testing.T) {
	tests := []struct{ name, body string }{
		{"null members count as absent", `{"query":"{ name }","operationName":null,"variables":null,"extensions":null}`},
		{"unknown top-level keys are ignored", `{"query":"{ name }","id":7,"documentId":"x","batch":[1]}`},
		{"whitespace around the object is fine", "\n {\"query\":\"{ name }\"} \n"},
		{"variables are passed on", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":1}}`},
		{"the last of repeated keys counts", `{"query":1,"query":"{ name }"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			r := g.post(t, []byte(tt.body))
			if r.status != 200 || len(r.errors) != 0 {
				t.Fatalf("status %d, body %s", r.status, r.raw)
			}
		})
	}
}

func TestPOSTGraphQLRequestErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"a syntax error fails parsing", `{"query":"{ name "}`, 400, "GRAPHQL_PARSE_FAILED"},
		{"a lexical error fails parsing", `{"query":"{ name ~ }"}`, 400, "GRAPHQL_PARSE_FAILED"},
		{"an unknown field fails validation", `{"query":"{ nope }"}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"an unknown fragment fails validation", `{"query":"{ ...F }"}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"a fragment cycle fails validation", `{"query":"{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"a missing required variable fails validation", `{"query":"query($id: Int!) { find(id: $id) }"}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"a variable of the wrong type fails validation", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"seven"}}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"an unknown operationName is a bad request", `{"query":"query A { name }","operationName":"B"}`, 400, "BAD_REQUEST"},
		{"several operations need an operationName", `{"query":"query A { name } query B { name }"}`, 400, "BAD_REQUEST"},
		{"a subscription is refused over HTTP", `{"query":"subscription { name }"}`, 400, "BAD_REQUEST"},
		{"@defer is refused over HTTP", `{"query":"{ ... @defer { name } }"}`, 400, "BAD_REQUEST"},
		{"@defer in a fragment is refused over HTTP", `{"query":"{ ...F } fragment F on Query { ... @defer { name } }"}`, 400, "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.wantRequestError(t, g.post(t, []byte(tt.body)), tt.status, tt.code)
		})
	}
}

func TestPOSTUnknownOperationNameIsNotEchoed(t *testing.T) {
	g := newGateway(t)
	r := g.post(t, []byte(`{"query":"query A { name }","operationName":"SecretMarker"}`))
	g.wantRequestError(t, r, 400, "BAD_REQUEST")
	if strings.Contains(string(r.raw), "SecretMarker") {
		t.Errorf("response echoes operationName: %s", r.raw)
	}
}

func TestPOSTMutationIsExecuted(t *testing.T) {
	g := newGateway(t)
	// testserver's mutation answers an error without data or code: the
	// transport gives it INTERNAL, and 200 under application/json.
	r := g.post(t, []byte(`{"query":"mutation { name }"}`))
	if r.status != 200 || r.code(0) != "INTERNAL" || r.hasData {
		t.Fatalf("status %d, body %s", r.status, r.raw)
	}
	if g.executed.Load() != 1 {
		t.Errorf("executed = %d, want 1", g.executed.Load())
	}
}

// GraphQL-over-HTTP: under application/graphql-response+json a response
// without a data entry must be 4xx or 5xx; one whose data is null is 2xx.
func TestPOSTStatusOfExecutionResults(t *testing.T) {
	const gr = "application/graphql-response+json"
	t.Run("no data entry is 200 as application/json", func(t *testing.T) {
		r := newGateway(t).post(t, []byte(`{"query":"mutation { name }"}`))
		if r.status != 200 || r.hasData {
			t.Fatalf("status %d, body %s", r.status, r.raw)
		}
	})
	t.Run("no data entry follows its code as graphql-response+json", func(t *testing.T) {
		r := newGateway(t).post(t, []byte(`{"query":"mutation { name }"}`), "Accept", gr)
		if r.status != 500 || r.hasData || r.code(0) != "INTERNAL" {
			t.Fatalf("status %d, body %s", r.status, r.raw)
		}
	})
	for _, accept := range []string{"", gr} {
		t.Run("null data with a field error is 200, Accept "+accept, func(t *testing.T) {
			g := newGatewayOn(t, testserver.NewError())
			r := g.post(t, []byte(`{"query":"{ name }"}`), "Accept", accept)
			if r.status != 200 || !r.hasData || string(r.data) != "null" || len(r.errors) != 1 {
				t.Fatalf("status %d, body %s", r.status, r.raw)
			}
			if r.code(0) != "INTERNAL" {
				t.Errorf("a resolver error without code = %q, want INTERNAL", r.code(0))
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	refuse := func(_ *gateway, o *gqlhttp.Options) {
		o.Authenticate = func(r *http.Request) (context.Context, error) {
			return nil, errors.New("token signature invalid: secret detail")
		}
	}
	t.Run("a refused token answers 401 UNAUTHENTICATED with no data and runs nothing", func(t *testing.T) {
		g := newGateway(t, refuse)
		r := g.post(t, []byte(`{"query":"{ name }"}`), "Authorization", "Bearer abc.def.ghi")
		g.wantRequestError(t, r, 401, "UNAUTHENTICATED")
		if g.prepared.Load() != 0 {
			t.Errorf("the operation was parsed after the token was refused")
		}
		if r.errors[0].Message != "invalid or expired token" {
			t.Errorf("message = %q", r.errors[0].Message)
		}
		if strings.Contains(string(r.raw), "secret detail") || strings.Contains(string(r.raw), "abc.def") {
			t.Errorf("response shows the token or the reason: %s", r.raw)
		}
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a refused token over GET answers 401 too", func(t *testing.T) {
		g := newGateway(t, refuse)
		g.wantRequestError(t, g.getRaw(t, "query=%7B+name+%7D"), 401, "UNAUTHENTICATED")
	})
	t.Run("an invalid document with a refused token is 401: the token is checked first", func(t *testing.T) {
		g := newGateway(t, refuse)
		g.wantRequestError(t, g.post(t, []byte(`{"query":"{ "}`)), 401, "UNAUTHENTICATED")
	})
	t.Run("a bad body with a refused token is 400: the request is checked first", func(t *testing.T) {
		g := newGateway(t, refuse)
		g.wantRequestError(t, g.post(t, []byte(`[]`)), 400, "BAD_REQUEST")
	})
	t.Run("the context Authenticate returns carries the operation", func(t *testing.T) {
		g := newGateway(t, func(_ *gateway, o *gqlhttp.Options) {
			o.Authenticate = func(r *http.Request) (context.Context, error) {
				return context.WithValue(r.Context(), principalKey{}, r.Header.Get("X-Test-User")), nil
			}
		})
		wantData(t, g.post(t, []byte(`{"query":"{ name }"}`), "X-Test-User", "c-1"), `{"name":"test"}`)
		if p, _ := g.principal.Load().(string); p != "c-1" {
			t.Errorf("principal seen by the operation = %q, want c-1", p)
		}
	})
}

func TestPreCheck(t *testing.T) {
	tooLong := func(_ *gateway, o *gqlhttp.Options) {
		o.PreCheck = func(q string) *gqlerror.Error {
			if len(q) > 20 {
				return gqlerr.New(gqlerr.QueryTooComplex, "document exceeds the token limit of 3")
			}
			if strings.Contains(q, "plain") {
				return &gqlerror.Error{Message: "refused without a code"}
			}
			return nil
		}
	}
	t.Run("its error answers 400 with that error and nothing is parsed", func(t *testing.T) {
		g := newGateway(t, tooLong)
		r := g.post(t, []byte(`{"query":"{ name name name name name }"}`))
		g.wantRequestError(t, r, 400, "QUERY_TOO_COMPLEX")
		if r.errors[0].Message != "document exceeds the token limit of 3" {
			t.Errorf("message = %q", r.errors[0].Message)
		}
		if g.prepared.Load() != 0 {
			t.Errorf("the operation was parsed after the pre-check refused it")
		}
	})
	t.Run("an error without a code gets BAD_REQUEST", func(t *testing.T) {
		g := newGateway(t, tooLong)
		g.wantRequestError(t, g.post(t, []byte(`{"query":"{ plain }"}`)), 400, "BAD_REQUEST")
	})
	t.Run("a passing document goes on", func(t *testing.T) {
		wantData(t, newGateway(t, tooLong).post(t, []byte(`{"query":"{ name }"}`)), `{"name":"test"}`)
	})
}

// limitByName refuses operations named Heavy the way the project's limit
// extension does: from MutateOperationContext, with QUERY_TOO_COMPLEX.
type limitByName struct{}

func (limitByName) ExtensionName() string                   { return "limitByName" }
func (limitByName) Validate(graphql.ExecutableSchema) error { return nil }
func (limitByName) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && oc.Operation.Name == "Heavy" {
		return gqlerr.New(gqlerr.QueryTooComplex, "query depth 16 exceeds the limit of 15")
	}
	return nil
}

func TestLimitErrorsFromExtensions(t *testing.T) {
	t.Run("a limit mutator's error answers 400 with its code", func(t *testing.T) {
		g := newGateway(t, func(g *gateway, _ *gqlhttp.Options) { g.Use(limitByName{}) })
		r := g.post(t, []byte(`{"query":"query Heavy { name }"}`))
		g.wantRequestError(t, r, 400, "QUERY_TOO_COMPLEX")
		if !strings.Contains(r.errors[0].Message, "limit of 15") {
			t.Errorf("message = %q", r.errors[0].Message)
		}
	})
	t.Run("gqlgen's complexity limit is reported as QUERY_TOO_COMPLEX", func(t *testing.T) {
		g := newGateway(t, func(g *gateway, _ *gqlhttp.Options) {
			g.Use(extension.FixedComplexityLimit(2))
			g.SetCalculatedComplexity(5)
		})
		g.wantRequestError(t, g.post(t, []byte(`{"query":"{ name }"}`)), 400, "QUERY_TOO_COMPLEX")
	})
}

func TestPersistedQueries(t *testing.T) {
	apq := func(g *gateway, _ *gqlhttp.Options) {
		g.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](10)})
	}
	const hash = "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38" // sha256("{__typename}")
	byHash := `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`
	t.Run("an unknown hash without a query is PERSISTED_QUERY_NOT_FOUND", func(t *testing.T) {
		g := newGateway(t, apq)
		g.wantRequestError(t, g.post(t, []byte(byHash)), 200, "PERSISTED_QUERY_NOT_FOUND")
	})
	t.Run("a registered hash runs without a query", func(t *testing.T) {
		g := newGateway(t, apq)
		reg := `{"query":"{__typename}","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`
		if r := g.post(t, []byte(reg)); r.status != 200 {
			t.Fatalf("register: status %d, body %s", r.status, r.raw)
		}
		if r := g.post(t, []byte(byHash)); r.status != 200 || len(r.errors) != 0 {
			t.Fatalf("by hash: status %d, body %s", r.status, r.raw)
		}
	})
	t.Run("a wrong hash is a bad request", func(t *testing.T) {
		g := newGateway(t, apq)
		wrong := `{"query":"{ name }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}}`
		g.wantRequestError(t, g.post(t, []byte(wrong)), 400, "BAD_REQUEST")
	})
}

// No refusal repeats the request body: each body below carries a marker in
// the part that is wrong, and the marker must not come back.
func TestErrorMessagesDoNotEchoTheBody(t *testing.T) {
	const m = "ZZsecretZZ"
	bodies := []string{
		`{"query":"{ name }", "` + m + `"`,
		`"` + m + `"`,
		`[{"query":"` + m + `"}]`,
		`{"query":"{ name }","variables":"` + m + `"}`,
		`{"query":"{ name }","variables":["` + m + `"]}`,
		`{"query":"{ name }","extensions":"` + m + `"}`,
		`{"query":{"` + m + `":1}}`,
		`{"query":"{ name }","operationName":"` + m + `"}`,
		"{\"query\":\"" + m + "\xff\"}",
		`{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"` + m + `"}}`,
		`{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":{"` + m + `":1}}}`,
	}
	for _, b := range bodies {
		g := newGateway(t)
		r := g.post(t, []byte(b))
		if r.status == 200 {
			t.Errorf("body %q accepted", b)
		}
		if strings.Contains(string(r.raw), m) {
			t.Errorf("body %q: response echoes it: %s", b, r.raw)
		}
	}
}

// Parse and validation messages quote names from the document; a huge name
// is cut short rather than reflected whole.
func TestLongMessagesAreCut(t *testing.T) {
	g := newGateway(t)
	name := strings.Repeat("a", 100_000)
	r := g.post(t, []byte(`{"query":"{ `+name+` }"}`))
	g.wantRequestError(t, r, 400, "GRAPHQL_VALIDATION_FAILED")
	if len(r.raw) > 4096 {
		t.Errorf("response is %d bytes", len(r.raw))
	}
}
