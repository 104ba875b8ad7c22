// Command demo-upstreams runs the seven demo REST services of
// spec/upstreams.md on fixed ports, with the admin API beside them, until
// interrupted. Point the gateway at them with UPSTREAM_<NAME>_URL, and
// switch faults and latency at run time through the admin API (see
// demo.AdminHandler):
//
//	go run ./demo/cmd/demo-upstreams -base-port 9001
//	curl -X PUT localhost:9008/faults/shipping -d '{"status":503,"rate":0.3}'
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tutti-gw/tutti/demo"
)

func main() {
	var (
		seed    = flag.Int64("seed", 1, "data seed")
		host    = flag.String("host", "127.0.0.1", "address the services bind to")
		base    = flag.Int("base-port", 9001, "first port; services on base-port..base-port+6 in the order "+fmt.Sprint(demo.Services))
		admin   = flag.String("admin", "", "admin API address (default host:base-port+7)")
		latency = flag.Duration("latency", 0, "latency added to every request")
		verbose = flag.Bool("v", false, "log every request at debug level")
	)
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := demo.Serve(ctx, demo.ServeOptions{
		Options:   demo.Options{Seed: *seed, Latency: *latency, Logger: log},
		Host:      *host,
		BasePort:  *base,
		AdminAddr: *admin,
	})
	if err != nil {
		log.Error("demo upstreams", "err", err)
		os.Exit(1)
	}
}
