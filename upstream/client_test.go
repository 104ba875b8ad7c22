package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
)

var get = upstream.Call{Op: "get thing", Method: http.MethodGet, Path: "/things/1", Idempotent: true, NotFound: true, Keys: 1}

func newClient(t *testing.T, h http.HandlerFunc, edit ...func(*upstream.Options)) (*rectest.Server, *upstream.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, s.Client(t, "things", edit...)
}

func TestNewClientValidatesItsOptions(t *testing.T) {
	ok := upstream.Options{Service: "things", BaseURL: "http://127.0.0.1:1/base/", APIKey: "key-xyz"}
	for _, tc := range []struct {
		name string
		edit func(*upstream.Options)
		want string // "" for success
	}{
		{"complete options are accepted", func(*upstream.Options) {}, ""},
		{"an https URL is accepted", func(o *upstream.Options) { o.BaseURL = "https://svc.internal" }, ""},
		{"a missing service name is refused", func(o *upstream.Options) { o.Service = "" }, "service name is empty"},
		{"a missing base URL is refused", func(o *upstream.Options) { o.BaseURL = "" }, "base URL is empty"},
		{"a base URL of another scheme is refused", func(o *upstream.Options) { o.BaseURL = "ftp://x" }, "scheme"},
		{"a base URL without host is refused", func(o *upstream.Options) { o.BaseURL = "http:///x" }, "no host"},
		{"a base URL with a query is refused", func(o *upstream.Options) { o.BaseURL = "http://x/?a=1" }, "query"},
		{"a base URL that does not parse is refused", func(o *upstream.Options) { o.BaseURL = "http://x\x7f" }, "does not parse"},
		{"a missing API key is refused", func(o *upstream.Options) { o.APIKey = "" }, "API key is empty"},
		{"an API key with a newline is refused", func(o *upstream.Options) { o.APIKey = "key-xyz\r\nX: y" }, "API key holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			c, err := upstream.NewClient(o)
			if tc.want == "" {
				if err != nil || c.Service() != "things" {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "key-xyz") {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

func TestErrorReadsAsALowercaseChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		call upstream.Call
		want string
	}{
		{"a 503 names service, op and status", rectest.Status(503), upstream.Call{Op: "get shipment", Method: "GET", Path: "/x"},
			"things: get shipment: status 503: unavailable"},
		{"a 404 is not found", rectest.Status(404), get, "things: get thing: status 404: not found"},
		{"a 401 is a bad response", rectest.JSON(401, `{"error":"unauthorized"}`), get, "things: get thing: status 401: bad response"},
		{"a body that is not JSON names the step and the offset", rectest.JSON(200, `{"a":tru}`), get,
			"things: get thing: status 200: decode body: bad response: invalid JSON at byte 9"},
		{"a wrong type names the field but not the value", rectest.JSON(200, `{"n":"12345678"}`), get,
			"things: get thing: status 200: decode body: bad response: wrong JSON type for n, want int"},
		{"an empty body says so", rectest.JSON(200, ``), get, "things: get thing: status 200: decode body: bad response: empty body"},
		{"a reset names the step", rectest.Reset, get, "things: get thing: send request: unavailable: connection reset"},
		{"a reset after a POST was written says so", rectest.Reset, upstream.Call{Op: "create thing", Method: "POST", Path: "/x"},
			"things: create thing: send request: unavailable: connection reset after the request was sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, tc.h)
			var out struct {
				N int `json:"n"`
			}
			_, err := c.Do(context.Background(), tc.call, &out)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant   %s", err, tc.want)
			}
			if upstream.ServiceOf(fmt.Errorf("resolve: %w", err)) != "things" {
				t.Errorf("ServiceOf does not find the service through a wrap")
			}
		})
	}
	if upstream.ServiceOf(errors.New("plain")) != "" {
		t.Errorf("ServiceOf of a plain error is not empty")
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		call     upstream.Call
		want     error
		attempts int
	}{
		{"a 404 on an entity call is not found, asked once", 404, get, upstream.ErrNotFound, 1},
		{"a 404 on a batch call is a bad response", 404, upstream.Call{Op: "get things", Method: "GET", Path: "/things", Idempotent: true}, upstream.ErrBadResponse, 1},
		{"a 409 the call gives no meaning to is a bad response", 409, get, upstream.ErrBadResponse, 1},
		{"a 302 is a bad response", 302, get, upstream.ErrBadResponse, 1},
		{"a 501 is unavailable but not worth retrying", 501, get, upstream.ErrUnavailable, 1},
		{"a 500 is unavailable, retried (the contract lists it among the transient answers)", 500, get, upstream.ErrUnavailable, 3},
		{"a 502 is retried", 502, get, upstream.ErrUnavailable, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.Status(tc.status))
			_, err := c.Do(context.Background(), tc.call, nil)
			var ue *upstream.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &ue) || ue.Status != tc.status {
				t.Fatalf("err = %v, want %v with status %d", err, tc.want, tc.status)
			}
			if s.Count() != tc.attempts {
				t.Errorf("%d requests, want %d", s.Count(), tc.attempts)
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	other := rectest.New(t, rectest.JSON(200, `{}`))
	_, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}, func(o *upstream.Options) {
		o.Transport = &http.Transport{}
	})
	_, err := c.Do(context.Background(), get, nil)
	if !errors.Is(err, upstream.ErrBadResponse) {
		t.Fatalf("err = %v, want ErrBadResponse", err)
	}
	if other.Count() != 0 {
		t.Errorf("the redirect was followed (with the API key)")
	}
}

func TestOKStatusIsAnAnswerWithItsBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want upstream.ErrBody
	}{
		{"the error body is decoded", `{"error":"insufficient_stock","sku":"SKU-1"}`, upstream.ErrBody{Error: "insufficient_stock", SKU: "SKU-1"}},
		{"a body that is not JSON leaves it empty", `<html>`, upstream.ErrBody{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, rectest.JSON(409, tc.body))
			call := get
			call.OKStatus = []int{409}
			meta, err := c.Do(context.Background(), call, &struct{}{})
			if err != nil {
				t.Fatal(err)
			}
			if meta.Status != 409 || meta.ErrBody == nil || *meta.ErrBody != tc.want {
				t.Errorf("meta = %+v, body %+v", meta, meta.ErrBody)
			}
		})
	}
}

func TestMetaCarriesStatusAndMaxAge(t *testing.T) {
	s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		age := "max-age=30"
		if r.URL.Path == "/b" {
			age = "max-age=5"
		}
		if r.URL.Path == "/c" {
			age = ""
		}
		w.Header().Set("Cache-Control", age)
		rectest.JSON(200, `{}`)(w, r)
	})
	_ = s
	ctx, rec := upstream.RecordMeta(context.Background())
	meta, err := c.Do(ctx, upstream.Call{Op: "a", Method: "GET", Path: "/a"}, &struct{}{})
	if err != nil || meta.Status != 200 || meta.MaxAge != 30 {
		t.Fatalf("meta = %+v, err %v", meta, err)
	}
	for _, p := range []string{"/b", "/c"} {
		if _, err := c.Do(ctx, upstream.Call{Op: "b", Method: "GET", Path: p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if rec.MaxAge() != 5 || rec.Calls() != 3 {
		t.Errorf("record: max-age %d over %d calls, want 5 over 3", rec.MaxAge(), rec.Calls())
	}
	meta, _ = c.Do(context.Background(), upstream.Call{Op: "c", Method: "GET", Path: "/c"}, nil)
	if meta.MaxAge != -1 {
		t.Errorf("absent max-age = %d, want -1", meta.MaxAge)
	}
}

func TestRequestShape(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, `{}`))
	ctx := upstream.WithUserID(upstream.WithRequestID(context.Background(), "req-9"), "c-7")
	call := upstream.Call{
		Op: "post thing", Method: http.MethodPost, Path: "/things/a%2Fb:batchGet",
		Query:  url.Values{"ids": {"a,b c,d&e"}, "limit": {"5"}},
		Body:   map[string]any{"skus": []string{"x"}},
		Header: http.Header{"Idempotency-Key": {"k1"}, "Authorization": {"Bearer t"}, "X-Api-Key": {"forged"}},
	}
	if _, err := c.Do(ctx, call, nil); err != nil {
		t.Fatal(err)
	}
	r := s.Requests()[0]
	checks := []struct {
		name      string
		got, want string
	}{
		{"the method is sent", r.Method, "POST"},
		{"the escaped path is kept", r.Path, "/things/a%2Fb:batchGet"},
		{"commas stay literal, other characters are escaped", r.Raw, "ids=a,b+c,d%26e&limit=5"},
		{"the body is JSON", string(r.Body), `{"skus":["x"]}`},
		{"the content type is JSON", r.Header.Get("Content-Type"), "application/json"},
		{"the call's headers are sent", r.Header.Get("Idempotency-Key"), "k1"},
		{"the call cannot forge the key", r.Header.Get("X-Api-Key"), rectest.APIKey},
		{"Authorization is never sent", r.Header.Get("Authorization"), ""},
		{"the request id comes from ctx", r.Header.Get("X-Request-Id"), "req-9"},
		{"the user id comes from ctx", r.Header.Get("X-User-Id"), "c-7"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %q, want %q", ck.name, ck.got, ck.want)
		}
	}
}

