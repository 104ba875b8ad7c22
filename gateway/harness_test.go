package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
)

// testSecret signs the tokens of these tests.
const testSecret = "gateway-test-secret"

// env is a gateway over the demo services, both on loopback, as a client
// sees them.
type env struct {
	t    *testing.T
	demo *demo.Demo
	gw   *gateway.Gateway
	srv  *httptest.Server
}

// newEnv starts the demo services and a gateway over them. setenv entries
// override the environment the gateway is configured from.
func newEnv(t *testing.T, setenv map[string]string) *env {
	t.Helper()
	d := demo.New(demo.Options{})
	if err := d.Start(); err != nil {
		t.Fatalf("start demo: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	// Call counts are asserted against a cold cache: the cache tests turn
	// it on.
	vars := map[string]string{"JWT_HS256_SECRET": testSecret, "GATEWAY_CACHE": "false"}
	for _, s := range gateway.Services {
		vars["UPSTREAM_"+upper(s)+"_URL"] = d.URL(s)
	}
	for k, v := range setenv {
		vars[k] = v
	}
	cfg, err := gateway.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	gw, err := gateway.New(context.Background(), cfg, gateway.Options{})
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, demo: d, gw: gw, srv: srv}
}

func upper(s string) string {
	return string(bytes.ToUpper([]byte(s)))
}

// token signs a token for sub with scopes.
func (e *env) token(sub string, scopes ...string) string {
	e.t.Helper()
	tok, err := auth.SignHS256([]byte(testSecret), sub, scopes, time.Hour)
	if err != nil {
		e.t.Fatalf("sign token: %v", err)
	}
	return tok
}

// gqlError is one error of a response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// response is a GraphQL response as the client got it.
type response struct {
	Status     int
	Header     http.Header
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
	HasData    bool
}

// query posts a GraphQL request and decodes the answer.
func (e *env) query(token, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

// send sends a prepared request and decodes the answer.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("send: %v", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		e.t.Fatalf("response is not JSON (status %d): %v\n%s", res.StatusCode, err, raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	_, r.HasData = keys["data"]
	r.Status, r.Header = res.StatusCode, res.Header
	return r
}

// decode unmarshals the response data into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v\n%s", err, r.Data)
	}
}

// mustOK fails the test when the response has errors.
func (r response) mustOK(t *testing.T) response {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("want a clean 200, got %d: %+v\ndata: %s", r.Status, r.Errors, r.Data)
	}
	return r
}

// codes returns the extensions.code of each error.
func (r response) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// calls returns, per service, the calls the demo services received since
// the last reset.
func (e *env) calls() map[string]int {
	out := map[string]int{}
	for _, s := range demo.Services {
		if n := e.demo.Calls(s); n > 0 {
			out[s] = n
		}
	}
	return out
}
