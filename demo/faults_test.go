package demo

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	c := startDemo(t, Options{})
	get := func() (resp, error) { return c.try("GET", "customers", "/customers/c-0001", nil) }

	t.Run("a status fault answers that status with injected and Retry-After", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Status: 503, RetryAfter: "2"})
		r, err := get()
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r, http.StatusServiceUnavailable, "injected")
		if r.header.Get("Retry-After") != "2" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	})
	t.Run("a fault with a rate affects about that share of requests", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Status: 500, Rate: 0.5})
		codes := map[int]int{}
		for range 200 {
			r, err := get()
			if err != nil {
				t.Fatal(err)
			}
			codes[r.status]++
		}
		if codes[500] < 60 || codes[200] < 60 || codes[500]+codes[200] != 200 {
			t.Fatalf("answers %v", codes)
		}
	})
	t.Run("a hang ends when the client gives up", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Hang: true})
		hc := &http.Client{Transport: c.hc.Transport, Timeout: 100 * time.Millisecond}
		req, _ := http.NewRequest("GET", c.d.URL("customers")+"/customers/c-0001", nil)
		start := time.Now()
		_, err := hc.Do(req)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
	t.Run("a reset gives the client a transport error", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Reset: true})
		if r, err := get(); err == nil {
			t.Fatalf("no error, status %d", r.status)
		}
	})
	t.Run("a non-JSON fault answers 200 with a body that is not JSON", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{NonJSON: true})
		r, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || json.Valid(r.body) {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
	})
	t.Run("latency delays the answer", func(t *testing.T) {
		t.Cleanup(func() { c.d.SetLatency("customers", 0) })
		c.d.SetLatency("customers", 60*time.Millisecond)
		start := time.Now()
		if r, err := get(); err != nil || r.status != 200 {
			t.Fatalf("status %d, err %v", r.status, err)
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Fatalf("answered after %v", d)
		}
	})
	t.Run("a fault's latency delays the answer and lets it through", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Latency: 60 * time.Millisecond})
		start := time.Now()
		if r, err := get(); err != nil || r.status != 200 {
			t.Fatalf("status %d, err %v", r.status, err)
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Fatalf("answered after %v", d)
		}
	})
	t.Run("latency ends when the client gives up", func(t *testing.T) {
		t.Cleanup(func() { c.d.SetLatency("customers", 0) })
		c.d.SetLatency("customers", time.Hour)
		hc := &http.Client{Transport: c.hc.Transport, Timeout: 100 * time.Millisecond}
		start := time.Now()
		_, err := hc.Get(c.d.URL("customers") + "/customers/c-0001")
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
	t.Run("an endpoint fault affects only matching requests", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Status: 429, Endpoint: "GET /customers?ids"})
		wantStatus(t, c.do("GET", "customers", "/customers?ids=c-0001", nil), 429, "injected")
		wantStatus(t, c.do("GET", "customers", "/customers/c-0001", nil), 200, "")
		c.d.SetFault("shipping", Fault{Status: 502, Endpoint: "GET /shipments/by-order/{id}"})
		wantStatus(t, c.do("GET", "shipping", "/shipments/by-order/o-000001", nil), 502, "injected")
		wantStatus(t, c.do("DELETE", "shipping", "/shipments/by-order/o-nope", nil), 204, "")
	})
	t.Run("a fault set to no effect is removed", func(t *testing.T) {
		c.d.SetFault("customers", Fault{Status: 500})
		c.d.SetFault("customers", Fault{})
		wantStatus(t, c.do("GET", "customers", "/customers/c-0001", nil), 200, "")
	})
	t.Run("down refuses connections until cleared, on the same port", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		url := c.d.URL("customers")
		c.d.SetFault("customers", Fault{Down: true})
		_, err := get()
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err %v, want connection refused", err)
		}
		c.d.ClearFaults()
		if c.d.URL("customers") != url {
			t.Fatalf("url changed from %s to %s", url, c.d.URL("customers"))
		}
		if r, err := get(); err != nil || r.status != 200 {
			t.Fatalf("after clearing: status %d, err %v", r.status, err)
		}
	})
	t.Run("down for one endpoint resets its connections", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.SetFault("customers", Fault{Down: true, Endpoint: "GET /customers/{id}"})
		if _, err := get(); err == nil {
			t.Fatal("no error")
		}
		wantStatus(t, c.do("GET", "customers", "/customers?ids=c-0001", nil), 200, "")
	})
	t.Run("faulted requests are counted", func(t *testing.T) {
		t.Cleanup(c.d.ClearFaults)
		c.d.ResetCounters()
		c.d.SetFault("customers", Fault{Reset: true})
		get()
		c.d.SetFault("customers", Fault{Status: 500})
		get()
		if n := c.d.Calls("customers"); n < 2 {
			t.Fatalf("%d calls counted", n)
		}
	})
}

