package planner

import (
	"fmt"
	"slices"
	"testing"
)

func TestDistinctKeepsFirstSeenOrder(t *testing.T) {
	for _, n := range []int{5, 16, 17, 300} {
		var keys, want []string
		for i := range n {
			k := fmt.Sprint((i * 7) % (n/2 + 1))
			keys = append(keys, k)
			if !slices.Contains(want, k) {
				want = append(want, k)
			}
		}
		if got := distinct(keys); !slices.Equal(got, want) {
			t.Errorf("%d keys: %v, want %v", n, got, want)
		}
	}
}
