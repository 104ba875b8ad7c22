package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a Redis Cluster of n masters (no replicas) on free
// loopback ports, waits until every node reports cluster_state:ok and knows
// all the others, and returns their host:port addresses; the nodes are
// stopped at cleanup. The slots are spread evenly: with redis-cli
// --cluster create when redis-cli exists and n >= 3 (its minimum), else
// with CLUSTER ADDSLOTS and CLUSTER MEET.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: a cluster needs at least one node, not %d", n)
	}
	addrs := make([]string, n)
	for i := range addrs {
		s := Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // relative to its own --dir below
			"--cluster-node-timeout", "5000",
		)
		addrs[i] = s.Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if cli, lerr := exec.LookPath("redis-cli"); lerr == nil && n >= 3 {
		err = createWithCLI(ctx, cli, addrs)
	} else {
		err = createByHand(ctx, addrs)
	}
	if err == nil {
		err = waitClusterOK(ctx, addrs)
	}
	if err != nil {
		t.Fatalf("redistest: form a %d-node cluster: %v", n, err)
	}
	return addrs
}

func createWithCLI(ctx context.Context, cli string, addrs []string) error {
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w: %s", err, tail(out))
	}
	return nil
}

func createByHand(ctx context.Context, addrs []string) error {
	const slots = 16384
	clients := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	for i, c := range clients {
		lo, hi := i*slots/len(addrs), (i+1)*slots/len(addrs)
		ss := make([]int, 0, hi-lo)
		for s := lo; s < hi; s++ {
			ss = append(ss, s)
		}
		if err := c.ClusterAddSlots(ctx, ss...).Err(); err != nil {
			return fmt.Errorf("cluster addslots on %s: %w", addrs[i], err)
		}
	}
	for i, c := range clients[1:] {
		host, port, _ := strings.Cut(addrs[0], ":")
		if err := c.ClusterMeet(ctx, host, port).Err(); err != nil {
			return fmt.Errorf("cluster meet from %s: %w", addrs[i+1], err)
		}
	}
	return nil
}

// waitClusterOK polls CLUSTER INFO on every node until all say
// cluster_state:ok and know all the nodes.
func waitClusterOK(ctx context.Context, addrs []string) error {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(addrs))
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		var info string
		for {
			var err error
			info, err = c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want) {
				break
			}
			select {
			case <-ctx.Done():
				c.Close()
				return fmt.Errorf("node %s not ready: %w (last CLUSTER INFO: %q, error %v)", a, ctx.Err(), tail([]byte(info)), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		c.Close()
	}
	return nil
}
