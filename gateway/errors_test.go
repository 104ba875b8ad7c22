package gateway_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tutti-gw/tutti/demo"
)

// These tests drive the gateway over HTTP as a client does and check the
// error contract of graphql-api.md ("Errors", "Limits" (the request part),
// "Security", the auth rows of "Field sources and rules") and the common
// rules of upstreams.md: exact HTTP status, extensions.code, data present or
// absent, error paths and upstream calls.

// shortTimeout keeps the tests that make a service hang quick: three
// attempts of this plus back-off stay well under a second and a half.
var shortTimeout = map[string]string{"GATEWAY_UPSTREAM_TIMEOUT": "300ms"}

// publicQuery needs only the catalog.
const publicQuery = `{ product(sku: "SKU-0001") { sku title } }`

// ---------------------------------------------------------------------------
// helpers

// tree decodes the response data as a generic JSON tree.
func (r response) tree(t *testing.T) any {
	t.Helper()
	if len(r.Data) == 0 {
		t.Fatalf("response has no data (status %d): %+v", r.Status, r.Errors)
	}
	var v any
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, r.Data)
	}
	return v
}

// lookup walks a dotted path ("me.orders.0.shipment") through a JSON tree.
// ok is false when a step does not exist (a null on the way included).
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// setNull replaces the value at a dotted path with null.
func setNull(t *testing.T, v any, path string) {
	t.Helper()
	i := strings.LastIndex(path, ".")
	parent, last := v, path
	if i >= 0 {
		var ok bool
		if parent, ok = lookup(v, path[:i]); !ok {
			t.Fatalf("no %s in %v", path[:i], v)
		}
		last = path[i+1:]
	}
	switch x := parent.(type) {
	case map[string]any:
		if _, ok := x[last]; !ok {
			t.Fatalf("no %s in the data", path)
		}
		x[last] = nil
	case []any:
		n, err := strconv.Atoi(last)
		if err != nil || n >= len(x) {
			t.Fatalf("no %s in the data", path)
		}
		x[n] = nil
	default:
		t.Fatalf("cannot null %s: parent is %T", path, parent)
	}
}

// mustNull fails unless the data holds null at path.
func mustNull(t *testing.T, data any, path string) {
	t.Helper()
	v, ok := lookup(data, path)
	if !ok || v != nil {
		t.Errorf("data.%s = %v (present %v), want null", path, v, ok)
	}
}

// mustValue fails unless the data holds a non-null value at path; it
// returns that value.
func mustValue(t *testing.T, data any, path string) any {
	t.Helper()
	v, ok := lookup(data, path)
	if !ok || v == nil {
		t.Errorf("data.%s is missing or null, want a value", path)
	}
	return v
}

// dotted writes an error path as "me.orders.0.shipment".
func dotted(p []any) string {
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ".")
}

// errorPaths returns the dotted path of each error, sorted.
func (r response) errorPaths() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = dotted(e.Path)
	}
	slices.Sort(out)
	return out
}

// mustCodes fails unless the errors carry exactly these codes, in order.
func mustCodes(t *testing.T, r response, want ...string) {
	t.Helper()
	if got := r.codes(); !slices.Equal(got, want) {
		t.Fatalf("error codes = %v, want %v\nerrors: %+v\ndata: %s", got, want, r.Errors, r.Data)
	}
}

// mustRequestError checks a request refused before execution: the status,
// exactly one error with the code, and no "data" entry at all.
func mustRequestError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("HTTP status = %d, want %d (errors %+v)", r.Status, status, r.Errors)
	}
	if !slices.Equal(r.codes(), []string{code}) {
		t.Errorf("error codes = %v, want [%s]: %+v", r.codes(), code, r.Errors)
	}
	if r.HasData {
		t.Errorf("response has a data entry (%s), want none", r.Data)
	}
}

// mustValidationErrors fails unless r is a 400 with only
// GRAPHQL_VALIDATION_FAILED errors and no data.
func mustValidationErrors(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.HasData || len(r.Errors) == 0 {
		t.Errorf("HTTP status %d, data %v, %d errors; want 400, no data, errors", r.Status, r.HasData, len(r.Errors))
	}
	for _, c := range r.codes() {
		if c != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("error codes = %v, want GRAPHQL_VALIDATION_FAILED only", r.codes())
		}
	}
}

// mustNoCalls fails when any upstream was called since the last reset.
func (e *env) mustNoCalls(t *testing.T) {
	t.Helper()
	if got := e.calls(); len(got) != 0 {
		t.Errorf("upstream calls = %v, want none\nby endpoint: %v", got, e.demo.CallsByEndpoint())
	}
}

// leaks are what error messages must never show: upstream addresses, the
// services' keys, their raw bodies.
var leaks = []string{"127.0.0.1", "localhost", "http://", "demo-", "-key", "injected", "<html", "Bad Gateway", "goroutine", ".go:"}

// mustNotLeak fails when an error message or extension shows an upstream
// URL, key, raw body or stack trace.
func mustNotLeak(t *testing.T, r response) {
	t.Helper()
	for _, e := range r.Errors {
		ext, _ := json.Marshal(e.Extensions)
		text := e.Message + " " + string(ext)
		for _, l := range leaks {
			if strings.Contains(text, l) {
				t.Errorf("error at %s shows %q: %s", dotted(e.Path), l, text)
			}
		}
	}
}