func TestEndpointPatternsMatch(t *testing.T) {
	tests := []struct {
		name, pattern, method, target string
		want                          bool
	}{
		{"a wildcard matches any one segment", "GET /shipments/by-order/{id}", "GET", "/shipments/by-order/o-1", true},
		{"the method must match", "GET /shipments/by-order/{id}", "DELETE", "/shipments/by-order/o-1", false},
		{"a pattern without method matches any", "/shipments/by-order/{order_id}", "DELETE", "/shipments/by-order/o-1", true},
		{"a wildcard does not match an empty segment", "GET /customers/{id}", "GET", "/customers/", false},
		{"a query parameter must be present", "GET /orders?customer_ids", "GET", "/orders?ids=o-1", false},
		{"a present query parameter matches", "GET /orders?customer_ids", "GET", "/orders?customer_ids=c-1&limit=2", true},
		{"a colon suffix is part of the segment", "POST /products:batchGet", "POST", "/products:batchGet", true},
		{"a longer path does not match", "GET /products", "GET", "/products/SKU-1", false},
		{"a literal path matches itself", "GET /customers/c-0001", "GET", "/customers/c-0001", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if got := endpointMatches(tt.pattern, r); got != tt.want {
				t.Fatalf("endpointMatches(%q, %s %s) = %v", tt.pattern, tt.method, tt.target, got)
			}
		})
	}
}

