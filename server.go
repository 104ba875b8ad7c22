// Command tutti runs the Tutti GraphQL gateway.
//
//	go run .          the gateway; services without UPSTREAM_<NAME>_URL are
//	                  the built-in demo services, started in this process
//	go run . demo     only the seven demo services, on fixed ports, for a
//	                  gateway (or a benchmark) to call over the network
//
// Configuration is read from the environment (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/demo"
	"github.com/tutti-gw/tutti/gateway"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var err error
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		err = runDemo(ctx, log, os.Args[2:])
	} else {
		err = run(ctx, log)
	}
	if err != nil {
		// A configured URL may carry a password: never print it.
		fmt.Fprintln(os.Stderr, "tutti:", gateway.RedactCredentials(err.Error()))
		os.Exit(1)
	}
}

// gcPercent is the garbage collector's target when GOGC is unset. The
// gateway's live heap is small (plans, the in-process cache) while every
// query allocates its answer afresh, so Go's default of 100 collects very
// often: at 400 the customer dashboard costs about 15 % less CPU on the
// bench (docs/benchmarks.md) for a few megabytes more heap. GOGC and
// GOMEMLIMIT, when set, win as usual.
const gcPercent = 400

func run(ctx context.Context, log *slog.Logger) error {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	cfg, err := gateway.Load(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	gw, err := gateway.New(ctx, cfg, gateway.Options{Logger: log})
	if err != nil {
		return err
	}
	defer gw.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	announce(ln.Addr().String(), gw)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// announce prints where the gateway listens and, over the demo services,
// sample tokens to try it with.
func announce(addr string, gw *gateway.Gateway) {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Printf("Tutti is serving GraphQL at %s/graphql\n", base)
	fmt.Printf("Playground:                 %s/\n", base)
	if gw.DevSecret == "" {
		return
	}
	customer, _ := auth.SignHS256([]byte(gw.DevSecret), "c-0001", nil, 24*time.Hour)
	support, _ := auth.SignHS256([]byte(gw.DevSecret), "support-1", []string{auth.ScopeSupport}, 24*time.Hour)
	fmt.Println("Upstreams: the built-in demo services. Sample tokens (valid 24 h, development secret):")
	fmt.Printf("  customer c-0001: %s\n", customer)
	fmt.Printf("  support staff:   %s\n", support)
	fmt.Printf("Try: curl -s %s/graphql -H 'Content-Type: application/json' -H \"Authorization: Bearer $TOKEN\" -d '{\"query\":\"{ me { name orders(first: 2) { id total { amount currency } } } }\"}'\n", base)
}

func runDemo(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "interface to listen on")
	port := fs.Int("port", 9001, "port of the first service; the others follow in the order customers, orders, catalog, inventory, shipping, payments, notifications")
	admin := fs.String("admin", "127.0.0.1:9000", "address of the admin API (faults, latency, call counts)")
	latency := fs.Duration("latency", 0, "latency added to every call")
	seed := fs.Int64("seed", 1, "data seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for i, s := range demo.Services {
		fmt.Printf("UPSTREAM_%s_URL=http://%s API key %s\n", upper(s), net.JoinHostPort(*host, fmt.Sprint(*port+i)), demo.DefaultAPIKey(s))
	}
	fmt.Printf("admin API: http://%s\n", *admin)
	return demo.Serve(ctx, demo.ServeOptions{
		Options:   demo.Options{Seed: *seed, Latency: *latency, Logger: log},
		Host:      *host,
		BasePort:  *port,
		AdminAddr: *admin,
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