// Credentials in the base URL go as Basic auth, as http.Client sent them;
// a call's own Authorization never does.
func TestBaseURLCredentialsAreBasicAuth(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, `{}`), func(o *upstream.Options) {
		o.BaseURL = strings.Replace(o.BaseURL, "http://", "http://svc:s%3Acret@", 1)
	})
	call := get
	call.Header = http.Header{"Authorization": {"Bearer client-token"}}
	if _, err := c.Do(context.Background(), call, nil); err != nil {
		t.Fatal(err)
	}
	user, pass, ok := (&http.Request{Header: s.Requests()[0].Header}).BasicAuth()
	if !ok || user != "svc" || pass != "s:cret" {
		t.Errorf("Authorization %q, want Basic svc:s:cret", s.Requests()[0].Header.Get("Authorization"))
	}
}

func TestIdentityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name              string
		sendUser          bool
		reqID, user       string
		wantReq, wantUser string
	}{
		{"a client that sends user ids sends the subject", true, "r1", "c-1", "r1", "c-1"},
		{"a client that does not send user ids never does", false, "r1", "c-1", "r1", ""},
		{"an empty subject is not sent", true, "r1", "", "r1", ""},
		{"no request id in ctx sends none", true, "", "c-1", "", "c-1"},
		{"values with line breaks are dropped, not injected", true, "r1\r\nX-Evil: 1", "c-1\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.Status(204), func(o *upstream.Options) { o.SendUserID = tc.sendUser })
			ctx := context.Background()
			if tc.reqID != "" {
				ctx = upstream.WithRequestID(ctx, tc.reqID)
			}
			if tc.user != "" {
				ctx = upstream.WithUserID(ctx, tc.user)
			}
			if _, err := c.Do(ctx, get, nil); err != nil {
				t.Fatal(err)
			}
			h := s.Requests()[0].Header
			if h.Get("X-Request-Id") != tc.wantReq || h.Get("X-User-Id") != tc.wantUser || h.Get("X-Evil") != "" {
				t.Errorf("X-Request-Id %q, X-User-Id %q", h.Get("X-Request-Id"), h.Get("X-User-Id"))
			}
			if _, ok := h["X-User-Id"]; !ok && tc.wantUser != "" || ok && tc.wantUser == "" {
				t.Errorf("X-User-Id presence wrong: %v", h["X-User-Id"])
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Run("a Retry-After on 503 is waited for before the retry", func(t *testing.T) {
		var times []time.Time
		var mu sync.Mutex
		s, c := newClient(t, rectest.Sequence(
			func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(503)
			},
			func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				w.WriteHeader(204)
			}))
		if _, err := c.Do(context.Background(), get, nil); err != nil {
			t.Fatal(err)
		}
		if s.Count() != 2 {
			t.Fatalf("%d requests, want 2", s.Count())
		}
		if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
			t.Errorf("retried after %v, before the Retry-After of 1s", gap)
		}
	})
	t.Run("a Retry-After of 0 on 429 is retried at once", func(t *testing.T) {
		s, c := newClient(t, rectest.Sequence(
			func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "0"); w.WriteHeader(429) },
			rectest.Status(204)))
		if _, err := c.Do(context.Background(), get, nil); err != nil || s.Count() != 2 {
			t.Fatalf("err %v after %d requests", err, s.Count())
		}
	})
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		after    string
	}{
		{"a Retry-After past the deadline ends the call at once", 300 * time.Millisecond, "1"},
		{"a Retry-After longer than MaxRetryAfter ends the call at once", 0, "30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.after)
				w.WriteHeader(503)
			})
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			start := time.Now()
			_, err := c.Do(ctx, get, nil)
			if !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if el := time.Since(start); el > 250*time.Millisecond {
				t.Errorf("took %v, want an immediate answer", el)
			}
			if s.Count() != 1 {
				t.Errorf("%d requests, want 1", s.Count())
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("a hang ends at the ctx deadline, promptly and unavailable", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(s.Hang)
		c := s.Client(t, "things")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Do(ctx, get, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("took %v", el)
		}
		if s.Count() != 1 {
			t.Errorf("%d requests, want 1: no retry past the deadline", s.Count())
		}
		if !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a hang longer than the attempt timeout is retried, then unavailable", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(s.Hang)
		c := s.Client(t, "things", func(o *upstream.Options) { o.AttemptTimeout = 30 * time.Millisecond })
		_, err := c.Do(context.Background(), get, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "attempt timed out") {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 3 {
			t.Errorf("%d requests, want 3", s.Count())
		}
	})
	t.Run("a body that stalls is bounded by the attempt timeout", func(t *testing.T) {
		s := rectest.New(t, nil)
		s.Handle(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"a":`))
			w.(http.Flusher).Flush()
			s.Hang(w, r)
		})
		c := s.Client(t, "things", func(o *upstream.Options) { o.AttemptTimeout = 30 * time.Millisecond })
		_, err := c.Do(context.Background(), get, &struct{}{})
		if !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 3 {
			t.Errorf("%d requests, want 3", s.Count())
		}
	})
}

func TestCancellation(t *testing.T) {
	t.Run("cancelling ctx stops the retries", func(t *testing.T) {
		arrived := make(chan struct{}, 10)
		s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			arrived <- struct{}{}
		}, func(o *upstream.Options) { o.BaseBackoff, o.MaxBackoff = time.Minute, time.Minute })
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		start := time.Now()
		_, err := c.Do(ctx, get, nil)
		if !errors.Is(err, upstream.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v", el)
		}
		if s.Count() != 1 {
			t.Errorf("%d requests, want 1", s.Count())
		}
	})
	t.Run("a ctx already done makes no request", func(t *testing.T) {
		s, c := newClient(t, rectest.Status(204))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Do(ctx, get, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 0 {
			t.Errorf("%d requests, want 0", s.Count())
		}
	})
}

func TestTransportFailures(t *testing.T) {
	post := upstream.Call{Op: "create thing", Method: http.MethodPost, Path: "/things", Body: map[string]int{"a": 1}}
	t.Run("a refused connection is unavailable and nothing was sent", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		c, err := upstream.NewClient(upstream.Options{Service: "things", BaseURL: dead.URL, APIKey: "k", BaseBackoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Do(context.Background(), post, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || errors.Is(err, upstream.ErrOutcomeUnknown) {
			t.Fatalf("err = %v, want ErrUnavailable without ErrOutcomeUnknown", err)
		}
		if !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), strings.TrimPrefix(dead.URL, "http://")) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a reset after a POST was written leaves the outcome unknown", func(t *testing.T) {
		s, c := newClient(t, rectest.Reset)
		_, err := c.Do(context.Background(), post, nil)
		if !errors.Is(err, upstream.ErrUnavailable) || !errors.Is(err, upstream.ErrOutcomeUnknown) {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 1 {
			t.Errorf("%d requests, want 1", s.Count())
		}
	})
	t.Run("a body cut short is unavailable and retried", func(t *testing.T) {
		s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"a":`))
			w.(http.Flusher).Flush()
			rectest.Reset(w, r)
		})
		_, err := c.Do(context.Background(), get, &struct{}{})
		if !errors.Is(err, upstream.ErrUnavailable) || !strings.Contains(err.Error(), "read body") {
			t.Fatalf("err = %v", err)
		}
		if s.Count() != 3 {
			t.Errorf("%d requests, want 3", s.Count())
		}
	})
}

