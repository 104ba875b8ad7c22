package upstream

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestBackoffStaysWithinItsCap(t *testing.T) {
	base, max := 10*time.Millisecond, 35*time.Millisecond
	for _, tc := range []struct {
		name    string
		attempt int
		cap     time.Duration
	}{
		{"the first retry waits less than the base", 1, 10 * time.Millisecond},
		{"the second retry waits less than twice the base", 2, 20 * time.Millisecond},
		{"later retries wait less than the maximum", 5, 35 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen time.Duration
			for range 500 {
				d := backoff(base, max, tc.attempt)
				if d < 0 || d >= tc.cap {
					t.Fatalf("backoff = %v, want in [0, %v)", d, tc.cap)
				}
				seen = seen + d
			}
			if seen == 0 {
				t.Errorf("no jitter: every wait was 0")
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		want time.Duration
	}{
		{"delay seconds are read", "3", 3 * time.Second},
		{"zero means now", "0", 0},
		{"an HTTP date is read relative to now", now.Add(4 * time.Second).Format(http.TimeFormat), 4 * time.Second},
		{"a date in the past means now", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"absent is none", "", -1},
		{"garbage is none", "soon", -1},
		{"a negative number is none", "-5", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMaxAge(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want int
	}{
		{"absent is -1", nil, -1},
		{"max-age is read", []string{"max-age=30"}, 30},
		{"max-age among other directives is read", []string{"public, max-age=60, must-revalidate"}, 60},
		{"directive names are case-insensitive", []string{"Max-Age=7"}, 7},
		{"no-store means 0", []string{"no-store"}, 0},
		{"no-cache wins over max-age", []string{"no-cache, max-age=30"}, 0},
		{"the smaller of two max-ages wins", []string{"max-age=30", "max-age=10"}, 10},
		{"an unreadable max-age is ignored", []string{"max-age=soon"}, -1},
		{"s-maxage alone is not max-age", []string{"s-maxage=30"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.in {
				h.Add("Cache-Control", v)
			}
			if got := maxAge(h); got != tc.want {
				t.Errorf("maxAge(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzResponseHeaders feeds untrusted Cache-Control and Retry-After values.
// Properties: no panic; max-age is -1 or more; a Retry-After wait is -1 or
// between 0 and one day.
func FuzzResponseHeaders(f *testing.F) {
	for _, s := range []string{"max-age=30", "no-store", "max-age=-1", "max-age=99999999999999999999", "3", "Wed, 21 Oct 2015 07:28:00 GMT", ", ,=,"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if got := maxAge(http.Header{"Cache-Control": {v}}); got < -1 {
			t.Errorf("maxAge(%q) = %d", v, got)
		}
		if got := parseRetryAfter(v, now); got < -1 || got > 24*time.Hour {
			t.Errorf("parseRetryAfter(%q) = %v", v, got)
		}
	})
}

// FuzzDescribeJSON decodes untrusted bodies. Property: the description of
// a decoding failure never repeats the body's text (the marker planted in
// every string and key never shows).
func FuzzDescribeJSON(f *testing.F) {
	for _, s := range []string{`{"id":"LEAKME"}`, `{"LEAKME":1}`, `{"n":LEAKME}`, `{"tags":"LEAKME"}`, `{"n":1e999}`, `[`, `{"id":12345678}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var out struct {
			ID   string            `json:"id"`
			N    int               `json:"n"`
			Tags []string          `json:"tags"`
			M    map[string]string `json:"m"`
		}
		err := json.Unmarshal([]byte(body), &out)
		if err == nil {
			return
		}
		if d := describeJSON(err); strings.Contains(d, "LEAKME") {
			t.Errorf("describeJSON shows the body: %q", d)
		}
	})
}

func TestRetryBudgetWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	// A reserve of 1 retry every 100s: in these tests, one token at start.
	newBudget := func() *retryBudget {
		return newRetryBudget(RetryBudget{Ratio: 0.2, MinPerSecond: 0.01, Window: 10 * time.Second}, t0)
	}
	retries := func(b *retryBudget, now time.Time, n int) int {
		got := 0
		for range n {
			if b.withdraw(now) {
				got++
			}
		}
		return got
	}

	t.Run("retries stay within the ratio of calls, plus the reserve", func(t *testing.T) {
		b := newBudget()
		for range 100 {
			b.deposit(t0)
		}
		if got := retries(b, t0, 1000); got != 20+1 {
			t.Errorf("%d retries after 100 calls, want 20 + 1 from the reserve", got)
		}
	})
	t.Run("calls slide out of the window, and so does their allowance", func(t *testing.T) {
		b := newBudget()
		for range 100 {
			b.deposit(t0)
		}
		if got := retries(b, t0, 20); got != 20 {
			t.Fatalf("%d retries, want 20", got)
		}
		// 5s on, the same calls and retries are still in the window.
		if got := retries(b, t0.Add(5*time.Second), 5); got != 1 {
			t.Errorf("%d retries 5s on, want only the reserve's 1", got)
		}
		// 16s on, everything slid out: no calls, so no share.
		later := t0.Add(16 * time.Second)
		if got := retries(b, later, 5); got != 0 {
			t.Errorf("%d retries 16s on with no calls, want 0", got)
		}
		for range 50 {
			b.deposit(later)
		}
		if got := retries(b, later, 50); got != 10 {
			t.Errorf("%d retries after 50 fresh calls, want 10", got)
		}
	})
	t.Run("a low-traffic service can still retry from the reserve", func(t *testing.T) {
		b := newRetryBudget(RetryBudget{Ratio: 0.2, MinPerSecond: 10, Window: 10 * time.Second}, t0)
		b.deposit(t0)
		if got := retries(b, t0, 2); got != 2 {
			t.Errorf("%d retries of 1 call, want 2 from the reserve", got)
		}
	})
}

// The URL of a call is built without url.Parse for plain paths; it must be
// the URL url.Parse gives, whatever the base and the path.
func TestURLFastPathAgreesWithParse(t *testing.T) {
	bases := []string{"http://h", "http://h:8080", "https://u:p@h/api", "http://h/a%2Fb", "http://h/x y", "http://[::1]:9/v1"}
	paths := []string{"/", "/orders", "/orders/o-0001/lines", "/a/../b", "/skus/A.B_c~d", "//x", "/a%20b", "/a b", "/é", "/a?b=c", "/a#f", "/a;b"}
	for _, b := range bases {
		c, err := NewClient(Options{Service: "s", BaseURL: b + "/", APIKey: "k"})
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		for _, p := range paths {
			got, gerr := c.url(p)
			want, werr := url.Parse(c.base + p)
			if (gerr == nil) != (werr == nil) || gerr == nil && !sameURL(got, want) {
				t.Errorf("%s + %s: got %#v, %v; url.Parse gives %#v, %v", b, p, got, gerr, want, werr)
			}
			if gerr == nil && got.String() != want.String() {
				t.Errorf("%s + %s: prints %q, want %q", b, p, got, want)
			}
		}
	}
}

func sameURL(a, b *url.URL) bool {
	x, y := *a, *b
	x.User, y.User = nil, nil
	return x == y && a.User.String() == b.User.String()
}
