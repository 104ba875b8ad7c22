package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/catalog"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
)

const engine = `{"sku": "SKU-0042", "title": "Brass Difference Engine", "description": null,
 "price": {"amount": "19.99", "currency": "EUR"}, "tags": ["brass", "engines"]}`

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *catalog.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, catalog.New(s.Client(t, catalog.Service))
}

func TestGetDecodesProducts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		check func(*catalog.Product) bool
	}{
		{"a full product is decoded", engine, func(p *catalog.Product) bool {
			return p.SKU == "SKU-0042" && p.Title == "Brass Difference Engine" && p.Description == nil &&
				p.Price == catalog.Price{Amount: "19.99", Currency: "EUR"} && slices.Equal(p.Tags, []string{"brass", "engines"})
		}},
		{"a description is a pointer to its text", `{"sku":"S","description":"Old"}`, func(p *catalog.Product) bool {
			return p.Description != nil && *p.Description == "Old"
		}},
		{"missing tags are nil", `{"sku":"S","title":"T"}`, func(p *catalog.Product) bool { return p.Tags == nil }},
		{"a sparse answer leaves the rest zero", `{"sku":"S","title":"T"}`, func(p *catalog.Product) bool {
			return p.Price == catalog.Price{} && p.Description == nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, rectest.JSON(200, tc.body))
			p, err := c.Get(context.Background(), "S", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestGetRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sku      string
		fields   []string
		wantPath string
		wantRaw  string
	}{
		{"without fields no fields parameter is sent", "SKU-0042", nil, "/products/SKU-0042", ""},
		{"fields are sent comma-separated", "SKU-0042", []string{"title", "price"}, "/products/SKU-0042", "fields=title,price"},
		{"the sku is path-escaped", "A/B C", nil, "/products/A%2FB%20C", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, engine))
			if _, err := c.Get(context.Background(), tc.sku, tc.fields); err != nil {
				t.Fatal(err)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != tc.wantPath || r.Raw != tc.wantRaw {
				t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
	}{
		{"an unknown sku is not found", rectest.JSON(404, `{"error":"not_found"}`), upstream.ErrNotFound},
		{"a price amount that is a number is a bad response", rectest.JSON(200, `{"sku":"S","price":{"amount":19.99}}`), upstream.ErrBadResponse},
		{"tags that are not a list are a bad response", rectest.JSON(200, `{"sku":"S","tags":"a,b"}`), upstream.ErrBadResponse},
		{"a product without sku is a bad response", rectest.JSON(200, `{"title":"T"}`), upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, tc.h)
			if _, err := c.Get(context.Background(), "S", nil); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBatchGet(t *testing.T) {
	t.Run("it posts skus and fields and reads the products map", func(t *testing.T) {
		s, c := newClient(t, rectest.JSON(200, `{"products":{"SKU-0042":`+engine+`,"B":{"title":"no sku"},"X":null,"NOT-ASKED":{"sku":"NOT-ASKED"}}}`))
		got, err := c.BatchGet(context.Background(), []string{"SKU-0042", "B", "X", "SKU-0042", "GONE"}, []string{"title"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["SKU-0042"].Title != "Brass Difference Engine" || got["B"].SKU != "B" {
			t.Errorf("got %v", got)
		}
		r := s.Requests()[0]
		if r.Method != "POST" || r.Path != "/products:batchGet" || string(r.Body) != `{"skus":["SKU-0042","B","X","GONE"],"fields":["title"]}` {
			t.Errorf("request %s %s %s", r.Method, r.Path, r.Body)
		}
	})
	t.Run("without fields the fields member is left out", func(t *testing.T) {
		s, c := newClient(t, rectest.JSON(200, `{"products":{}}`))
		if _, err := c.BatchGet(context.Background(), []string{"A"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := string(s.Requests()[0].Body); got != `{"skus":["A"]}` {
			t.Errorf("body %s", got)
		}
	})
	t.Run("250 skus go in 3 requests of at most 100", func(t *testing.T) {
		var skus []string
		for i := range 250 {
			skus = append(skus, fmt.Sprintf("S-%d", i))
		}
		s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			var in struct{ SKUs []string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			var parts []string
			for _, k := range in.SKUs {
				parts = append(parts, fmt.Sprintf(`%q:{"sku":%q}`, k, k))
			}
			rectest.JSON(200, `{"products":{`+strings.Join(parts, ",")+`}}`)(w, r)
		})
		got, err := c.BatchGet(context.Background(), append(skus, skus[:50]...), nil)
		if err != nil || len(got) != 250 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		reqs := s.Requests()
		if len(reqs) != 3 {
			t.Fatalf("%d requests", len(reqs))
		}
		for _, r := range reqs {
			var in struct{ SKUs []string }
			_ = json.Unmarshal(r.Body, &in)
			if len(in.SKUs) > 100 {
				t.Errorf("%d skus in one request", len(in.SKUs))
			}
		}
	})
	t.Run("a missing products member is a bad response", func(t *testing.T) {
		_, c := newClient(t, rectest.JSON(200, `{"items":[]}`))
		if _, err := c.BatchGet(context.Background(), []string{"A"}, nil); !errors.Is(err, upstream.ErrBadResponse) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		q        string
		limit    int
		cursor   string
		body     string
		wantRaw  string
		wantSKUs []string
		wantNext string // "" for nil
	}{
		{"all parameters are sent", "brass", 10, "C1", `{"items":[` + engine + `],"next":"C2"}`, "cursor=C1&limit=10&q=brass", []string{"SKU-0042"}, "C2"},
		{"empty parameters are left out", "", 0, "", `{"items":[],"next":null}`, "", nil, ""},
		{"query text is escaped", "a&b c", 0, "", `{"items":[],"next":null}`, "q=a%26b+c", nil, ""},
		{"a missing next means the last page", "", 0, "", `{"items":[{"sku":"A"}]}`, "", []string{"A"}, ""},
		{"an empty next means the last page", "", 0, "", `{"items":[],"next":""}`, "", nil, ""},
		{"null items are dropped", "", 0, "", `{"items":[null,{"sku":"A"}],"next":null}`, "", []string{"A"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, rectest.JSON(200, tc.body))
			page, err := c.Search(context.Background(), tc.q, tc.limit, tc.cursor)
			if err != nil {
				t.Fatal(err)
			}
			var skus []string
			for _, p := range page.Items {
				skus = append(skus, p.SKU)
			}
			next := ""
			if page.Next != nil {
				next = *page.Next
			}
			if !slices.Equal(skus, tc.wantSKUs) || next != tc.wantNext || (page.Next != nil && tc.wantNext == "") {
				t.Errorf("page %v next %q", skus, next)
			}
			if r := s.Requests()[0]; r.Method != "GET" || r.Path != "/products" || r.Raw != tc.wantRaw {
				t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
			}
		})
	}
	t.Run("a missing items member is a bad response", func(t *testing.T) {
		_, c := newClient(t, rectest.JSON(200, `{"products":[]}`))
		if _, err := c.Search(context.Background(), "", 0, ""); !errors.Is(err, upstream.ErrBadResponse) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommonRules(t *testing.T) {
	run := func(f func(context.Context, *catalog.Client) error) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return f(ctx, catalog.New(c)) }
	}
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"Get", rectest.Method{OK: rectest.JSON(200, engine),
			Run: run(func(ctx context.Context, c *catalog.Client) error { _, err := c.Get(ctx, "SKU-0042", nil); return err })}},
		{"BatchGet", rectest.Method{OK: rectest.JSON(200, `{"products":{"SKU-0042":`+engine+`}}`),
			Run: run(func(ctx context.Context, c *catalog.Client) error {
				_, err := c.BatchGet(ctx, []string{"SKU-0042"}, nil)
				return err
			})}},
		{"Search", rectest.Method{OK: rectest.JSON(200, `{"items":[`+engine+`],"next":null}`),
			Run: run(func(ctx context.Context, c *catalog.Client) error {
				_, err := c.Search(ctx, "brass", 5, "")
				return err
			})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// UserID false: never sent, even though the test client is
			// built with SendUserID true.
			tc.m.Service, tc.m.Idempotent, tc.m.UserID, tc.m.Decodes = catalog.Service, true, false, true
			rectest.CheckMethod(t, tc.m)
		})
	}
}