func TestCloseEndsHangingRequestsPromptly(t *testing.T) {
	d := New(Options{Now: fixedClock})
	received := make(chan Request, 1)
	d.onRecord = func(r Request) {
		select {
		case received <- r:
		default:
		}
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	d.SetFault("shipping", Fault{Hang: true})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", d.URL("shipping")+"/shipments/by-order/o-000001", nil)
		req.Header.Set("X-Api-Key", d.APIKey("shipping"))
		res, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-received
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("the hanging request got an answer")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("close and the client's error took %v", el)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestCountersAndRecordedRequests(t *testing.T) {
	c := startDemo(t, Options{})
	c.do("GET", "customers", "/customers?ids=c-0001,c-0002,c-0001", nil, "X-Request-Id", "rq-1", "X-User-Id", "c-0001")
	c.do("GET", "customers", "/customers/c-0001", nil)
	c.do("GET", "customers", "/customers/c-0001", nil, "X-Api-Key", "")
	c.do("GET", "customers", "/nowhere", nil)
	c.do("POST", "catalog", "/products:batchGet", `{"skus":["SKU-0001","SKU-0002"]}`)
	c.do("GET", "orders", "/orders?customer_ids=c-0001,c-0002&limit=3", nil)
	c.do("GET", "orders", "/orders?ids=o-000001", nil)
	c.do("GET", "shipping", "/shipments/by-order/o-000001", nil)

	if n := c.d.Calls("customers"); n != 4 {
		t.Errorf("customers calls %d, want 4", n)
	}
	want := map[string]int{
		"customers GET /customers?ids":                1,
		"customers GET /customers/{id}":               2,
		"customers GET (unmatched)":                   1,
		"catalog POST /products:batchGet":             1,
		"orders GET /orders?customer_ids":             1,
		"orders GET /orders?ids":                      1,
		"shipping GET /shipments/by-order/{order_id}": 1,
	}
	if got := c.d.CallsByEndpoint(); !reflect.DeepEqual(got, want) {
		t.Errorf("by endpoint %v, want %v", got, want)
	}
	reqs := c.d.Requests("customers")
	if len(reqs) != 4 {
		t.Fatalf("%d recorded", len(reqs))
	}
	first := reqs[0]
	if first.Keys != 3 || first.Endpoint != "GET /customers?ids" || first.RawQuery != "ids=c-0001,c-0002,c-0001" ||
		first.Header.Get("X-Request-Id") != "rq-1" || first.Header.Get("X-User-Id") != "c-0001" || first.Path != "/customers" {
		t.Errorf("first request %+v", first)
	}
	if reqs[1].Keys != 0 {
		t.Errorf("a single get has %d keys", reqs[1].Keys)
	}
	if cat := c.d.Requests("catalog"); len(cat) != 1 || cat[0].Keys != 2 || string(cat[0].Body) != `{"skus":["SKU-0001","SKU-0002"]}` {
		t.Errorf("catalog requests %+v", cat)
	}
	if ord := c.d.Requests("orders"); len(ord) != 2 || ord[0].Keys != 2 || ord[1].Keys != 1 {
		t.Errorf("orders requests %+v", ord)
	}

	c.d.ResetCounters()
	if c.d.Calls("customers") != 0 || len(c.d.CallsByEndpoint()) != 0 || len(c.d.Requests("customers")) != 0 {
		t.Fatal("counters not reset")
	}
}

func TestRecordingIsBounded(t *testing.T) {
	c := startDemo(t, Options{MaxRecorded: 3})
	for range 10 {
		c.do("GET", "customers", "/customers/c-0001", nil)
	}
	if n := len(c.d.Requests("customers")); n < 3 || n > 6 {
		t.Fatalf("%d recorded, want 3 to 6", n)
	}
	if n := c.d.Calls("customers"); n != 10 {
		t.Fatalf("%d counted, want 10", n)
	}
}

func TestAdminAPI(t *testing.T) {
	c := startDemo(t, Options{})
	admin := httptest.NewServer(c.d.AdminHandler())
	t.Cleanup(admin.Close)
	call := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		res, err := admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		check  func(t *testing.T)
	}{
		{"a fault set through the admin API applies", "PUT", "/faults/payments",
			`{"status":503,"retry_after":"1","endpoint":"GET /payments"}`, 204, func(t *testing.T) {
				r := c.do("GET", "payments", "/payments?order_ids=o-000001", nil)
				wantStatus(t, r, 503, "injected")
				if got := c.d.Faults()["payments"]; len(got) != 1 || got[0].RetryAfter != "1" {
					t.Fatalf("faults %+v", got)
				}
			}},
		{"the counts include that call", "GET", "/calls", "", 200, nil},
		{"deleting the faults clears them", "DELETE", "/faults", "", 204, func(t *testing.T) {
			wantStatus(t, c.do("GET", "payments", "/payments?order_ids=o-000001", nil), 200, "")
		}},
		{"latency is set in milliseconds", "PUT", "/latency/payments", `{"ms":25}`, 204, func(t *testing.T) {
			if got := time.Duration(c.d.svcs["payments"].latency.Load()); got != 25*time.Millisecond {
				t.Fatalf("latency %v", got)
			}
			c.d.SetLatency("payments", 0)
		}},
		{"a reset zeroes the counters", "POST", "/reset", "", 204, func(t *testing.T) {
			if n := c.d.Calls("payments"); n != 0 {
				t.Fatalf("%d calls", n)
			}
		}},
		{"an unknown service is 404", "PUT", "/faults/billing", `{"status":500}`, 404, nil},
		{"a latency without ms is a bad request", "PUT", "/latency/payments", `{}`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(tt.method, tt.path, tt.body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
	t.Run("the counts are JSON by service and endpoint", func(t *testing.T) {
		c.do("GET", "payments", "/payments?order_ids=o-000001", nil)
		var got struct {
			Services  map[string]int `json:"services"`
			Endpoints map[string]int `json:"endpoints"`
		}
		if err := json.NewDecoder(call("GET", "/calls", "").Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Services["payments"] != 1 || got.Endpoints["payments GET /payments?order_ids"] != 1 {
			t.Fatalf("counts %+v", got)
		}
	})
}
