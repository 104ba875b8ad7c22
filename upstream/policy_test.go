package upstream_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPolicyFromEnv(t *testing.T) {
	t.Run("nothing set is the zero policy: every default", func(t *testing.T) {
		p, err := upstream.PolicyFromEnv("orders", env(nil))
		if err != nil || p != (upstream.Policy{}) {
			t.Fatalf("got %+v, %v", p, err)
		}
	})

	t.Run("every variable is read", func(t *testing.T) {
		p, err := upstream.PolicyFromEnv("order-history", env(map[string]string{
			"UPSTREAM_ORDER_HISTORY_TIMEOUT":                      "300ms",
			"UPSTREAM_ORDER_HISTORY_OVERALL_TIMEOUT":              "1s",
			"UPSTREAM_ORDER_HISTORY_RETRIES":                      "0",
			"UPSTREAM_ORDER_HISTORY_BACKOFF_BASE":                 "10ms",
			"UPSTREAM_ORDER_HISTORY_BACKOFF_MAX":                  "100ms",
			"UPSTREAM_ORDER_HISTORY_MAX_RETRY_AFTER":              "3s",
			"UPSTREAM_ORDER_HISTORY_RETRY_BUDGET_RATIO":           "10%",
			"UPSTREAM_ORDER_HISTORY_RETRY_BUDGET_MIN_PER_SEC":     "2.5",
			"UPSTREAM_ORDER_HISTORY_RETRY_BUDGET_WINDOW":          "30s",
			"UPSTREAM_ORDER_HISTORY_MAX_CONCURRENT":               "16",
			"UPSTREAM_ORDER_HISTORY_MAX_BODY_BYTES":               "1048576",
			"UPSTREAM_ORDER_HISTORY_BREAKER_ENABLED":              "false",
			"UPSTREAM_ORDER_HISTORY_BREAKER_CONSECUTIVE_FAILURES": "7",
			"UPSTREAM_ORDER_HISTORY_BREAKER_FAILURE_RATIO":        "0.25",
			"UPSTREAM_ORDER_HISTORY_BREAKER_MIN_REQUESTS":         "50",
			"UPSTREAM_ORDER_HISTORY_BREAKER_WINDOW":               "20s",
			"UPSTREAM_ORDER_HISTORY_BREAKER_OPEN_DURATION":        "2s",
			"UPSTREAM_ORDER_HISTORY_BREAKER_HALF_OPEN_PROBES":     "1",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := upstream.Policy{
			AttemptTimeout: 300 * time.Millisecond, OverallTimeout: time.Second, MaxAttempts: 1,
			BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxRetryAfter: 3 * time.Second,
			RetryBudget:   upstream.RetryBudget{Ratio: 0.1, MinPerSecond: 2.5, Window: 30 * time.Second},
			MaxConcurrent: 16, MaxBodyBytes: 1 << 20,
			Breaker: upstream.BreakerSettings{Disabled: true, ConsecutiveFailures: 7, FailureRatio: 0.25, MinRequests: 50,
				Window: 20 * time.Second, OpenDuration: 2 * time.Second, HalfOpenProbes: 1},
		}
		if p != want {
			t.Errorf("got  %+v\nwant %+v", p, want)
		}
	})

	t.Run("every bad value is reported, naming its variable and what it wants", func(t *testing.T) {
		_, err := upstream.PolicyFromEnv("payments", env(map[string]string{
			"UPSTREAM_PAYMENTS_TIMEOUT":               "soon",
			"UPSTREAM_PAYMENTS_RETRIES":               "-1",
			"UPSTREAM_PAYMENTS_MAX_CONCURRENT":        "0",
			"UPSTREAM_PAYMENTS_RETRY_BUDGET_RATIO":    "20",
			"UPSTREAM_PAYMENTS_BREAKER_ENABLED":       "perhaps",
			"UPSTREAM_PAYMENTS_BREAKER_FAILURE_RATIO": "0",
		}))
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{
			`UPSTREAM_PAYMENTS_TIMEOUT "soon": want a duration`,
			`UPSTREAM_PAYMENTS_RETRIES "-1": want a whole number from 0 to 10`,
			`UPSTREAM_PAYMENTS_MAX_CONCURRENT "0": want a whole number from 1`,
			`UPSTREAM_PAYMENTS_RETRY_BUDGET_RATIO "20": want a share above 0 and at most 1, such as 0.2 or 20%`,
			`UPSTREAM_PAYMENTS_BREAKER_ENABLED "perhaps": want true or false`,
			`UPSTREAM_PAYMENTS_BREAKER_FAILURE_RATIO "0": want a share`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q:\n%v", want, err)
			}
		}
	})

	t.Run("settings that contradict each other are refused", func(t *testing.T) {
		_, err := upstream.PolicyFromEnv("catalog", env(map[string]string{
			"UPSTREAM_CATALOG_TIMEOUT":         "2s",
			"UPSTREAM_CATALOG_OVERALL_TIMEOUT": "1s",
			"UPSTREAM_CATALOG_BACKOFF_BASE":    "100ms",
			"UPSTREAM_CATALOG_BACKOFF_MAX":     "10ms",
		}))
		for _, want := range []string{"UPSTREAM_CATALOG_OVERALL_TIMEOUT 1s is shorter than UPSTREAM_CATALOG_TIMEOUT 2s",
			"UPSTREAM_CATALOG_BACKOFF_MAX 10ms is shorter than UPSTREAM_CATALOG_BACKOFF_BASE 100ms"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want one saying %q", err, want)
			}
		}
	})

	t.Run("a service name that cannot make a variable name is refused", func(t *testing.T) {
		for _, name := range []string{"", "ord ers", "orders.v2"} {
			if _, err := upstream.PolicyFromEnv(name, env(nil)); err == nil {
				t.Errorf("%q accepted", name)
			}
		}
	})

	t.Run("Apply sets only what the policy sets", func(t *testing.T) {
		o := upstream.Options{AttemptTimeout: 700 * time.Millisecond, MaxConcurrent: 8}
		upstream.Policy{OverallTimeout: 3 * time.Second, MaxAttempts: 1, Breaker: upstream.BreakerSettings{OpenDuration: time.Second}}.Apply(&o)
		if o.AttemptTimeout != 700*time.Millisecond || o.MaxConcurrent != 8 || o.OverallTimeout != 3*time.Second ||
			o.MaxAttempts != 1 || o.Breaker.OpenDuration != time.Second || o.Breaker.Disabled {
			t.Errorf("options after Apply: %+v", o)
		}
	})
}

func TestNewClientRefusesRatiosAboveOne(t *testing.T) {
	base := upstream.Options{Service: "things", BaseURL: "http://127.0.0.1:1", APIKey: "k"}
	for _, tc := range []struct {
		name string
		edit func(*upstream.Options)
		want string
	}{
		{"a retry budget ratio of 2", func(o *upstream.Options) { o.RetryBudget.Ratio = 2 }, "retry budget ratio"},
		{"a breaker failure ratio of 1.5", func(o *upstream.Options) { o.Breaker.FailureRatio = 1.5 }, "breaker failure ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := upstream.NewClient(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one about the %s", err, tc.want)
			}
			if errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("a configuration error is not an upstream failure")
			}
		})
	}
}
