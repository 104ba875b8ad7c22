package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tutti-gw/tutti/auth"
	"github.com/tutti-gw/tutti/demo"
)

// harness runs the cases against the gateways.
type harness struct {
	cfg    *config
	demo   *demo.Demo
	secret string
	gws    []*gatewayProc
	client *http.Client
}

func newHarness(cfg *config, d *demo.Demo, secret string, gws []*gatewayProc) *harness {
	maxConc := slices.Max(cfg.concurrency)
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever the shell says
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * maxConc,
		MaxIdleConnsPerHost: 2 * maxConc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &harness{cfg: cfg, demo: d, secret: secret, gws: gws,
		client: &http.Client{Transport: tr, Timeout: cfg.timeout}}
}

// planStep and plan are the parts of extensions.plan the harness reads.
type planStep struct {
	Service  string `json:"service"`
	Call     string `json:"call"`
	Requests int    `json:"requests"`
	Depth    int    `json:"depth"`
}

type plan struct {
	Steps []planStep `json:"steps"`
	Depth int        `json:"depth"`
}

// CaseResult is everything measured for one case.
type CaseResult struct {
	Name string `json:"name"`
	// Ideal is the upstream requests one query should cost; IdealFrom says
	// where that number comes from ("expect.json" or "plan").
	Ideal      int            `json:"ideal"`
	IdealFrom  string         `json:"idealFrom"`
	IdealCalls map[string]int `json:"idealCalls,omitempty"`
	// Depth is the critical path in round trips; DepthFrom says where it
	// comes from ("expect.json" or "plan").
	Depth        int           `json:"depth"`
	DepthFrom    string        `json:"depthFrom"`
	Critical     time.Duration `json:"criticalNs"`
	Token        string        `json:"token"`
	ExpectErrors []string      `json:"expectErrors,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
	Runs         []*Run        `json:"runs"`
}

// Run is one closed loop: a case, a mode, a concurrency.
type Run struct {
	Mode        string `json:"mode"`
	Concurrency int    `json:"concurrency"`
	// Queries is the requests completed; Failures those that were not a
	// 200 with the expected errors (none, usually); Differing those that
	// were clean but not byte-identical to the first answer.
	Queries   int           `json:"queries"`
	Failures  int           `json:"failures"`
	Differing int           `json:"differing"`
	FirstFail string        `json:"firstFailure,omitempty"`
	FirstDiff string        `json:"firstDiffering,omitempty"`
	Elapsed   time.Duration `json:"elapsedNs"`
	// Calls are the upstream requests the demo services received during
	// the run, by service.
	Calls map[string]int `json:"calls"`
	// P50, P90, P99 and Max are latencies seen by the client.
	P50 time.Duration `json:"p50Ns"`
	P90 time.Duration `json:"p90Ns"`
	P99 time.Duration `json:"p99Ns"`
	Max time.Duration `json:"maxNs"`
	// GatewayCPU is the gateway process's user+system time during the
	// run; HarnessCPU this process's (load generator and demo services);
	// HostBusy the machine's busy share of its CPUs (0..1).
	GatewayCPU time.Duration `json:"gatewayCpuNs"`
	HarnessCPU time.Duration `json:"harnessCpuNs"`
	HostBusy   float64       `json:"hostBusy"`
	// Errors is the GraphQL errors in the answers, counted only where the
	// case has its own check (outage: partial answers).
	Errors int `json:"errors,omitempty"`
}

// CallsPerQuery is the mean upstream requests per query.
func (r *Run) CallsPerQuery() float64 {
	if r.Queries == 0 {
		return 0
	}
	n := 0
	for _, c := range r.Calls {
		n += c
	}
	return float64(n) / float64(r.Queries)
}

// RPS is the throughput in queries per second.
func (r *Run) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Queries) / r.Elapsed.Seconds()
}

// CPUPerQuery is the gateway's CPU time per query.
func (r *Run) CPUPerQuery() time.Duration {
	if r.Queries == 0 {
		return 0
	}
	return r.GatewayCPU / time.Duration(r.Queries)
}

// Report is a whole run of the harness.
type Report struct {
	Command     string        `json:"command"`
	Started     time.Time     `json:"started"`
	Machine     string        `json:"machine"`
	Latency     time.Duration `json:"latencyNs"`
	Duration    time.Duration `json:"durationNs"`
	Warmup      time.Duration `json:"warmupNs"`
	Modes       []string      `json:"modes"`
	Concurrency []int         `json:"concurrency"`
	Corpus      string        `json:"corpus"`
	Section     string        `json:"section,omitempty"`
	// Warm: the gateway's cache was left on.
	Warm bool `json:"warm,omitempty"`
	// Brief leaves out the per-case tables.
	Brief bool `json:"brief,omitempty"`
	// IdleBusy is the machine's busy share of its CPUs over one second
	// before the first run: load from other processes.
	IdleBusy float64 `json:"idleBusy"`
	// HopFloor is, per concurrency, the p50 of one request made straight
	// to a demo service (no gateway) minus the latency it adds: what each
	// level of calls costs on this machine beyond the latency itself.
	HopFloor map[int]time.Duration `json:"hopFloorNs,omitempty"`
	Skipped  []string              `json:"skipped,omitempty"`
	Cases    []*CaseResult         `json:"cases"`
}

func (h *harness) runAll(ctx context.Context, cases []*Case) (*Report, error) {
	rep := &Report{
		Command:     commandLine(h.cfg.args),
		Started:     time.Now(),
		Machine:     machine(),
		Latency:     h.cfg.latency,
		Duration:    h.cfg.duration,
		Warmup:      h.cfg.warmup,
		Modes:       h.cfg.modes,
		Concurrency: h.cfg.concurrency,
		Section:     h.cfg.section,
		Brief:       h.cfg.brief,
		Warm:        h.cfg.warm,
	}
	busy0, total0 := hostCPU()
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if busy1, total1 := hostCPU(); total1 > total0 {
		rep.IdleBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	logf("machine busy before the first run (other processes): %.0f%%", 100*rep.IdleBusy)
	rep.HopFloor = map[int]time.Duration{}
	for _, conc := range h.cfg.concurrency {
		f, err := h.hopFloor(ctx, conc)
		if err != nil {
			return nil, err
		}
		rep.HopFloor[conc] = f
		logf("hop floor at c=%d: p50 of a direct demo request − latency = %.2fms", conc, ms(f))
	}
	total := len(cases) * len(h.cfg.concurrency) * len(h.gws)
	done := 0
	for _, c := range cases {
		cr, prepared, err := h.prepare(ctx, c)
		if err != nil {
			return nil, err
		}
		rep.Cases = append(rep.Cases, cr)
		logf("case %s: ideal %d calls (%s), depth %d (%s), critical path %v", c.Name, cr.Ideal, cr.IdealFrom, cr.Depth, cr.DepthFrom, cr.Critical)
		for _, n := range cr.Notes {
			logf("  note: %s", n)
		}
		for _, conc := range h.cfg.concurrency {
			for i, g := range h.gws {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("interrupted: %w", err)
				}
				if !g.alive() {
					return nil, fmt.Errorf("gateway %s exited:\n%s", g.mode, tail(g.logPath, 20))
				}
				r, err := h.measure(ctx, g, prepared[i], conc)
				if err != nil {
					return nil, err
				}
				cr.Runs = append(cr.Runs, r)
				done++
				logf("[%d/%d] %-28s c=%-3d %-10s p50 %6.1fms p99 %6.1fms  %7.1f rps  %5.2f calls/q  cpu %.3fms/q  fail %d",
					done, total, c.Name, conc, g.mode, ms(r.P50), ms(r.P99), r.RPS(), r.CallsPerQuery(), ms(r.CPUPerQuery()), r.Failures)
			}
		}
	}
	return rep, nil
}

// hopFloor runs conc clients that call one demo endpoint directly (the
// catalog's GET /products/{sku}), without the gateway, and returns the p50
// minus the demo's latency: the cost of one upstream hop on this machine
// at that concurrency (client, loopback, the demo's handler and timer).
func (h *harness) hopFloor(ctx context.Context, conc int) (time.Duration, error) {
	url := h.demo.URL("catalog") + "/products/SKU-0001"
	header := http.Header{"X-Api-Key": {demo.DefaultAPIKey("catalog")}}
	d := min(h.cfg.duration, 2*time.Second)
	var lats []time.Duration
	var mu sync.Mutex
	var firstErr error
	for _, measured := range []bool{false, true} {
		span := d
		if !measured {
			span = min(h.cfg.warmup, 500*time.Millisecond)
		}
		deadline := time.Now().Add(span)
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				var mine []time.Duration
				for ctx.Err() == nil && time.Now().Before(deadline) {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					if err != nil {
						mu.Lock()
						firstErr = cmp.Or(firstErr, err)
						mu.Unlock()
						return
					}
					req.Header = header.Clone()
					t0 := time.Now()
					res, err := h.client.Do(req)
					if err == nil {
						_, err = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if err == nil && res.StatusCode != http.StatusOK {
							err = fmt.Errorf("status %d", res.StatusCode)
						}
					}
					if err != nil {
						mu.Lock()
						firstErr = cmp.Or(firstErr, err)
						mu.Unlock()
						return
					}
					mine = append(mine, time.Since(t0))
				}
				if measured {
					mu.Lock()
					lats = append(lats, mine...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	if firstErr != nil || len(lats) == 0 {
		return 0, fmt.Errorf("hop floor at c=%d: direct demo request failed: %v", conc, firstErr)
	}
	slices.Sort(lats)
	return max(0, quantile(lats, 0.5)-h.cfg.latency), nil
}

// prepared is a case ready to be sent to one gateway: its request and
// the answer every response is compared with.
type prepared struct {
	c      *Case
	url    string
	header http.Header
	ref    []byte
	expect []string
	// check, when set, judges answers other than ref instead of
	// checkAnswer, and returns the GraphQL errors the answer carried;
	// refErrors is that count for ref (the outage scenario).
	check     func(status int, body []byte) (string, int)
	refErrors int
}

// prepare signs the case's token, asks the first gateway for the plan
// (dry run: no upstream call), and sends the query once to every gateway to
// learn its answer, which must be clean.
func (h *harness) prepare(ctx context.Context, c *Case) (*CaseResult, []*prepared, error) {
	cr := &CaseResult{Name: c.Name, Token: c.Expect.Token, ExpectErrors: c.Expect.ErrorCodes()}
	header := http.Header{"Content-Type": {"application/json"}}
	if tok := c.Expect.Token; tok != "" {
		sub, scopes := tok, []string(nil)
		if tok == auth.ScopeSupport {
			sub, scopes = "bench-support", []string{auth.ScopeSupport}
		}
		signed, err := auth.SignHS256([]byte(h.secret), sub, scopes, 24*time.Hour)
		if err != nil {
			return nil, nil, fmt.Errorf("case %s: sign token: %w", c.Name, err)
		}
		header.Set("Authorization", "Bearer "+signed)
	}

	p, err := h.plan(ctx, h.gws[0], c, header)
	if err != nil {
		cr.Notes = append(cr.Notes, "no plan: "+err.Error())
	}
	// The critical path is expect.json's depth, the ideal its author worked
	// out; the plan's depth is a static upper bound (it cannot know that a
	// customer is forbidden or an order someone else's) and is the fallback.
	switch {
	case c.Expect.Depth != nil:
		cr.Depth, cr.DepthFrom = *c.Expect.Depth, "expect.json"
		if p != nil && p.Depth != cr.Depth {
			cr.Notes = append(cr.Notes, fmt.Sprintf("the plan's depth is %d, expect.json's %d (used)", p.Depth, cr.Depth))
		}
	case p != nil:
		cr.Depth, cr.DepthFrom = p.Depth, "plan"
	default:
		cr.DepthFrom = "unknown"
	}
	cr.Critical = time.Duration(cr.Depth) * h.cfg.latency
	if n, ok := c.Expect.IdealCalls(); ok {
		cr.Ideal, cr.IdealFrom, cr.IdealCalls = n, "expect.json", c.Expect.Calls
	} else if p != nil {
		cr.IdealFrom, cr.IdealCalls = "plan", map[string]int{}
		for _, s := range p.Steps {
			cr.Ideal += s.Requests
			cr.IdealCalls[s.Service] += s.Requests
		}
		if !c.HasExpect {
			cr.Notes = append(cr.Notes, "no expect.json: anonymous, ideal calls from the plan (an upper bound where lists are involved)")
		}
	} else {
		cr.IdealFrom = "unknown"
	}
	var preps []*prepared
	var first []byte
	for _, g := range h.gws {
		pr := &prepared{c: c, url: g.base + "/graphql", header: header, expect: c.Expect.ErrorCodes()}
		before := h.calls()
		status, body, err := h.send(ctx, pr)
		if err != nil {
			return nil, nil, fmt.Errorf("case %s, mode %s: %w", c.Name, g.mode, err)
		}
		one := diff(h.calls(), before)
		if g.mode == "planned" && cr.IdealCalls != nil && !maps.Equal(clean(one), clean(cr.IdealCalls)) {
			cr.Notes = append(cr.Notes, fmt.Sprintf("planned: the first query made %s, ideal %s", countsText(one), countsText(cr.IdealCalls)))
		}
		preps = append(preps, pr)
		// A wrong first answer is measured all the same: every answer
		// like it counts as a failure.
		if msg := checkAnswer(status, body, pr.expect); msg != "" {
			cr.Notes = append(cr.Notes, fmt.Sprintf("%s: the first answer is wrong: %s", g.mode, msg))
			logf("case %s, mode %s: the first answer is wrong: %s\n%s", c.Name, g.mode, msg, truncate(body, 600))
			continue
		}
		pr.ref = bytes.Clone(body)
		if first == nil {
			first = pr.ref
		} else if !bytes.Equal(first, body) {
			cr.Notes = append(cr.Notes, fmt.Sprintf("%s answers otherwise than %s (both pass the checks)", g.mode, h.gws[0].mode))
		}
	}
	return cr, preps, nil
}

// plan asks g for the case's plan without calling any upstream.
func (h *harness) plan(ctx context.Context, g *gatewayProc, c *Case, header http.Header) (*plan, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/graphql", bytes.NewReader(c.Body))
	if err != nil {
		return nil, err
	}
	req.Header = header.Clone()
	req.Header.Set("X-Tutti-Plan", "dry-run")
	res, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out struct {
		Extensions struct {
			Plan *plan `json:"plan"`
		} `json:"extensions"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode dry-run answer: %w", err)
	}
	if out.Extensions.Plan == nil {
		return nil, fmt.Errorf("dry-run answer (status %d) has no extensions.plan", res.StatusCode)
	}
	return out.Extensions.Plan, nil
}