func TestBodies(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		out  bool
		want error
	}{
		{"a 204 without a body is fine when nothing is decoded", rectest.Status(204), false, nil},
		{"a 200 with a body is discarded when nothing is decoded", rectest.JSON(200, `garbage`), false, nil},
		{"an empty 200 is a bad response when a body is expected", rectest.JSON(200, ""), true, upstream.ErrBadResponse},
		{"trailing garbage is a bad response", rectest.JSON(200, `{} x`), true, upstream.ErrBadResponse},
		{"a declared length over the limit is a bad response", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2000")
			w.WriteHeader(200)
			_, _ = w.Write(make([]byte, 2000))
		}, true, upstream.ErrBadResponse},
		{"a streamed body over the limit is a bad response", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			for range 20 {
				_, _ = w.Write([]byte(strings.Repeat(" ", 100)))
				w.(http.Flusher).Flush()
			}
		}, true, upstream.ErrBadResponse},
		{"a body exactly at the limit is read", rectest.JSON(200, `{}`+strings.Repeat(" ", 1022)), true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h, func(o *upstream.Options) { o.MaxBodyBytes = 1024 })
			var out any
			if tc.out {
				out = &map[string]any{}
			}
			_, err := c.Do(context.Background(), get, out)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if s.Count() != 1 {
				t.Errorf("%d requests, want 1", s.Count())
			}
		})
	}
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	var mu sync.Mutex
	var seen []upstream.ObservedCall
	_, c := newClient(t, rectest.Sequence(rectest.Status(502), rectest.Status(503), rectest.JSON(200, `{}`)),
		func(o *upstream.Options) {
			o.Observer = func(oc upstream.ObservedCall) { mu.Lock(); seen = append(seen, oc); mu.Unlock() }
		})
	call := upstream.Call{Op: "get things", Method: "GET", Path: "/things", Query: url.Values{"ids": {"a,b"}}, Idempotent: true, Keys: 2}
	if _, err := c.Do(context.Background(), call, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("%d observations, want 3", len(seen))
	}
	for i, want := range []int{502, 503, 200} {
		o := seen[i]
		if o.Attempt != i+1 || o.Status != want || o.Service != "things" || o.Op != "get things" || o.Method != "GET" ||
			o.Path != "/things" || o.Query != "ids=a,b" || o.Keys != 2 || o.Duration <= 0 || (o.Err == nil) != (want == 200) {
			t.Errorf("observation %d = %+v", i, o)
		}
	}
}

