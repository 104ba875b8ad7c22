package planner_test

import (
	"testing"
	"time"

	"github.com/tutti-gw/tutti/loaders"
	"github.com/tutti-gw/tutti/planner"
	"github.com/tutti-gw/tutti/schema"
)

// TestCachePoliciesFollowTheSchema checks the policy of every call as the
// schema's @cacheControl declares it, and that each passes the privacy
// check: no PUBLIC policy on a call that carries the caller's identity.
func TestCachePoliciesFollowTheSchema(t *testing.T) {
	s, err := planner.LoadSchema(loaders.Names(), schema.Sources()...)
	if err != nil {
		t.Fatal(err)
	}
	got := s.CachePolicies()
	want := map[string]loaders.Policy{
		loaders.CustomersByID:    {MaxAge: 60 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.OrdersByID:       {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.OrdersByCustomer: {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.ProductsBySKU:    {MaxAge: 300 * time.Second, MaxStale: 5 * time.Minute},
		// Stock is never kept over one second, not even stale.
		loaders.StockBySKU:      {MaxAge: time.Second},
		loaders.ShipmentByOrder: {MaxAge: 10 * time.Second, Private: true, MaxStale: 5 * time.Minute},
		loaders.PaymentsByOrder: {MaxAge: 30 * time.Second, Private: true, MaxStale: 5 * time.Minute},
	}
	for call, w := range want {
		if got[call] != w {
			t.Errorf("%s: policy %+v, want %+v", call, got[call], w)
		}
	}
	if err := loaders.CheckPolicies(got); err != nil {
		t.Errorf("the schema's policies fail the privacy check: %v", err)
	}
	if err := loaders.CheckPolicies(map[string]loaders.Policy{loaders.CustomersByID: {MaxAge: time.Minute}}); err == nil {
		t.Error("a PUBLIC policy on customers (sent X-User-Id) passed the privacy check")
	}
}
