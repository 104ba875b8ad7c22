// Command bench is Tutti's load harness. It builds the gateway once, starts
// the demo services in this process with the same latency on every call,
// starts one gateway child process per mode (GATEWAY_MODE=planned, and the
// baselines dataloader and naive) and, for every case of the corpus and
// every concurrency, runs a closed loop against each mode in turn, so that
// every figure has its baselines measured minutes apart on the same machine.
//
//	go run ./bench                       # the corpus, 3 modes, concurrency 1,16,64, 5 s each
//	go run ./bench -duration 10s -cases dashboard -concurrency 16
//	go run ./bench -out docs/benchmarks.md
//
// Per case and run it reports upstream calls per query against the ideal
// (expect.json's calls, else the plan's), p50 and p99 latency against the
// critical path (expect.json's depth, else the plan's, x latency), the
// overhead p50 - critical path,
// throughput, and the gateway's CPU time per query (utime+stime of the
// gateway process from /proc, so Linux only). Every response is checked:
// status 200, no errors unless expect.json lists them, and the same bytes as
// the first answer (a different but clean answer is counted apart).
//
// The corpus is testdata/corpus/<case>/{query.graphql, variables.json,
// expect.json}, read at run time; mutations are left out.
// With -out, the tables replace the part of that file between the markers
// <!-- bench:begin --> and <!-- bench:end --> (with -section NAME:
// <!-- bench:NAME:begin -->...), the rest is kept, or make a new file.
// The gateways run with GATEWAY_CACHE=false (cold cache) unless -cache. Requests go to loopback only; every run is bounded in time and
// count, and the gateway processes are stopped on exit and on Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tutti-gw/tutti/demo"
)

// config is the command line.
type config struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency []int
	modes       []string
	latency     time.Duration
	cases       *regexp.Regexp
	corpus      string
	out         string
	section     string
	brief       bool
	warm        bool
	jsonOut     string
	maxRequests int
	timeout     time.Duration
	gatewayBin  string
	extraEnv    []string
	args        []string
	// scenario is "" (the modes side by side, as always), "outage",
	// "cache" or "all" (the three in turn); redisURL is the cache
	// scenario's Redis; casesSet says whether -cases was given (else each
	// scenario takes its own cases); concSet the same for -concurrency.
	scenario string
	redisURL string
	casesSet bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{args: args}
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time of each run (one case, mode and concurrency)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured closed loop before each run")
	conc := fs.String("concurrency", "1,16,64", "comma-separated numbers of concurrent clients (closed loop)")
	modes := fs.String("modes", "planned,dataloader,naive", "comma-separated GATEWAY_MODEs; the first is the one the others are compared with")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "latency of every demo service call")
	cases := fs.String("cases", "", "regular expression choosing cases by name (default: all)")
	fs.StringVar(&c.corpus, "corpus", "", "corpus directory (default: testdata/corpus of the module)")
	fs.StringVar(&c.out, "out", "", "markdown file to write the tables into (between <!-- bench:begin --> and <!-- bench:end -->)")
	fs.StringVar(&c.section, "section", "", "name of the marked section of -out to replace (<!-- bench:NAME:begin -->), for several runs in one file")
	fs.BoolVar(&c.warm, "cache", false, "leave the gateway's entity cache on (warm-cache figures; by default GATEWAY_CACHE=false)")
	fs.BoolVar(&c.brief, "brief", false, "leave out the per-case tables (the targets, ratios and notes stay)")
	fs.StringVar(&c.jsonOut, "json", "", "file to write every run's raw figures to, as JSON")
	fs.IntVar(&c.maxRequests, "max-requests", 200000, "upper bound on the requests of one run")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "time limit of one GraphQL request")
	fs.StringVar(&c.gatewayBin, "gateway", "", "gateway binary to run instead of building one")
	fs.StringVar(&c.scenario, "scenario", "", "what to measure: \"\" (the modes side by side), outage (planned healthy vs shipping down), cache (planned cold vs warm cache over Redis), all (the three in turn)")
	fs.StringVar(&c.redisURL, "redis", defaultRedisURL, "Redis for -scenario cache: a dedicated DB, emptied (FLUSHDB) before the run")
	fs.Func("env", "extra KEY=VALUE for the gateway processes (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		c.extraEnv = append(c.extraEnv, s)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags]\n\nLoad harness: the corpus against each GATEWAY_MODE, side by side.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "cases" {
			c.casesSet = true
		}
	})
	switch c.scenario {
	case "", "modes", "outage", "cache", "all":
	default:
		return nil, fmt.Errorf("-scenario %q: want outage, cache or all (or nothing)", c.scenario)
	}
	if c.scenario == "modes" {
		c.scenario = ""
	}
	if strings.ContainsAny(c.section, " :<>-") {
		return nil, fmt.Errorf("-section %q: use letters, digits and _ only", c.section)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-concurrency %q: want positive integers separated by commas", *conc)
		}
		c.concurrency = append(c.concurrency, n)
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "planned", "dataloader", "naive":
			c.modes = append(c.modes, m)
		default:
			return nil, fmt.Errorf("-modes: unknown mode %q: want planned, dataloader or naive", m)
		}
	}
	re, err := regexp.Compile(*cases)
	if err != nil {
		return nil, fmt.Errorf("-cases: %w", err)
	}
	c.cases = re
	if c.duration <= 0 || c.warmup < 0 || c.latency < 0 || c.maxRequests < 1 || c.timeout <= 0 {
		return nil, errors.New("-duration and -timeout must be positive, -warmup and -latency at least 0, -max-requests at least 1")
	}
	return c, nil
}

