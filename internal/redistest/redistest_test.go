package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func ping(u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestURLAnswersPing(t *testing.T) {
	if err := ping(URL(t)); err != nil {
		t.Fatalf("shared Redis does not answer: %v", err)
	}
}

func TestPrefixKeysAreDeletedAtCleanup(t *testing.T) {
	opt, _ := redis.ParseURL(URL(t))
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	var p string
	t.Run("inner", func(t *testing.T) {
		p = Prefix(t)
		if err := c.Set(ctx, p+"k", "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	})
	if n := c.Exists(ctx, p+"k").Val(); n != 0 {
		t.Fatalf("key under %q survived its test", p)
	}
}

func TestServerStopAndRestartOnTheSamePort(t *testing.T) {
	s := Start(t)
	if err := ping(s.URL()); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	s.Stop()
	if err := rawPing(s.Addr); err == nil {
		t.Fatal("stopped server still answers")
	}
	s.Restart()
	if err := ping(s.URL()); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}

func TestClusterOfOneNodeFormsByHand(t *testing.T) {
	addrs := StartCluster(t, 1)
	c := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer c.Close()
	info := c.ClusterInfo(context.Background()).Val()
	if !strings.Contains(info, "cluster_slots_assigned:16384") {
		t.Fatalf("CLUSTER INFO: %s", info)
	}
}