// send posts the case once and returns the status and body.
func (h *harness) send(ctx context.Context, p *prepared) (int, []byte, error) {
	var buf bytes.Buffer
	return h.sendBuf(ctx, p, &buf)
}

func (h *harness) sendBuf(ctx context.Context, p *prepared, buf *bytes.Buffer) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.c.Body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = p.header.Clone()
	res, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return res.StatusCode, nil, err
	}
	return res.StatusCode, buf.Bytes(), nil
}

// judge checks an answer that is not the reference: p.check when set, else
// checkAnswer against p.expect (counting no errors).
func (p *prepared) judge(status int, body []byte) (string, int) {
	if p.check != nil {
		return p.check(status, body)
	}
	return checkAnswer(status, body, p.expect), 0
}

// checkAnswer returns "" when the answer is a 200 whose errors carry
// exactly the expected codes (sorted; none, usually), and what is wrong
// otherwise.
func checkAnswer(status int, body []byte, expect []string) string {
	if status != http.StatusOK {
		return fmt.Sprintf("status %d", status)
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "not JSON: " + err.Error()
	}
	var codes []string
	for _, e := range r.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	slices.Sort(codes)
	if !slices.Equal(codes, expect) {
		if len(r.Errors) > 0 {
			return fmt.Sprintf("errors %v (%s), want %v", codes, r.Errors[0].Message, expect)
		}
		return fmt.Sprintf("no errors, want %v", expect)
	}
	if len(expect) == 0 && (len(r.Data) == 0 || string(r.Data) == "null") {
		return "no data"
	}
	return ""
}