func TestNonIdempotentCallsAreMadeOnce(t *testing.T) {
	s, c := newClient(t, rectest.Status(503))
	_, err := c.Do(context.Background(), upstream.Call{Op: "create", Method: "POST", Path: "/x", Body: 1}, nil)
	if !errors.Is(err, upstream.ErrUnavailable) || s.Count() != 1 {
		t.Fatalf("err %v after %d requests, want one request", err, s.Count())
	}
}

func TestChunks(t *testing.T) {
	keys := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprint("k", i))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []string
		n     int
		sizes []int
	}{
		{"no keys give no chunks", nil, 100, []int{}},
		{"duplicates and empty keys are removed", []string{"a", "b", "a", "", "b"}, 100, []int{2}},
		{"exactly 100 keys are one chunk", keys(100), 100, []int{100}},
		{"101 keys are two chunks", keys(101), 100, []int{100, 1}},
		{"250 keys with duplicates are three chunks", append(keys(250), keys(250)...), 100, []int{100, 100, 50}},
		{"a size of 0 means BatchSize", keys(150), 0, []int{100, 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := upstream.Chunks(tc.in, tc.n)
			var sizes []int
			var flat []string
			for _, ch := range got {
				sizes = append(sizes, len(ch))
				flat = append(flat, ch...)
			}
			if !slices.Equal(sizes, tc.sizes) && !(len(sizes) == 0 && len(tc.sizes) == 0) {
				t.Errorf("sizes = %v, want %v", sizes, tc.sizes)
			}
			var want []string
			for _, k := range tc.in {
				if k != "" && !slices.Contains(want, k) {
					want = append(want, k)
				}
			}
			if !slices.Equal(flat, want) {
				t.Errorf("keys out of order or lost: %v", flat)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	t.Run("chunks run in parallel and only requested keys come back", func(t *testing.T) {
		var running, peak atomic.Int32
		gate := make(chan struct{})
		var once sync.Once
		keys := make([]string, 300)
		for i := range keys {
			keys[i] = fmt.Sprint(i)
		}
		got, err := upstream.Batch(context.Background(), keys, func(ctx context.Context, chunk []string) (map[string]int, error) {
			if n := running.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			if running.Load() == 3 {
				once.Do(func() { close(gate) })
			}
			select {
			case <-gate:
			case <-time.After(5 * time.Second):
			}
			running.Add(-1)
			m := map[string]int{"not-asked": 1}
			for _, k := range chunk {
				m[k] = len(chunk)
			}
			return m, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 300 || got["0"] != 100 || got["not-asked"] != 0 {
			t.Errorf("got %d values", len(got))
		}
		if peak.Load() != 3 {
			t.Errorf("peak concurrency %d, want 3", peak.Load())
		}
	})
	t.Run("a failing chunk fails the batch and cancels the rest", func(t *testing.T) {
		keys := make([]string, 250)
		for i := range keys {
			keys[i] = fmt.Sprint(i)
		}
		boom := errors.New("boom")
		got, err := upstream.Batch(context.Background(), keys, func(ctx context.Context, chunk []string) (map[string]int, error) {
			if chunk[0] == "0" {
				return nil, boom
			}
			<-ctx.Done()
			return nil, ctx.Err()
		})
		if !errors.Is(err, boom) || got != nil {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("no keys make no call", func(t *testing.T) {
		got, err := upstream.Batch(context.Background(), nil, func(context.Context, []string) (map[string]int, error) {
			t.Error("fetch called")
			return nil, nil
		})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("got %v, %v", got, err)
		}
	})
}
