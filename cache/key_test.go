package cache

import (
	"net/url"
	"regexp"
	"testing"
)

func TestKeysOfTheSameRequestAreEqual(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b string
	}{
		{"query parameters in another order",
			Key("catalog", "GET", "/products", url.Values{"sku": {"s1"}, "lang": {"en"}}, nil, nil),
			Key("catalog", "GET", "/products", url.Values{"lang": {"en"}, "sku": {"s1"}}, nil, nil)},
		{"values of a repeated parameter in another order",
			Key("catalog", "GET", "/products", url.Values{"tag": {"a", "b"}}, nil, nil),
			Key("catalog", "GET", "/products", url.Values{"tag": {"b", "a"}}, nil, nil)},
		{"JSON object keys in another order and other spacing",
			Key("orders", "POST", "/orders/search", nil, []byte(`{"status":"open","customer":{"id":"c-1","tier":"gold"}}`), nil),
			Key("orders", "POST", "/orders/search", nil, []byte(" {\"customer\": {\"tier\":\"gold\", \"id\":\"c-1\"},\n \"status\":\"open\"} "), nil)},
		{"method in another case",
			Key("customers", "get", "/customers/c-1", nil, nil, nil),
			Key("customers", "GET", "/customers/c-1", nil, nil, nil)},
		{"identity header in another case",
			Key("customers", "GET", "/customers/c-1", nil, nil, map[string]string{"x-user-id": "c-1"}),
			Key("customers", "GET", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-1"})},
		{"an empty identity value is no identity",
			Key("catalog", "GET", "/products/s1", nil, nil, map[string]string{"X-User-Id": ""}),
			Key("catalog", "GET", "/products/s1", nil, nil, nil)},
		{"nil and empty query",
			Key("catalog", "GET", "/products/s1", nil, nil, nil),
			Key("catalog", "GET", "/products/s1", url.Values{}, []byte{}, map[string]string{})},
	} {
		if c.a != c.b {
			t.Errorf("%s: %s != %s", c.name, c.a, c.b)
		}
	}
}

func TestKeysOfDifferentRequestsDiffer(t *testing.T) {
	base := Key("customers", "GET", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-1"})
	for name, k := range map[string]string{
		"another user":           Key("customers", "GET", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-2"}),
		"the public request":     Key("customers", "GET", "/customers/c-1", nil, nil, nil),
		"another path":           Key("customers", "GET", "/customers/c-2", nil, nil, map[string]string{"X-User-Id": "c-1"}),
		"another service":        Key("orders", "GET", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-1"}),
		"another method":         Key("customers", "HEAD", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-1"}),
		"a query":                Key("customers", "GET", "/customers/c-1", url.Values{"x": {""}}, nil, map[string]string{"X-User-Id": "c-1"}),
		"a body":                 Key("customers", "GET", "/customers/c-1", nil, []byte(`{}`), map[string]string{"X-User-Id": "c-1"}),
		"an extra identity":      Key("customers", "GET", "/customers/c-1", nil, nil, map[string]string{"X-User-Id": "c-1", "X-Tenant": "t"}),
		"the id in another part": Key("customers", "GET", "/customers/", url.Values{"c-1": nil}, nil, map[string]string{"X-User-Id": "c-1"}),
	} {
		if k == base {
			t.Errorf("%s: same key %s", name, k)
		}
	}
	if a, b := Key("s", "GET", "/p", url.Values{"a": {"1,2"}}, nil, nil), Key("s", "GET", "/p", url.Values{"a": {"1", "2"}}, nil, nil); a == b {
		t.Error("a comma list and a repeated parameter give the same key")
	}
	if a, b := Key("s", "POST", "/p", nil, []byte(`{"n":1}`), nil), Key("s", "POST", "/p", nil, []byte(`{"n":1.0}`), nil); a == b {
		t.Error("numbers lost their literal text") // conservative: never merge what might differ
	}
}

func TestKeyReadsVersionServiceAndHash(t *testing.T) {
	k := Key("customers", "GET", "/customers/c-1", nil, nil, nil)
	if !regexp.MustCompile(`^v1:customers:[A-Za-z0-9_-]{43}$`).MatchString(k) {
		t.Fatalf("key %q", k)
	}
	if k := Key("a:b c", "GET", "/", nil, nil, nil); !regexp.MustCompile(`^v1:a_b_c:`).MatchString(k) {
		t.Fatalf("service with separators: %q", k)
	}
}