// measure warms the gateway up with the case, then runs the measured
// closed loop.
func (h *harness) measure(ctx context.Context, g *gatewayProc, p *prepared, conc int) (*Run, error) {
	if h.cfg.warmup > 0 {
		if _, err := h.loop(ctx, p, conc, h.cfg.warmup); err != nil {
			return nil, err
		}
	}
	calls0 := h.calls()
	cpu0, err := procCPU(g.pid)
	if err != nil {
		return nil, fmt.Errorf("gateway %s CPU: %w", g.mode, err)
	}
	self0 := selfCPU()
	busy0, total0 := hostCPU()
	r, err := h.loop(ctx, p, conc, h.cfg.duration)
	if err != nil {
		return nil, err
	}
	cpu1, err := procCPU(g.pid)
	if err != nil {
		return nil, fmt.Errorf("gateway %s CPU: %w", g.mode, err)
	}
	busy1, total1 := hostCPU()
	r.Mode, r.Concurrency = g.mode, conc
	r.Calls = diff(h.calls(), calls0)
	r.GatewayCPU = cpu1 - cpu0
	r.HarnessCPU = selfCPU() - self0
	if total1 > total0 {
		r.HostBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	return r, nil
}

// loop runs conc clients, each sending the case again as soon as its
// previous answer is in, until d has passed or max-requests were sent.
// Requests in flight at the end are waited for and counted.
func (h *harness) loop(ctx context.Context, p *prepared, conc int, d time.Duration) (*Run, error) {
	var (
		sent      atomic.Int64
		mu        sync.Mutex
		lats      []time.Duration
		fails     int
		differ    int
		errs      int
		firstErr  string
		firstDiff string
		wg        sync.WaitGroup
	)
	limit := int64(h.cfg.maxRequests)
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Go(func() {
			var buf bytes.Buffer
			mine := make([]time.Duration, 0, 1024)
			nf, nd, ne := 0, 0, 0
			var msg, other string
			for ctx.Err() == nil && time.Now().Before(deadline) && sent.Add(1) <= limit {
				t0 := time.Now()
				status, body, err := h.sendBuf(ctx, p, &buf)
				lat := time.Since(t0)
				if ctx.Err() != nil {
					break
				}
				mine = append(mine, lat)
				switch {
				case err != nil:
					nf++
					if msg == "" {
						msg = err.Error()
					}
				case status == http.StatusOK && bytes.Equal(body, p.ref):
					ne += p.refErrors
				default:
					m, n := p.judge(status, body)
					ne += n
					if m != "" {
						nf++
						if msg == "" {
							msg = m
						}
					} else {
						nd++
						if other == "" {
							other = truncate(body, 300)
						}
					}
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			fails += nf
			differ += nd
			errs += ne
			if firstErr == "" {
				firstErr = msg
			}
			if firstDiff == "" {
				firstDiff = other
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	r := &Run{Queries: len(lats), Failures: fails, Differing: differ, Errors: errs, FirstFail: firstErr, FirstDiff: firstDiff, Elapsed: time.Since(start)}
	if len(lats) == 0 {
		return nil, errors.New("no request completed")
	}
	slices.Sort(lats)
	r.P50, r.P90, r.P99, r.Max = quantile(lats, 0.50), quantile(lats, 0.90), quantile(lats, 0.99), lats[len(lats)-1]
	return r, nil
}

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// calls returns the demo services' call counters.
func (h *harness) calls() map[string]int {
	out := map[string]int{}
	for _, s := range demo.Services {
		out[s] = h.demo.Calls(s)
	}
	return out
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for s, n := range after {
		if d := n - before[s]; d != 0 {
			out[s] = d
		}
	}
	return out
}

// clean drops zero counts, so that {} and {"inventory": 0} compare equal.
func clean(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func truncate(b []byte, n int) string {
	s := string(b)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// commandLine is the command that reproduces this run.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$*?[]|&;<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