// newRequest builds a raw request to the gateway.
func (e *env) newRequest(method, target string, body []byte, header map[string]string) *http.Request {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+target, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// postBody posts body as application/json with extra headers.
func (e *env) postBody(body []byte, header map[string]string) response {
	e.t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	maps.Copy(h, header)
	return e.send(e.newRequest(http.MethodPost, "/graphql", body, h))
}

// getQuery sends GET /graphql with the query (and variables) in the URL.
func (e *env) getQuery(query string, vars map[string]any) response {
	e.t.Helper()
	v := url.Values{"query": {query}}
	if vars != nil {
		b, _ := json.Marshal(vars)
		v.Set("variables", string(b))
	}
	return e.send(e.newRequest(http.MethodGet, "/graphql?"+v.Encode(), nil, nil))
}

func requestJSON(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibbed(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signed signs claims with method and key, for the bad-token cases.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// orderWithDistinctLines returns a customer's order whose lines hold at least n
// distinct known skus, none of them repeated.
func orderWithDistinctLines(t *testing.T, d *demo.Dataset, customerID string, n int) demo.Order {
	t.Helper()
	for _, o := range ordersOf(d, customerID) {
		seen := map[string]bool{}
		ok := len(o.Lines) >= n
		for _, l := range o.Lines {
			if seen[l.SKU] || l.SKU == demo.UnknownSKU {
				ok = false
			}
			seen[l.SKU] = true
		}
		if ok {
			return o
		}
	}
	t.Fatalf("customer %s has no order with %d distinct known skus", customerID, n)
	return demo.Order{}
}

// ---------------------------------------------------------------------------
// 1. Authentication and authorisation

// TestErrorsAuthRules checks the auth rows of "Field sources and rules":
// anonymous, own, other and support access, with the calls each costs.
func TestErrorsAuthRules(t *testing.T) {
	e := newEnv(t, nil)
	data := e.demo.Data()
	ada := demo.CustomerMostOrders
	other := data.Customers[10].ID
	adaOrder := ordersOf(data, ada)[0]
	adaName := data.Customers[0].FullName
	otherName := ""
	if c, ok := data.Customer(other); ok {
		otherName = c.FullName
	}

	tests := []struct {
		name  string
		token string
		query string
		// codes of the errors, in order; paths of those errors, sorted.
		codes []string
		paths []string
		nulls []string
		// values that must be there, by dotted path.
		want  map[string]any
		calls map[string]int
	}{
		{
			name:  "an anonymous me is UNAUTHENTICATED while the public product beside it still answers",
			query: `{ me { name } product(sku: "SKU-0001") { sku } }`,
			codes: []string{"UNAUTHENTICATED"}, paths: []string{"me"}, nulls: []string{"me"},
			want:  map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "an anonymous customer(id) is UNAUTHENTICATED and costs no customers call",
			query: `{ customer(id: "` + ada + `") { name } product(sku: "SKU-0001") { sku } }`,
			codes: []string{"UNAUTHENTICATED"}, paths: []string{"customer"}, nulls: []string{"customer"},
			want:  map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "anonymous customers(ids) is UNAUTHENTICATED",
			query: `{ customers(ids: ["` + ada + `"]) { name } product(sku: "SKU-0001") { sku } }`,
			codes: []string{"UNAUTHENTICATED"}, paths: []string{"customers"}, nulls: []string{"customers"},
			want:  map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "an anonymous order(id) is UNAUTHENTICATED and costs no orders call",
			query: `{ order(id: "` + adaOrder.ID + `") { id } product(sku: "SKU-0001") { sku } }`,
			codes: []string{"UNAUTHENTICATED"}, paths: []string{"order"}, nulls: []string{"order"},
			want:  map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "four protected root fields without a token give four errors and the public one answers",
			query: `{ me { id } customer(id: "` + ada + `") { id } customers(ids: ["` + ada + `"]) { id } order(id: "` + adaOrder.ID + `") { id } product(sku: "SKU-0001") { sku } }`,
			codes: []string{"UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
			paths: []string{"customer", "customers", "me", "order"},
			nulls: []string{"me", "customer", "customers", "order"},
			want:  map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "another customer's record is FORBIDDEN, decided without any upstream call",
			token: e.token(ada),
			query: `{ customer(id: "` + other + `") { name orders { id } } }`,
			codes: []string{"FORBIDDEN"}, paths: []string{"customer"}, nulls: []string{"customer"},
			calls: map[string]int{},
		},
		{
			name:  "a forbidden customer does not hide the caller's own me beside it",
			token: e.token(ada),
			query: `{ me { name } customer(id: "` + other + `") { name } }`,
			codes: []string{"FORBIDDEN"}, paths: []string{"customer"}, nulls: []string{"customer"},
			want:  map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name:  "customers(ids) without scope support is FORBIDDEN, even for the caller's own id",
			token: e.token(ada),
			query: `{ customers(ids: ["` + ada + `"]) { name } }`,
			codes: []string{"FORBIDDEN"}, paths: []string{"customers"}, nulls: []string{"customers"},
			calls: map[string]int{},
		},
		{
			name:  "a token with another scope is not support",
			token: e.token(ada, "admin", "orders:read"),
			query: `{ customers(ids: ["` + other + `"]) { name } }`,
			codes: []string{"FORBIDDEN"}, paths: []string{"customers"}, nulls: []string{"customers"},
			calls: map[string]int{},
		},
		{
			name:  "the customer themself reads their own record",
			token: e.token(ada),
			query: `{ customer(id: "` + ada + `") { name } }`,
			want:  map[string]any{"customer.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name:  "support reads any customer",
			token: e.token("staff-1", "support"),
			query: `{ customer(id: "` + other + `") { name } }`,
			want:  map[string]any{"customer.name": otherName},
			calls: map[string]int{"customers": 1},
		},
		{
			name:  "support reads several customers, null for an unknown id, no error",
			token: e.token("staff-1", "support"),
			query: `{ customers(ids: ["` + ada + `", "c-unknown", "` + other + `"]) { name } }`,
			nulls: []string{"customers.1"},
			want:  map[string]any{"customers.0.name": adaName, "customers.2.name": otherName},
			calls: map[string]int{"customers": 1},
		},
		{
			name:  "support reads another customer's order",
			token: e.token("staff-1", "other-scope", "support"),
			query: `{ order(id: "` + adaOrder.ID + `") { id } }`,
			want:  map[string]any{"order.id": adaOrder.ID},
			calls: map[string]int{"orders": 1},
		},
		{
			name:  "an unknown customer is null without error",
			token: e.token("staff-1", "support"),
			query: `{ customer(id: "c-9999") { name } }`,
			nulls: []string{"customer"},
			calls: map[string]int{"customers": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.demo.ResetCounters()
			r := e.query(tt.token, tt.query, nil)
			if r.Status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200", r.Status)
			}
			mustCodes(t, r, tt.codes...)
			if paths := r.errorPaths(); len(tt.paths) > 0 && !slices.Equal(paths, tt.paths) {
				t.Errorf("error paths = %v, want %v", paths, tt.paths)
			}
			d := r.tree(t)
			for _, p := range tt.nulls {
				mustNull(t, d, p)
			}
			for p, want := range tt.want {
				if got, _ := lookup(d, p); got != want {
					t.Errorf("data.%s = %v, want %v", p, got, want)
				}
			}
			if got := e.calls(); !maps.Equal(got, tt.calls) {
				t.Errorf("upstream calls = %v, want %v\nby endpoint: %v", got, tt.calls, e.demo.CallsByEndpoint())
			}
		})
	}
}

// TestErrorsOrderOfAnotherCustomer checks that another customer's order and
// an unknown order get the same answer, null with no error, and that the
// shipment and payment of the foreign order never reach the response.
func TestErrorsOrderOfAnotherCustomer(t *testing.T) {
	e := newEnv(t, nil)
	data := e.demo.Data()
	foreign := ordersOf(data, demo.CustomerMostOrders)[0]
	token := e.token(data.Customers[20].ID)
	const q = `query($id: ID!) { order(id: $id) { id status total { cents } shipment { trackingNumber } payment { id } customer { name email } } }`

	var answers []string
	for _, id := range []string{foreign.ID, "o-999999"} {
		r := e.query(token, q, map[string]any{"id": id})
		if r.Status != http.StatusOK || len(r.Errors) != 0 {
			t.Fatalf("order %s: status %d, errors %+v; want 200 without errors", id, r.Status, r.Errors)
		}
		if string(r.Data) != `{"order":null}` {
			t.Errorf("order %s: data = %s, want {\"order\":null}", id, r.Data)
		}
		answers = append(answers, string(r.Data))
	}
	if answers[0] != answers[1] {
		t.Errorf("another customer's order answers %s, an unknown order %s: they must not differ", answers[0], answers[1])
	}

	// Nor may the explained calls tell them apart (anyone may ask for
	// them): the same calls, keys and outcomes, timings aside. Support
	// staff, who may read both, see which key a service did not know.
	explained := func(token, id string) (string, int) {
		r := e.postBody(requestJSON(q, map[string]any{"id": id}), map[string]string{"Authorization": "Bearer " + token, "X-Tutti-Plan": "1"})
		calls, _ := r.Extensions["calls"].([]any)
		var out []string
		notFound := 0
		for _, c := range calls {
			m := c.(map[string]any)
			n, _ := m["notFound"].(float64)
			notFound += int(n)
			// Whether a batch the answer did not need had ended by then
			// (pending, and with it cacheHits and upstream, not known
			// yet) is timing, like the times; how long each answer is
			// cached is the same (TestNotFoundAnswersOfPrivateData...).
			out = append(out, fmt.Sprintf("%v keys=%v failed=%v notFound=%v stale=%v", m["call"], m["keys"], m["failed"], m["notFound"], m["stale"]))
		}
		if len(out) == 0 {
			t.Fatalf("order %s: no call explained: %v", id, r.Extensions)
		}
		slices.Sort(out)
		return strings.Join(out, "\n"), notFound
	}
	other := e.token(data.Customers[21].ID)
	foreignCalls, _ := explained(other, foreign.ID)
	unknownCalls, _ := explained(other, "o-999998")
	if foreignCalls != unknownCalls {
		t.Errorf("explained calls differ:\nanother customer's order:\n%s\nan unknown order:\n%s", foreignCalls, unknownCalls)
	}
	if _, n := explained(e.token("s-1", "support"), "o-999997"); n == 0 {
		t.Errorf("support staff do not see that orders.byId did not know an unknown order")
	}
}

// TestErrorsBadTokens checks that a token that is expired, unsigned, wrongly
// signed, of another algorithm or malformed refuses the whole request: HTTP
// 401, exactly one UNAUTHENTICATED error, no data, no upstream call, even
// for a query that needs no token.
func TestErrorsBadTokens(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now()
	claims := func(sub string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "iat": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix()}
	}
	valid := claims("c-0001", now.Add(time.Hour))
	good := e.token("c-0002")
	parts := strings.Split(good, ".")
	forged := strings.Split(e.token("c-0001", "support"), ".")

	tests := []struct {
		name   string
		header string
	}{
		{"an expired token", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("c-0001", now.Add(-time.Hour)))},
		{"a token expired two seconds ago", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testSecret), claims("c-0001", now.Add(-2*time.Second)))},
		{"an unsigned token with alg none", "Bearer " + signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
		{"a token signed with another secret", "Bearer " + signed(t, jwt.SigningMethodHS256, []byte("not-the-gateway-secret"), valid)},
		{"a token signed with HS512 and the right secret", "Bearer " + signed(t, jwt.SigningMethodHS512, []byte(testSecret), valid)},
		{"a token signed with HS384 and the right secret", "Bearer " + signed(t, jwt.SigningMethodHS384, []byte(testSecret), valid)},
		{"a valid token whose payload was swapped for another subject's", "Bearer " + parts[0] + "." + forged[1] + "." + parts[2]},
		{"a token without its signature", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"a malformed token", "Bearer not-a-jwt"},
		{"a token of three parts that are not base64 JSON", "Bearer a.b.c"},
		{"a token with a header that is not JSON", "Bearer " + base64.RawURLEncoding.EncodeToString([]byte("{alg")) + "." + parts[1] + "." + parts[2]},
		{"Basic credentials", "Basic x"},
		{"Basic credentials of a user and password", "Basic " + base64.StdEncoding.EncodeToString([]byte("c-0001:secret"))},
		{"an empty Bearer", "Bearer "},
		{"the scheme alone", "Bearer"},
		{"a token without a scheme", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, q := range []string{publicQuery, `{ me { name } }`} {
				e.demo.ResetCounters()
				r := e.postBody(requestJSON(q, nil), map[string]string{"Authorization": tt.header})
				mustRequestError(t, r, http.StatusUnauthorized, "UNAUTHENTICATED")
				mustNotLeak(t, r)
				for _, err := range r.Errors {
					if tok := strings.TrimPrefix(tt.header, "Bearer "); len(tok) > 8 && strings.Contains(err.Message, tok) {
						t.Errorf("the message repeats the token: %q", err.Message)
					}
				}
				e.mustNoCalls(t)
			}
		})
	}

	t.Run("the same public query with a valid token answers", func(t *testing.T) {
		e.query(good, publicQuery, nil).mustOK(t)
	})
	// None of the refusals the contract lists: a token without exp (a test
	// client's minimal token) or issued "in the future" by a skewed clock.
	for name, c := range map[string]jwt.MapClaims{
		"a token without exp":                   {"sub": "c-0001"},
		"a token whose iat is an hour from now": {"sub": "c-0001", "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()},
	} {
		t.Run(name+" is accepted", func(t *testing.T) {
			r := e.query(signed(t, jwt.SigningMethodHS256, []byte(testSecret), c), `{ me { id } }`, nil).mustOK(t)
			if string(r.Data) != `{"me":{"id":"c-0001"}}` {
				t.Errorf("data = %s", r.Data)
			}
		})
	}
	t.Run("a bad token is refused before parsing: a syntax error with a bad token is 401", func(t *testing.T) {
		e.demo.ResetCounters()
		r := e.postBody([]byte(`{"query":"{ product(sku: "}`), map[string]string{"Authorization": "Bearer not-a-jwt"})
		mustRequestError(t, r, http.StatusUnauthorized, "UNAUTHENTICATED")
		e.mustNoCalls(t)
	})
	t.Run("the request is checked before the token: a body that is not JSON with a bad token is 400", func(t *testing.T) {
		r := e.postBody([]byte(`{"query":`), map[string]string{"Authorization": "Bearer not-a-jwt"})
		mustRequestError(t, r, http.StatusBadRequest, "BAD_REQUEST")
	})
}

// TestErrorsMutationsNeedAToken checks that both mutations refuse an
// anonymous caller with UNAUTHENTICATED. Their fields are non-null, so the
// null propagates to data itself (GraphQL spec, "Handling Execution
// Errors"), and nothing is called upstream.
func TestErrorsMutationsNeedAToken(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name, query, field string
	}{
		{
			name:  "checkout without a token",
			query: `mutation { checkout(input: {lines: [{sku: "SKU-0001", quantity: 1}], paymentToken: "tok_visa", idempotencyKey: "errors-test-1"}) { status order { id } failure message } }`,
			field: "checkout",
		},
		{
			name:  "cancelOrder without a token",
			query: `mutation { cancelOrder(id: "o-000001") { id status } }`,
			field: "cancelOrder",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.demo.ResetCounters()
			r := e.query("", tt.query, nil)
			if r.Status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200 (execution began, data is present)", r.Status)
			}
			mustCodes(t, r, "UNAUTHENTICATED")
			if got := r.errorPaths(); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("error paths = %v, want [%s]", got, tt.field)
			}
			if !r.HasData || string(r.Data) != "null" {
				t.Errorf("data = %s (present %v), want null: %s is non-null", r.Data, r.HasData, tt.field)
			}
			e.mustNoCalls(t)
			if n := len(e.demo.Emails()); n != 0 {
				t.Errorf("%d e-mails were sent", n)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 2. Headers sent upstream

// TestErrorsUpstreamHeaders checks upstreams.md's common rules on the
// requests the demo services recorded: each service's own X-Api-Key, one
// X-Request-Id per GraphQL request, X-User-Id = the token's subject on
// customers, orders, shipping and payments only, and never the client's
// Authorization header.
func TestErrorsUpstreamHeaders(t *testing.T) {
	e := newEnv(t, nil)
	ada := demo.CustomerMostOrders
	const everything = `{ %s { name orders(first: 3) { id lines { product { title stock } } shipment { status } payment { status } } } }`
	userServices := map[string]bool{"customers": true, "orders": true, "shipping": true, "payments": true}
	all := []string{"customers", "orders", "catalog", "inventory", "shipping", "payments"}

	// run sends one query and returns the request id every upstream call
	// carried, after checking the headers of each.
	run := func(t *testing.T, token, query, wantUser string, services []string) string {
		t.Helper()
		e.demo.ResetCounters()
		r := e.query(token, query, nil).mustOK(t)
		ids := map[string]bool{}
		for _, s := range demo.Services {
			reqs := e.demo.Requests(s)
			if slices.Contains(services, s) && len(reqs) == 0 {
				t.Errorf("the query made no call to %s; the test needs one", s)
			}
			if !slices.Contains(services, s) && len(reqs) > 0 {
				t.Errorf("the query made %d unexpected calls to %s", len(reqs), s)
			}
			for _, req := range reqs {
				where := s + " " + req.Method + " " + req.Path
				if got, want := req.Header.Get("X-Api-Key"), e.demo.APIKey(s); got != want {
					t.Errorf("%s: X-Api-Key = %q, want %q", where, got, want)
				}
				if v := req.Header.Values("Authorization"); len(v) > 0 {
					t.Errorf("%s: the client's Authorization reached the service: %q", where, v)
				}
				for k, vs := range req.Header {
					for _, v := range vs {
						if token != "" && strings.Contains(v, token) {
							t.Errorf("%s: header %s carries the client's token", where, k)
						}
					}
				}
				users := req.Header.Values("X-User-Id")
				switch {
				case userServices[s] && wantUser != "":
					if !slices.Equal(users, []string{wantUser}) {
						t.Errorf("%s: X-User-Id = %q, want [%q]", where, users, wantUser)
					}
				case len(users) > 0:
					t.Errorf("%s: X-User-Id = %q, want none", where, users)
				}
				rid := req.Header.Values("X-Request-Id")
				if len(rid) != 1 || rid[0] == "" {
					t.Errorf("%s: X-Request-Id = %q, want one non-empty id", where, rid)
					continue
				}
				ids[rid[0]] = true
			}
		}
		if len(ids) != 1 {
			t.Fatalf("the upstream calls of one GraphQL request carried %d request ids, want 1: %v", len(ids), slices.Collect(maps.Keys(ids)))
		}
		id := slices.Collect(maps.Keys(ids))[0]
		if echo := r.Header.Get("X-Request-Id"); echo != id {
			t.Errorf("response X-Request-Id = %q, want the id sent upstream %q", echo, id)
		}
		return id
	}

	t.Run("a customer's request carries the key of each service and their subject where it belongs", func(t *testing.T) {
		first := run(t, e.token(ada), fmt.Sprintf(everything, "me"), ada, all)
		second := run(t, e.token(ada), fmt.Sprintf(everything, "me"), ada, all)
		if first == second {
			t.Errorf("two GraphQL requests carried the same X-Request-Id %q", first)
		}
	})
	t.Run("a support token sends its own subject, not the customer's", func(t *testing.T) {
		run(t, e.token("staff-7", "support"), fmt.Sprintf(everything, `customer(id: "`+ada+`")`), "staff-7", all)
	})
	t.Run("a support token reading several customers sends its own subject", func(t *testing.T) {
		run(t, e.token("staff-8", "support"), `{ customers(ids: ["c-0001", "c-0003"]) { name orders(first: 1) { id } } }`, "staff-8", []string{"customers", "orders"})
	})
	t.Run("an anonymous request sends no X-User-Id", func(t *testing.T) {
		run(t, "", `{ product(sku: "SKU-0042") { title stock } products(first: 2) { edges { node { sku inStock } } } }`, "", []string{"catalog", "inventory"})
	})
}

// ---------------------------------------------------------------------------
// 3. Upstream failures

// TestErrorsUpstreamFailures injects failures into one service and checks
// that only the fields needing it are null, each with one error carrying
// the right code, the service and its path, that the rest of the response is
// what the same query gives without the failure, and that nothing of the
// upstream shows in the messages.
func TestErrorsUpstreamFailures(t *testing.T) {
	probe := demo.New(demo.Options{})
	data := probe.Data()
	ada := demo.CustomerMostOrders
	adaOrders := ordersOf(data, ada)
	var open []demo.Order // not cancelled, as Customer.orders lists them
	for _, o := range adaOrders {
		if o.Status != demo.StatusCancelled {
			open = append(open, o)
		}
	}
	lined := orderWithDistinctLines(t, data, ada, 3)
	linePaths := func(prefix string) []string {
		out := make([]string, len(lined.Lines))
		for i := range lined.Lines {
			out[i] = fmt.Sprintf("%s.lines.%d.product", prefix, i)
		}
		return out
	}
	support := "support"

	tests := []struct {
		name    string
		service string
		fault   demo.Fault
		token   string // subject; "support" for a support token
		query   string
		code    string
		// errs are the error paths, sorted as dotted strings. nulls default
		// to errs.
		errs  []string
		nulls []string
		// minCalls and maxCalls bound the faulted service's calls.
		minCalls, maxCalls int
	}{
		{
			name:    "shipping answering 503 nulls every shipment with one UPSTREAM_UNAVAILABLE each, the orders intact",
			service: "shipping", fault: demo.Fault{Status: 503, Rate: 1},
			token:    ada,
			query:    `{ me { name tier orders(first: 3) { id status placedAt total { cents currency amount } lines { sku quantity } shipment { status carrier } payment { status amount { cents } } } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"me.orders.0.shipment", "me.orders.1.shipment", "me.orders.2.shipment"},
			minCalls: 3, maxCalls: 9,
		},
		{
			name:    "shipping failing on its endpoint for one order nulls only that order's shipment",
			service: "shipping", fault: demo.Fault{Status: 502, Endpoint: "GET /shipments/by-order/" + open[1].ID},
			token:    ada,
			query:    `{ me { orders(first: 3) { id shipment { status } } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"me.orders.1.shipment"},
			minCalls: 3, maxCalls: 5,
		},
		{
			name:    "catalog answering HTML nulls each product with UPSTREAM_ERROR, the order lines intact",
			service: "catalog", fault: demo.Fault{NonJSON: true},
			token:    ada,
			query:    `{ product(sku: "SKU-0042") { title } order(id: "` + lined.ID + `") { id total { cents } lines { sku quantity subtotal { cents } product { title price { cents } } } } }`,
			code:     "UPSTREAM_ERROR",
			errs:     append([]string{"product"}, linePaths("order")...),
			minCalls: 1, maxCalls: 6,
		},
		{
			name:    "inventory down nulls stock and inStock with UPSTREAM_UNAVAILABLE, the product intact",
			service: "inventory", fault: demo.Fault{Down: true},
			query:    `{ product(sku: "SKU-0007") { sku title price { cents } stock inStock } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"product.inStock", "product.stock"},
			minCalls: 0, maxCalls: 0, // refused connections reach no handler
		},
		{
			name:    "inventory resetting connections nulls the stock of every product of a search",
			service: "inventory", fault: demo.Fault{Reset: true},
			query:    `{ products(first: 2) { edges { cursor node { sku title stock } } pageInfo { hasNextPage } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"products.edges.0.node.stock", "products.edges.1.node.stock"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "customers hanging past the attempt timeout is UPSTREAM_UNAVAILABLE in bounded time",
			service: "customers", fault: demo.Fault{Hang: true},
			token:    ada,
			query:    `{ me { name } product(sku: "SKU-0001") { title } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"me"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "customers resetting the connection is UPSTREAM_UNAVAILABLE",
			service: "customers", fault: demo.Fault{Reset: true},
			token:    ada,
			query:    `{ me { name } product(sku: "SKU-0001") { title } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"me"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "orders answering 400 is UPSTREAM_ERROR on every field that needed that call",
			service: "orders", fault: demo.Fault{Status: 400},
			token:    ada,
			query:    `{ me { name email orders(first: 2) { id } totalSpent { cents } recentOrderCount(days: 30) } }`,
			code:     "UPSTREAM_ERROR",
			errs:     []string{"me.orders", "me.recentOrderCount", "me.totalSpent"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "orders answering HTML for several customers is one error per customer's orders",
			service: "orders", fault: demo.Fault{NonJSON: true},
			token:    support,
			query:    `{ customers(ids: ["c-0001", "c-0003", "c-0004"]) { id name orders(first: 1) { id } } }`,
			code:     "UPSTREAM_ERROR",
			errs:     []string{"customers.0.orders", "customers.1.orders", "customers.2.orders"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "orders answering 504 nulls the order root field only",
			service: "orders", fault: demo.Fault{Status: 504},
			token:    ada,
			query:    `{ order(id: "` + open[0].ID + `") { id status } product(sku: "SKU-0002") { title } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"order"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "payments answering 429 nulls the payment only",
			service: "payments", fault: demo.Fault{Status: 429},
			token:    ada,
			query:    `{ order(id: "` + demo.OrderDeclinedThenCaptured + `") { id status shipment { carrier } payment { status } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"order.payment"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "payments answering 500 for a support view of a customer's orders",
			service: "payments", fault: demo.Fault{Status: 500},
			token:    support,
			query:    `{ customer(id: "c-0001") { name orders(first: 2) { id payment { id } } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"customer.orders.0.payment", "customer.orders.1.payment"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "catalog answering 401 is UPSTREAM_ERROR, not UNAUTHENTICATED",
			service: "catalog", fault: demo.Fault{Status: 401},
			query:    `{ product(sku: "SKU-0001") { title } }`,
			code:     "UPSTREAM_ERROR",
			errs:     []string{"product"},
			minCalls: 1, maxCalls: 3,
		},
		{
			name:    "catalog answering 503 on search nulls products, the root field",
			service: "catalog", fault: demo.Fault{Status: 503, Endpoint: "GET /products"},
			query:    `{ products(first: 3) { edges { node { sku } } } product(sku: "SKU-0001") { title } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"products"},
			minCalls: 2, maxCalls: 4,
		},
		{
			name:    "customers answering 503 behind an order nulls only Order.customer",
			service: "customers", fault: demo.Fault{Status: 503},
			token:    ada,
			query:    `{ order(id: "` + open[0].ID + `") { id total { cents } customer { name } } }`,
			code:     "UPSTREAM_UNAVAILABLE",
			errs:     []string{"order.customer"},
			minCalls: 1, maxCalls: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, shortTimeout)
			token := ""
			switch tt.token {
			case "":
			case support:
				token = e.token("staff-1", "support")
			default:
				token = e.token(tt.token)
			}
			e.demo.SetFault(tt.service, tt.fault)
			start := time.Now()
			r := e.query(token, tt.query, nil)
			elapsed := time.Since(start)
			if elapsed > 3*time.Second {
				t.Errorf("the answer took %v, want under 3s", elapsed)
			}
			calls := e.demo.Calls(tt.service)
			e.demo.ClearFaults()

			if r.Status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200 with partial data", r.Status)
			}
			want := slices.Repeat([]string{tt.code}, len(tt.errs))
			mustCodes(t, r, want...)
			if got, want := r.errorPaths(), slices.Sorted(slices.Values(tt.errs)); !slices.Equal(got, want) {
				t.Errorf("error paths = %v, want %v", got, want)
			}
			for _, err := range r.Errors {
				if s, _ := err.Extensions["service"].(string); s != tt.service {
					t.Errorf("error at %s: extensions.service = %q, want %q", dotted(err.Path), s, tt.service)
				}
			}
			mustNotLeak(t, r)
			if calls < tt.minCalls || calls > tt.maxCalls {
				t.Errorf("%s received %d calls, want %d to %d", tt.service, calls, tt.minCalls, tt.maxCalls)
			}

			// The rest is what the same query answers once the service is
			// back, with the failed fields null.
			base := e.query(token, tt.query, nil).mustOK(t)
			expect := base.tree(t)
			nulls := tt.nulls
			if nulls == nil {
				nulls = tt.errs
			}
			for _, p := range nulls {
				setNull(t, expect, p)
			}
			if got := r.tree(t); !reflect.DeepEqual(got, expect) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(expect)
				t.Errorf("partial data differs from the healthy answer with %v nulled:\ngot  %s\nwant %s", nulls, g, w)
			}
		})
	}
}

// corruptingCatalog is a proxy in front of the demo catalog that, while on,
// rewrites the price of one sku into something that is not a decimal
// amount: a record that breaks the catalog's contract.
type corruptingCatalog struct {
	srv    *httptest.Server
	target atomic.Pointer[string]
	on     atomic.Bool
	sku    string
}

func newCorruptingCatalog(t *testing.T, sku string) *corruptingCatalog {
	t.Helper()
	p := &corruptingCatalog{sku: sku}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *corruptingCatalog) serve(w http.ResponseWriter, r *http.Request) {
	target := p.target.Load()
	if target == nil {
		http.Error(w, `{"error":"no target"}`, http.StatusBadGateway)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, *target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, `{"error":"proxy"}`, http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, `{"error":"proxy"}`, http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if p.on.Load() {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			p.corrupt(v)
			body, _ = json.Marshal(v)
		}
	}
	for k, vs := range res.Header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
}

func (p *corruptingCatalog) corrupt(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["sku"] == p.sku {
			if price, ok := x["price"].(map[string]any); ok {
				price["amount"] = "twenty"
			}
		}
		for _, c := range x {
			p.corrupt(c)
		}
	case []any:
		for _, c := range x {
			p.corrupt(c)
		}
	}
}

// TestErrorsNullPropagation checks null propagation when one product record
// breaks the catalog's contract: OrderLine.product is nullable, so only that
// line's product is null; ProductEdge.node is non-null (as are the edges and
// the edge list), so the null climbs to the nearest nullable field,
// Query.products. Either way the error is UPSTREAM_ERROR of the catalog and
// the rest of the response stays.
func TestErrorsNullPropagation(t *testing.T) {
	data := demo.New(demo.Options{}).Data()
	ada := demo.CustomerMostOrders
	lined := orderWithDistinctLines(t, data, ada, 3)
	badLine := 1
	inOrder := lined.Lines[badLine].SKU
	// Search lists the highest skus first: SKU-0299 is the second edge.
	inSearch := fmt.Sprintf("SKU-%04d", demo.NumProducts-1)

	tests := []struct {
		name  string
		sku   string
		query string
		// failing is the field that cannot be resolved (the non-null
		// Product.price of the bad record); null is the nearest nullable
		// field above it, where the null lands. The one error's path is
		// failing itself, or, for a gateway that maps the whole record in
		// an enclosing resolver, a field between the two.
		failing string
		null    string
	}{
		{
			name:    "a bad product on an order line nulls that line's product only",
			sku:     inOrder,
			query:   `{ order(id: "` + lined.ID + `") { id status total { cents } lines { sku quantity unitPrice { cents } product { sku title price { amount } } } } }`,
			failing: fmt.Sprintf("order.lines.%d.product.price", badLine),
			null:    fmt.Sprintf("order.lines.%d.product", badLine),
		},
		{
			name:    "a bad product in a search bubbles through the non-null node, edge and edges to products",
			sku:     inSearch,
			query:   `{ products(first: 3) { edges { cursor node { sku title price { cents } } } pageInfo { hasNextPage endCursor } } product(sku: "SKU-0001") { title } }`,
			failing: "products.edges.1.node.price",
			null:    "products",
		},
		{
			name:    "a bad product asked by sku nulls that root field only",
			sku:     inSearch,
			query:   `{ product(sku: "` + inSearch + `") { title price { cents } } other: product(sku: "SKU-0001") { title } }`,
			failing: "product.price",
			null:    "product",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := newCorruptingCatalog(t, tt.sku)
			e := newEnv(t, map[string]string{"UPSTREAM_CATALOG_URL": proxy.srv.URL})
			target := e.demo.URL("catalog")
			proxy.target.Store(&target)
			token := e.token(ada)

			proxy.on.Store(true)
			r := e.query(token, tt.query, nil)
			proxy.on.Store(false)
			if r.Status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200", r.Status)
			}
			mustCodes(t, r, "UPSTREAM_ERROR")
			got := r.errorPaths()[0]
			onFailing := strings.HasPrefix(tt.failing+".", got+".")
			belowNull := got == tt.null || strings.HasPrefix(got, tt.null+".")
			if !onFailing || !belowNull {
				t.Errorf("error path = %s, want %s (or a field from %s down to it)", got, tt.failing, tt.null)
			}
			if s, _ := r.Errors[0].Extensions["service"].(string); s != "catalog" {
				t.Errorf("extensions.service = %q, want catalog", s)
			}
			mustNotLeak(t, r)
			if strings.Contains(r.Errors[0].Message, "twenty") {
				t.Errorf("the message shows the upstream's value: %q", r.Errors[0].Message)
			}

			base := e.query(token, tt.query, nil).mustOK(t)
			expect := base.tree(t)
			setNull(t, expect, tt.null)
			if got := r.tree(t); !reflect.DeepEqual(got, expect) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(expect)
				t.Errorf("data differs from the healthy answer with %s nulled:\ngot  %s\nwant %s", tt.null, g, w)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Bad input over HTTP

// TestErrorsBadRequests sends requests that must be refused before
// execution, each answered with its status and code, no data and no
// upstream call; then checks that the gateway still serves.
func TestErrorsBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	q := func(query string) []byte { return requestJSON(query, nil) }
	big := bytes.Repeat([]byte("x"), 10<<20)
	tenMB := append(append([]byte(`{"query":"{ product(sku: \"SKU-0001\") { sku } }","pad":"`), big...), '"', '}')
	threeMiBPad := append(append([]byte(`{"query":"{ product(sku: \"SKU-0001\") { sku } }","pad":"`), bytes.Repeat([]byte(" "), 3<<20)...), '"', '}')

	tests := []struct {
		name   string
		method string
		target string
		header map[string]string
		body   []byte
		status int
		code   string
		// check, when set, makes further checks on the refusal.
		check func(t *testing.T, r response)
	}{
		{name: "a body that is not JSON", body: []byte(`{"query": "{ me { id } }"`), status: 400, code: "BAD_REQUEST"},
		{name: "an empty body", body: []byte{}, status: 400, code: "BAD_REQUEST"},
		{name: "a body that is a JSON string", body: []byte(`"{ product(sku: \"SKU-0001\") { sku } }"`), status: 400, code: "BAD_REQUEST"},
		{name: "a body that is a JSON number", body: []byte(`42`), status: 400, code: "BAD_REQUEST"},
		{name: "a body that is JSON null", body: []byte(`null`), status: 400, code: "BAD_REQUEST"},
		{name: "a body that is a JSON array of operations", body: []byte(`[{"query":"{ product(sku: \"SKU-0001\") { sku } }"},{"query":"{ product(sku: \"SKU-0002\") { sku } }"}]`), status: 400, code: "BAD_REQUEST"},
		{name: "a body that is not valid UTF-8", body: []byte("{\"query\":\"{ product(sku: \\\"SKU-\xff\xfe\\\") { sku } }\"}"), status: 400, code: "BAD_REQUEST"},
		{name: "a request without query", body: []byte(`{"variables":{}}`), status: 400, code: "BAD_REQUEST"},
		{name: "a query that is not a string", body: []byte(`{"query":{"a":1}}`), status: 400, code: "BAD_REQUEST"},
		{name: "variables that are not an object", body: []byte(`{"query":"{ product(sku: \"SKU-0001\") { sku } }","variables":[1]}`), status: 400, code: "BAD_REQUEST"},
		{
			name:   "an operationName that names no operation of the document",
			body:   []byte(`{"query":"query A { product(sku: \"SKU-0001\") { sku } }","operationName":"B"}`),
			status: 400, code: "BAD_REQUEST",
		},
		{
			name:   "two operations and no operationName",
			body:   q(`query A { product(sku: "SKU-0001") { sku } } query B { product(sku: "SKU-0002") { sku } }`),
			status: 400, code: "BAD_REQUEST",
		},
		{name: "a syntax error", body: q(`{ product(sku: "SKU-0001") { sku }`), status: 400, code: "GRAPHQL_PARSE_FAILED"},
		{name: "a stray token", body: q(`{ product(sku: "SKU-0001") { sku } } }`), status: 400, code: "GRAPHQL_PARSE_FAILED"},
		{
			name: "an unknown field, with a suggestion by default", body: q(`{ product(sku: "SKU-0001") { titel } }`),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
			check: func(t *testing.T, r response) {
				if !strings.Contains(r.Errors[0].Message, "Did you mean") {
					t.Errorf("message %q: suggestions are on by default", r.Errors[0].Message)
				}
			},
		},
		{name: "an unknown root field", body: q(`{ shipments { id } }`), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a missing required argument", body: q(`{ product { sku } }`), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "an object field without selection", body: q(`{ product(sku: "SKU-0001") }`), status: 400, code: "GRAPHQL_VALIDATION_FAILED"},
		{
			name:   "a variable of the wrong type in the document",
			body:   q(`query($n: String) { products(first: $n) { edges { cursor } } }`),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name:   "a variable value of the wrong type",
			body:   requestJSON(`query($n: Int) { products(first: $n) { edges { cursor } } }`, map[string]any{"n": "ten"}),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name:   "a required variable left out",
			body:   requestJSON(`query($sku: ID!) { product(sku: $sku) { sku } }`, map[string]any{}),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name:   "a fragment cycle",
			body:   q(`{ product(sku: "SKU-0001") { ...A } } fragment A on Product { sku ...B } fragment B on Product { title ...A }`),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name:   "an unknown fragment",
			body:   q(`{ product(sku: "SKU-0001") { ...Nowhere } }`),
			status: 400, code: "GRAPHQL_VALIDATION_FAILED",
		},
		{
			name:   "a body of 10 MB",
			body:   tenMB,
			status: 413, code: "BAD_REQUEST",
		},
		{
			name:   "a gzip body of 3 MiB once decompressed",
			header: map[string]string{"Content-Encoding": "gzip"},
			body:   gzipped(t, threeMiBPad),
			status: 413, code: "BAD_REQUEST",
		},
		{
			name:   "Content-Type text/plain",
			header: map[string]string{"Content-Type": "text/plain"},
			body:   q(publicQuery),
			status: 415, code: "BAD_REQUEST",
		},
		{
			name:   "Content-Type application/x-www-form-urlencoded",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body:   []byte("query=" + url.QueryEscape(publicQuery)),
			status: 415, code: "BAD_REQUEST",
		},
		{
			name:   "Content-Encoding br",
			header: map[string]string{"Content-Encoding": "br"},
			body:   q(publicQuery),
			status: 415, code: "BAD_REQUEST",
		},
		{
			name:   "a mutation over GET",
			method: http.MethodGet,
			target: "/graphql?query=" + url.QueryEscape(`mutation { cancelOrder(id: "o-000001") { id } }`),
			status: 405, code: "BAD_REQUEST",
			check: func(t *testing.T, r response) {
				if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") {
					t.Errorf("Allow = %q, want POST", allow)
				}
			},
		},
		{
			name:   "a PUT to /graphql",
			method: http.MethodPut,
			body:   q(publicQuery),
			status: 405, code: "BAD_REQUEST",
			check: func(t *testing.T, r response) {
				if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") || !strings.Contains(allow, "GET") {
					t.Errorf("Allow = %q, want GET and POST", allow)
				}
			},
		},
		{
			name:   "a DELETE to /graphql",
			method: http.MethodDelete,
			status: 405, code: "BAD_REQUEST",
		},
		{
			name:   "a GET without query",
			method: http.MethodGet,
			target: "/graphql",
			status: 400, code: "BAD_REQUEST",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.demo.ResetCounters()
			method, target := tt.method, tt.target
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/graphql"
			}
			h := map[string]string{}
			if method != http.MethodGet {
				h["Content-Type"] = "application/json"
			}
			maps.Copy(h, tt.header)
			r := e.send(e.newRequest(method, target, tt.body, h))
			mustRequestError(t, r, tt.status, tt.code)
			mustNotLeak(t, r)
			for _, err := range r.Errors {
				if len(err.Message) > 2048 {
					t.Errorf("message of %d bytes", len(err.Message))
				}
			}
			if tt.check != nil && len(r.Errors) > 0 {
				tt.check(t, r)
			}
			e.mustNoCalls(t)
		})
	}

	// Accepted variants of the same request.
	accepted := []struct {
		name string
		req  func() *http.Request
	}{
		{"a gzip body", func() *http.Request {
			return e.newRequest(http.MethodPost, "/graphql", gzipped(t, q(publicQuery)),
				map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
		}},
		{"a deflate body", func() *http.Request {
			return e.newRequest(http.MethodPost, "/graphql", zlibbed(t, q(publicQuery)),
				map[string]string{"Content-Type": "application/json", "Content-Encoding": "deflate"})
		}},
		{"Content-Type with charset", func() *http.Request {
			return e.newRequest(http.MethodPost, "/graphql", q(publicQuery),
				map[string]string{"Content-Type": "application/json; charset=utf-8"})
		}},
		{"an operationName choosing one of two operations", func() *http.Request {
			b, _ := json.Marshal(map[string]any{"query": `query A { product(sku: "SKU-0002") { sku } } query B { product(sku: "SKU-0001") { sku } }`, "operationName": "B"})
			return e.newRequest(http.MethodPost, "/graphql", b, map[string]string{"Content-Type": "application/json"})
		}},
	}
	for _, tt := range accepted {
		t.Run(tt.name+" is accepted", func(t *testing.T) {
			r := e.send(tt.req()).mustOK(t)
			var d struct {
				Product struct{ SKU string }
			}
			r.decode(t, &d)
			if d.Product.SKU != "SKU-0001" {
				t.Errorf("product.sku = %q, want SKU-0001", d.Product.SKU)
			}
		})
	}

	t.Run("a GET query with variables is accepted", func(t *testing.T) {
		r := e.getQuery(`query($sku: ID!) { product(sku: $sku) { sku title } }`, map[string]any{"sku": "SKU-0042"}).mustOK(t)
		var d struct {
			Product struct{ SKU, Title string }
		}
		r.decode(t, &d)
		if d.Product.SKU != "SKU-0042" || d.Product.Title == "" {
			t.Errorf("data = %s, want SKU-0042 with its title", r.Data)
		}
	})

	t.Run("after all of it a normal query still works", func(t *testing.T) {
		r := e.query(e.token(demo.CustomerMostOrders), `{ me { id } product(sku: "SKU-0001") { sku } }`, nil).mustOK(t)
		if !strings.Contains(string(r.Data), demo.CustomerMostOrders) {
			t.Errorf("data = %s", r.Data)
		}
	})
}

// misspelled are documents with a name one letter off, of each kind the
// validator suggests a correction for.
var misspelled = []struct{ query, suggests string }{
	{`{ product(sku: "SKU-0001") { titel } }`, `"title"`},
	{`{ me { orders(first: 1, includeCancelld: true) { id } } }`, `"includeCancelled"`},
	{`{ product(sku: "SKU-0001") { sku @skip(iff: false) } }`, `"if"`},
	{`mutation { checkout(input: {idempotencykey: "k", lines: [], paymentToken: "t"}) { status } }`, `"idempotencyKey"`},
}

// TestErrorsIntrospection checks introspection and suggestions: on by
// default, off with GATEWAY_INTROSPECTION=false.
func TestErrorsIntrospection(t *testing.T) {
	const schemaQuery = `{ __schema { queryType { name } types { name } } }`
	const typeQuery = `{ __type(name: "Customer") { name fields { name } } }`

	t.Run("suggestions are on by default", func(t *testing.T) {
		e := newEnv(t, nil)
		for _, d := range misspelled {
			r := e.query("", d.query, nil)
			mustValidationErrors(t, r)
			if !slices.ContainsFunc(r.Errors, func(e gqlError) bool {
				return strings.Contains(e.Message, "Did you mean "+d.suggests)
			}) {
				t.Errorf("%s: no message suggests %s: %+v", d.query, d.suggests, r.Errors)
			}
		}
	})

	t.Run("introspection works by default", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.query("", schemaQuery, nil).mustOK(t)
		if !strings.Contains(string(r.Data), `"Customer"`) || !strings.Contains(string(r.Data), `"queryType":{"name":"Query"}`) {
			t.Errorf("data = %.300s", r.Data)
		}
		r = e.query("", typeQuery, nil).mustOK(t)
		if !strings.Contains(string(r.Data), `"recentOrderCount"`) {
			t.Errorf("data = %.300s", r.Data)
		}
	})

	t.Run("GATEWAY_INTROSPECTION=false refuses introspection and suggestions", func(t *testing.T) {
		e := newEnv(t, map[string]string{"GATEWAY_INTROSPECTION": "false"})
		introspecting := []string{
			schemaQuery,
			typeQuery,
			`{ product(sku: "SKU-0001") { sku } __schema { types { name } } }`,
			`{ ...Q } fragment Q on Query { __type(name: "Order") { name } }`,
		}
		for _, q := range introspecting {
			e.demo.ResetCounters()
			r := e.query("", q, nil)
			// The contract names no code for the refusal. It is the
			// client's doing, found in the document before anything runs:
			// a validation failure, as graphql-js's NoSchemaIntrospection
			// rule has it; never a server fault (INTERNAL).
			mustRequestError(t, r, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED")
			mustNotLeak(t, r)
			e.mustNoCalls(t)
		}

		// Every document the validator would make a suggestion for (see
		// the test below for the same documents with suggestions on).
		for _, d := range misspelled {
			r := e.query("", d.query, nil)
			mustValidationErrors(t, r)
			for _, err := range r.Errors {
				if strings.Contains(err.Message, "Did you mean") {
					t.Errorf("%s: message suggests with introspection off: %q", d.query, err.Message)
				}
			}
		}

		r := e.query("", `{ __typename product(sku: "SKU-0001") { __typename sku } }`, nil).mustOK(t)
		if string(r.Data) != `{"__typename":"Query","product":{"__typename":"Product","sku":"SKU-0001"}}` {
			t.Errorf("__typename with introspection off: data = %s", r.Data)
		}
	})
}

// TestErrorsArgumentsOutOfRange checks "Arguments out of range": the field
// gets BAD_USER_INPUT with its path and null, the others answer, and no
// upstream call is made for it.
func TestErrorsArgumentsOutOfRange(t *testing.T) {
	e := newEnv(t, nil)
	ada := demo.CustomerMostOrders
	adaName := e.demo.Data().Customers[0].FullName
	token := e.token(ada)

	tests := []struct {
		name  string
		token string
		query string
		vars  map[string]any
		path  string
		keep  map[string]any
		calls map[string]int
	}{
		{
			name: "orders first 0", token: token,
			query: `{ me { name orders(first: 0) { id } } }`,
			path:  "me.orders", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name: "orders first 51", token: token,
			query: `{ me { name orders(first: 51) { id } } }`,
			path:  "me.orders", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name: "orders first -1 from a variable", token: token,
			query: `query($n: Int) { me { name orders(first: $n) { id } } }`, vars: map[string]any{"n": -1},
			path: "me.orders", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name: "recentOrderCount days 0", token: token,
			query: `{ me { name recentOrderCount(days: 0) } }`,
			path:  "me.recentOrderCount", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name: "recentOrderCount days 366", token: token,
			query: `{ me { name recentOrderCount(days: 366) } }`,
			path:  "me.recentOrderCount", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1},
		},
		{
			name: "recentOrderCount days 366 beside a valid one, which still answers", token: token,
			query: `{ me { name bad: recentOrderCount(days: 366) good: recentOrderCount(days: 365) } }`,
			path:  "me.bad", keep: map[string]any{"me.name": adaName},
			calls: map[string]int{"customers": 1, "orders": 1},
		},
		{
			name:  "products first 0",
			query: `{ products(first: 0) { edges { cursor } } product(sku: "SKU-0001") { sku } }`,
			path:  "products", keep: map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "products first 101 from a variable",
			query: `query($n: Int) { products(first: $n) { edges { cursor } } product(sku: "SKU-0001") { sku } }`,
			vars:  map[string]any{"n": 101},
			path:  "products", keep: map[string]any{"product.sku": "SKU-0001"},
			calls: map[string]int{"catalog": 1},
		},
		{
			name:  "products first 101 alone",
			query: `{ products(first: 101) { edges { node { sku stock } } } }`,
			path:  "products",
			calls: map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.demo.ResetCounters()
			r := e.query(tt.token, tt.query, tt.vars)
			if r.Status != http.StatusOK {
				t.Errorf("HTTP status = %d, want 200", r.Status)
			}
			mustCodes(t, r, "BAD_USER_INPUT")
			if got := r.errorPaths(); !slices.Equal(got, []string{tt.path}) {
				t.Errorf("error path = %v, want %s", got, tt.path)
			}
			d := r.tree(t)
			mustNull(t, d, tt.path)
			for p, want := range tt.keep {
				if got := mustValue(t, d, p); got != want {
					t.Errorf("data.%s = %v, want %v", p, got, want)
				}
			}
			if got := e.calls(); !maps.Equal(got, tt.calls) {
				t.Errorf("upstream calls = %v, want %v\nby endpoint: %v", got, tt.calls, e.demo.CallsByEndpoint())
			}
			if n := e.demo.CallsByEndpoint()["catalog GET /products"]; n != 0 {
				t.Errorf("%d catalog searches were made", n)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 5. Endpoints

// TestErrorsEndpoints checks the plain endpoints of config.md and the
// X-Request-Id echo.
func TestErrorsEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	get := func(t *testing.T, path string, header map[string]string) (*http.Response, string) {
		t.Helper()
		res, err := http.DefaultClient.Do(e.newRequest(http.MethodGet, path, nil, header))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return res, string(b)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run("GET "+path+" is 200", func(t *testing.T) {
			res, _ := get(t, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200", res.StatusCode)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id on the response")
			}
		})
	}
	t.Run("GET / is the GraphiQL playground", func(t *testing.T) {
		res, body := get(t, "/", nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("status = %d, want 200", res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type = %q, want text/html", ct)
		}
		if !strings.Contains(strings.ToLower(body), "graphiql") {
			t.Errorf("the page does not mention GraphiQL: %.200s", body)
		}
	})
	t.Run("every GraphQL response carries a fresh X-Request-Id", func(t *testing.T) {
		a := e.query("", publicQuery, nil).mustOK(t).Header.Get("X-Request-Id")
		b := e.query("", publicQuery, nil).mustOK(t).Header.Get("X-Request-Id")
		if a == "" || b == "" || a == b {
			t.Errorf("X-Request-Id of two requests: %q and %q, want two different ids", a, b)
		}
		bad := e.postBody([]byte("{"), nil)
		if bad.Header.Get("X-Request-Id") == "" {
			t.Errorf("a refused request has no X-Request-Id")
		}
	})
	t.Run("a client's X-Request-Id is echoed and sent upstream", func(t *testing.T) {
		e.demo.ResetCounters()
		r := e.postBody(requestJSON(publicQuery, nil), map[string]string{"X-Request-Id": "e2e-errors-0001"}).mustOK(t)
		if got := r.Header.Get("X-Request-Id"); got != "e2e-errors-0001" {
			t.Errorf("X-Request-Id = %q, want the client's e2e-errors-0001", got)
		}
		for _, req := range e.demo.Requests("catalog") {
			if got := req.Header.Get("X-Request-Id"); got != "e2e-errors-0001" {
				t.Errorf("catalog got X-Request-Id %q, want e2e-errors-0001", got)
			}
		}
	})
}