func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if runtime.GOOS != "linux" {
		return errors.New("the harness reads gateway CPU time from /proc: Linux only")
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	type job struct {
		name      string // "" for the modes, else the scenario
		corpusDir string
		cases     []*Case
		skipped   []string
	}
	var jobs []*job
	for _, sc := range cfg.scenarios() {
		re := cfg.cases
		if !cfg.casesSet && sc != "" {
			re = scenarioCases[sc]
		}
		dir, cases, skipped, err := loadCorpus(root, cfg.corpus, re)
		if err != nil {
			return err
		}
		if sc == "" {
			for _, s := range skipped {
				logf("skip %s", s)
			}
		}
		if len(cases) == 0 {
			return fmt.Errorf("no case to run in %s (pattern %q)", dir, re)
		}
		logf("corpus %s: %d cases%s", rel(root, dir), len(cases), map[bool]string{true: "", false: " for -scenario " + sc}[sc == ""])
		jobs = append(jobs, &job{sc, dir, cases, skipped})
	}

	tmp, err := os.MkdirTemp("", "tutti-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bin := cfg.gatewayBin
	if bin == "" {
		bin = filepath.Join(tmp, "tutti")
		logf("building the gateway: go build -o %s .", bin)
		if err := buildGateway(ctx, root, bin); err != nil {
			return err
		}
	}

	d := demo.New(demo.Options{Latency: cfg.latency, MaxRecorded: -1})
	if err := d.Start(); err != nil {
		return fmt.Errorf("start demo services: %w", err)
	}
	defer d.Close()

	secret := randomSecret()
	jsonOut := map[string]any{}
	for _, j := range jobs {
		var md, section string
		var raw any
		switch j.name {
		case "":
			rep, err := runModes(ctx, cfg, bin, tmp, d, secret, j.cases)
			if err != nil {
				return err
			}
			rep.Corpus = rel(root, j.corpusDir)
			rep.Skipped = j.skipped
			md, section, raw = rep.markdown(), cfg.section, rep
		case "outage":
			rep, err := runOutage(ctx, cfg, bin, tmp, d, secret, j.cases)
			if err != nil {
				return err
			}
			rep.Corpus = rel(root, j.corpusDir)
			md, section, raw = rep.markdown(), rep.Section, rep
		case "cache":
			rep, err := runCache(ctx, cfg, bin, tmp, d, secret, j.cases)
			if err != nil {
				return err
			}
			if rep == nil {
				continue // no Redis: said why already
			}
			rep.Corpus = rel(root, j.corpusDir)
			md, section, raw = rep.markdown(), rep.Section, rep
		}
		fmt.Println(md)
		if cfg.out != "" {
			if err := writeMarkdown(cfg.out, section, md); err != nil {
				return err
			}
			logf("wrote %s", cfg.out)
		}
		jsonOut[or(j.name, "modes")] = raw
	}
	if cfg.jsonOut != "" && len(jsonOut) > 0 {
		var v any = jsonOut
		if len(jobs) == 1 {
			for _, r := range jsonOut {
				v = r
			}
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
		logf("wrote %s", cfg.jsonOut)
	}
	return nil
}

// scenarios lists what to run, in order: "" is the modes side by side.
func (c *config) scenarios() []string {
	switch c.scenario {
	case "all":
		return []string{"", "outage", "cache"}
	case "":
		return []string{""}
	}
	return []string{c.scenario}
}

// runModes is the harness's first job: one gateway per mode, every case
// against each in turn.
func runModes(ctx context.Context, cfg *config, bin, tmp string, d *demo.Demo, secret string, cases []*Case) (*Report, error) {
	var gws []*gatewayProc
	defer func() {
		for _, g := range gws {
			g.stop()
		}
	}()
	for _, m := range cfg.modes {
		g, err := startGateway(ctx, bin, tmp, m, d, secret, cfg.warm, cfg.extraEnv)
		if err != nil {
			return nil, err
		}
		gws = append(gws, g)
		logf("gateway %s: pid %d at %s", m, g.pid, g.base)
	}
	h := newHarness(cfg, d, secret, gws)
	return h.runAll(ctx, cases)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// logf prints progress on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
