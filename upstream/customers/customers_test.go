package customers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tutti-gw/tutti/upstream"
	"github.com/tutti-gw/tutti/upstream/customers"
	"github.com/tutti-gw/tutti/upstream/internal/rectest"
)

const ada = `{"id": "c-0001", "full_name": "Ada Lovelace", "email": "ada@example.com",
 "tier": "gold", "created": "2021-03-04T10:00:00+02:00",
 "address": {"line1": "12 Analytical Row", "city": "London", "postcode": "N1 9GU", "country": "GB"}}`

func newClient(t *testing.T, h http.HandlerFunc) (*rectest.Server, *customers.Client) {
	t.Helper()
	s := rectest.New(t, h)
	return s, customers.New(s.Client(t, customers.Service))
}

func TestGetDecodesTheCustomerFromItsPath(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, ada))
	got, err := c.Get(context.Background(), "c-0001")
	if err != nil {
		t.Fatal(err)
	}
	want := customers.Customer{ID: "c-0001", FullName: "Ada Lovelace", Email: "ada@example.com", Tier: "gold",
		Created: "2021-03-04T10:00:00+02:00",
		Address: &customers.Address{Line1: "12 Analytical Row", City: "London", Postcode: "N1 9GU", Country: "GB"}}
	if *got.Address != *want.Address || got.ID != want.ID || got.FullName != want.FullName || got.Email != want.Email || got.Tier != want.Tier || got.Created != want.Created {
		t.Errorf("got %+v, want %+v", got, want)
	}
	r := s.Requests()[0]
	if r.Method != "GET" || r.Path != "/customers/c-0001" || r.Raw != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
	}
}

func TestGetAddressMissingOrNullIsNil(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"an address that is null is nil", `{"id":"c-1","full_name":"A","address":null}`},
		{"an address left out is nil", `{"id":"c-1","full_name":"A"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, rectest.JSON(200, tc.body))
			got, err := c.Get(context.Background(), "c-1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Address != nil {
				t.Errorf("address = %+v, want nil", got.Address)
			}
		})
	}
}

func TestGetEscapesTheID(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, `{"id":"a/b c?d"}`))
	if _, err := c.Get(context.Background(), "a/b c?d"); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests()[0].Path; got != "/customers/a%2Fb%20c%3Fd" {
		t.Errorf("path = %q", got)
	}
}

func TestGetErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		id      string
		h       http.HandlerFunc
		want    error
		request bool
	}{
		{"an unknown customer is not found", "c-9", rectest.JSON(404, `{"error":"not_found"}`), upstream.ErrNotFound, true},
		{"an empty id is not found without a call", "", rectest.JSON(200, ada), upstream.ErrNotFound, false},
		{"a customer without id is a bad response", "c-1", rectest.JSON(200, `{"full_name":"A"}`), upstream.ErrBadResponse, true},
		{"a JSON null is a bad response", "c-1", rectest.JSON(200, `null`), upstream.ErrBadResponse, true},
		{"a wrongly typed field is a bad response", "c-1", rectest.JSON(200, `{"id":1}`), upstream.ErrBadResponse, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newClient(t, tc.h)
			_, err := c.Get(context.Background(), tc.id)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := s.Count() > 0; got != tc.request {
				t.Errorf("request made = %v, want %v", got, tc.request)
			}
		})
	}
}

func TestGetManySplitsAt100AndCollapsesDuplicates(t *testing.T) {
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprintf("c-%03d", i))
	}
	ids = append(ids, ids[:30]...) // duplicates
	s, c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		var parts []string
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			if id != "c-007" { // c-007 does not exist
				parts = append(parts, fmt.Sprintf(`{"id":%q,"full_name":"N"}`, id))
			}
		}
		rectest.JSON(200, `{"customers":[`+strings.Join(parts, ",")+`]}`)(w, r)
	})
	got, err := c.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 249 || got["c-007"] != nil || got["c-249"] == nil || got["c-000"].ID != "c-000" {
		t.Errorf("got %d customers", len(got))
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	var asked []string
	for _, r := range reqs {
		if r.Method != "GET" || r.Path != "/customers" {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
		if strings.Contains(r.Raw, "%2C") {
			t.Errorf("commas escaped in %q", r.Raw)
		}
		part := strings.Split(r.Query.Get("ids"), ",")
		if len(part) > 100 {
			t.Errorf("%d ids in one request", len(part))
		}
		asked = append(asked, part...)
	}
	slices.Sort(asked)
	if len(asked) != 250 || len(slices.Compact(asked)) != 250 {
		t.Errorf("asked %d ids, want 250 distinct", len(asked))
	}
}

func TestGetManyEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		want  []string
		error error
	}{
		{"only the customers that exist are in the map", `{"customers":[{"id":"a"}]}`, []string{"a"}, nil},
		{"customers not asked for are dropped", `{"customers":[{"id":"a"},{"id":"zz"}]}`, []string{"a"}, nil},
		{"null entries are skipped", `{"customers":[null,{"id":"b"}]}`, []string{"b"}, nil},
		{"a null list means none", `{"customers":null}`, nil, nil},
		{"a missing envelope is a bad response", `{"data":[{"id":"a"}]}`, nil, upstream.ErrBadResponse},
		{"a bare array is a bad response", `[{"id":"a"}]`, nil, upstream.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newClient(t, rectest.JSON(200, tc.body))
			got, err := c.GetMany(context.Background(), []string{"a", "b"})
			if !errors.Is(err, tc.error) {
				t.Fatalf("err = %v, want %v", err, tc.error)
			}
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.want) {
				t.Errorf("keys = %v, want %v", keys, tc.want)
			}
		})
	}
}

func TestGetManyWithNoIDsMakesNoCall(t *testing.T) {
	s, c := newClient(t, rectest.JSON(200, `{"customers":[]}`))
	got, err := c.GetMany(context.Background(), []string{"", ""})
	if err != nil || len(got) != 0 || s.Count() != 0 {
		t.Errorf("got %v, %v with %d requests", got, err, s.Count())
	}
}

func TestCommonRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    rectest.Method
	}{
		{"Get", rectest.Method{
			Run: func(ctx context.Context, c *upstream.Client) error {
				_, err := customers.New(c).Get(ctx, "c-0001")
				return err
			},
			OK: rectest.JSON(200, ada),
		}},
		{"GetMany", rectest.Method{
			Run: func(ctx context.Context, c *upstream.Client) error {
				_, err := customers.New(c).GetMany(ctx, []string{"c-0001", "c-0002"})
				return err
			},
			OK: rectest.JSON(200, `{"customers":[`+ada+`]}`),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Service, tc.m.Idempotent, tc.m.UserID, tc.m.Decodes = customers.Service, true, true, true
			rectest.CheckMethod(t, tc.m)
		})
	}
}
