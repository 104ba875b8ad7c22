package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/gateway"
)

// loadWithFile loads the configuration from a GATEWAY_CONFIG file holding
// body and the environment env.
func loadWithFile(t *testing.T, body string, env map[string]string) (gateway.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tutti.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"GATEWAY_CONFIG": path}
	for k, v := range env {
		vars[k] = v
	}
	return gateway.Load(func(k string) string { return vars[k] })
}

func TestConfigFile(t *testing.T) {
	t.Run("numbers are read as written, the environment wins", func(t *testing.T) {
		c, err := loadWithFile(t, `{"GATEWAY_MAX_BODY_BYTES": 2097152, "GATEWAY_MAX_COST": 5000, "GATEWAY_INTROSPECTION": false, "GATEWAY_ADDR": "127.0.0.1:1"}`,
			map[string]string{"GATEWAY_ADDR": "127.0.0.1:2"})
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxBodyBytes != 2097152 || c.Limits.MaxCost != 5000 || c.Introspection || c.Addr != "127.0.0.1:2" {
			t.Errorf("config %+v", c)
		}
	})
	t.Run("a name nothing reads is refused", func(t *testing.T) {
		_, err := loadWithFile(t, `{"REDIS_ULR": "redis://127.0.0.1:6379/0", "UPSTREAM_ORDERS_RETRIES": 1}`, nil)
		if err == nil || !strings.Contains(err.Error(), "REDIS_ULR") || strings.Contains(err.Error(), "UPSTREAM_ORDERS_RETRIES") {
			t.Errorf("err = %v, want REDIS_ULR named (and only it)", err)
		}
	})
}

func TestRedactCredentials(t *testing.T) {
	for in, want := range map[string]string{
		`REDIS_URL: parse "redis://u:S3cretPW@127.0.0.1:abc/0": invalid port`: `REDIS_URL: parse "redis://xxxxx@127.0.0.1:abc/0": invalid port`,
		`UPSTREAM_ORDERS_URL "http://u:S3cretPW@127.0.0.1:abc": want`:         `UPSTREAM_ORDERS_URL "http://xxxxx@127.0.0.1:abc": want`,
		`rediss://:pw@a:1, rediss://:pw@b:2`:                                  `rediss://xxxxx@a:1, rediss://xxxxx@b:2`,
		`http://127.0.0.1:9001/x@y`:                                           `http://127.0.0.1:9001/x@y`,
	} {
		if got := gateway.RedactCredentials(in); got != want {
			t.Errorf("RedactCredentials(%q) = %q, want %q", in, got, want)
		}
	}
}

// The cache's own metrics are exposed: keys answered by source, and the
// in-process tier's lookups.
func TestCacheMetricsAreExposed(t *testing.T) {
	e := newEnv(t, map[string]string{"GATEWAY_CACHE": "true"})
	const q = `{ product(sku: "SKU-0001") { title } }`
	e.query("", q, nil).mustOK(t)
	e.query("", q, nil).mustOK(t)
	if v := e.mustMetric(`tutti_cache_answers_total{source="upstream"}`); v < 1 {
		t.Errorf("answers from upstream = %v, want at least 1", v)
	}
	if v := e.mustMetric(`tutti_cache_answers_total{source="cache"}`); v < 1 {
		t.Errorf("answers from the cache = %v, want at least 1", v)
	}
	e.mustMetric(`tutti_cache_memory_keys_total{result="hit"}`)
}
