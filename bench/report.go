package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tutti-gw/tutti/demo"
)

// Markers delimit the generated part of the -out file.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// markers returns the markers of a named section ("" is the default one),
// so that one file can hold the tables of several runs.
func markers(section string) (begin, end string) {
	if section == "" {
		return beginMarker, endMarker
	}
	return "<!-- bench:" + section + ":begin -->", "<!-- bench:" + section + ":end -->"
}

// Targets of the issue, for the verdicts in the tables.
const (
	targetLatencyRatio = 1.10                   // p50 <= 1.1 x critical path
	targetOverhead     = 2 * time.Millisecond   // p50 - critical path at concurrency 16
	targetOverheadConc = 16                     // the concurrency the overhead target is for
	targetCPU          = 1 * time.Millisecond   // gateway CPU per dashboard query
	callsTolerance     = 0.005                  // calls/ideal shown as 1.00
	dashboardName      = "dashboard"            // cases whose name has this get the CPU target
	reportTimeFormat   = "2006-01-02 15:04 MST" // when the run started
)

// machine describes where the figures come from.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return s + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func (r *Report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	begin, end := markers(r.Section)
	w("%s\n", begin)
	w("Produced by `%s` on %s: %s.\n", r.Command, r.Started.Format(reportTimeFormat), r.Machine)
	cache := "cold cache (`GATEWAY_CACHE=false`)"
	if r.Warm {
		cache = "**warm cache** (the gateway's cache on)"
	}
	w("Upstream latency %v on every call, %s, closed loop, %v measured per run after %v of warm-up; corpus `%s`. ",
		r.Latency, cache, r.Duration, r.Warmup, r.Corpus)
	w("Before the first run the machine was %.0f%% busy with other processes.\n\n", 100*r.IdleBusy)
	w("Columns: calls/q = upstream requests per query (demo counters ÷ queries); ideal = expect.json's calls (else the plan's); ")
	w("critical path = depth (expect.json's, else the plan's) × latency; overhead = p50 − critical path; CPU = gateway process user+system time ÷ queries; ")
	w("harness CPU = this process's (load generator and demo services) ÷ queries; ")
	w("host = share of the machine's CPUs busy during the run, whoever used them (everything runs on the same %d cores).\n\n", runtime.NumCPU())

	primary := ""
	if len(r.Modes) > 0 {
		primary = r.Modes[0]
	}

	// Targets.
	if primary == "planned" {
		w("### Targets (planned)\n\n")
		floor, hasFloor := r.HopFloor[targetOverheadConc]
		w("| case | ideal calls | critical path | calls/ideal | p50 / critical path (c=%s) | overhead p50 at c=%d | overhead beyond the hop floor at c=%d | gateway CPU/query at c=%d |\n",
			joinInts(r.Concurrency, ", "), targetOverheadConc, targetOverheadConc, targetOverheadConc)
		w("|---|---:|---:|---|---|---:|---:|---:|\n")
		for _, c := range r.Cases {
			runs := c.runsOf(primary)
			if len(runs) == 0 {
				continue
			}
			beyond := "—"
			if pr := c.run(primary, targetOverheadConc); pr != nil && hasFloor {
				beyond = fmt.Sprintf("%.2f ms", ms(pr.P50-c.Critical-time.Duration(c.Depth)*floor))
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Name, c.idealText(), fmtMS(c.Critical),
				c.callsVerdict(runs), c.latencyVerdict(runs), c.overheadVerdict(), beyond, c.cpuVerdict())
		}
		w("\nTargets: calls/ideal = 1.00; p50 ≤ %.1f × critical path; overhead < %v at c=%d; gateway CPU < %v per query for the customer dashboard (cases named *%s*; other cases shown for reference). ✓ met, ✗ missed.\n\n",
			targetLatencyRatio, targetOverhead, targetOverheadConc, targetCPU, dashboardName)
		if len(r.HopFloor) > 0 {
			var fs []string
			for _, conc := range r.Concurrency {
				if f, ok := r.HopFloor[conc]; ok {
					fs = append(fs, fmt.Sprintf("%.2f ms at c=%d", ms(f), conc))
				}
			}
			w("Hop floor, measured in the same run: a request made straight to a demo service (no gateway), p50 minus its %v latency: %s. "+
				"Each level of calls pays it whoever makes the call (client, loopback, the demo's handler and timer), so *overhead beyond the hop floor* = p50 − depth × (latency + floor) is roughly the part of the overhead a gateway could remove (the floor is measured with as many clients as the run has, while an operation that fans out sends more requests at once, so for wide operations the column overstates it); it is shown for reading, the target is the column before it.\n\n",
				r.Latency, strings.Join(fs, ", "))
		}
	}

	// Ratios against the baselines.
	if len(r.Modes) > 1 {
		w("### %s against the baselines\n\n", primary)
		w("Each figure is %s ÷ baseline, measured in the same run: below 1 means %s needs less (latency, calls, CPU); above 1 for rps means it serves more.\n\n", primary, primary)
		w("| case | c |")
		for _, m := range r.Modes[1:] {
			w(" p50 ÷ %[1]s | p99 ÷ %[1]s | rps ÷ %[1]s | calls ÷ %[1]s | CPU/q ÷ %[1]s |", m)
		}
		w("\n|---|---:|")
		for range r.Modes[1:] {
			w("---:|---:|---:|---:|---:|")
		}
		w("\n")
		for _, c := range r.Cases {
			for _, conc := range r.Concurrency {
				p := c.run(primary, conc)
				if p == nil {
					continue
				}
				w("| %s | %d |", c.Name, conc)
				for _, m := range r.Modes[1:] {
					o := c.run(m, conc)
					if o == nil {
						w(" | | | | |")
						continue
					}
					w(" %s | %s | %s | %s | %s |",
						ratio(float64(p.P50), float64(o.P50)), ratio(float64(p.P99), float64(o.P99)),
						ratio(p.RPS(), o.RPS()), ratio(p.CallsPerQuery(), o.CallsPerQuery()),
						ratio(float64(p.CPUPerQuery()), float64(o.CPUPerQuery())))
				}
				w("\n")
			}
		}
		w("\n")
	}

	// Every run, or in brief the notes only.
	if r.Brief {
		w("### Notes\n\n")
		wrote := false
		for _, c := range r.Cases {
			for _, n := range c.allNotes(primary, r.Concurrency, r.Warm) {
				w("- %s: %s\n", c.Name, n)
				wrote = true
			}
		}
		if !wrote {
			w("None: every answer was right and every case made its ideal calls.\n")
		}
		w("\n")
	} else {
		w("### Every run\n\n")
		for _, c := range r.Cases {
			c.details(w, r.Modes, r.Concurrency, r.Warm)
		}
	}
	if len(r.Skipped) > 0 {
		w("Left out: %s.\n\n", strings.Join(r.Skipped, "; "))
	}
	w("%s\n", end)
	return b.String()
}

// details writes the case's heading, its ideal and a row per run.
func (c *CaseResult) details(w func(string, ...any), modes []string, concs []int, warm bool) {
	w("#### %s\n\n", c.Name)
	who := "anonymous"
	switch c.Token {
	case "":
	case "support":
		who = "support agent"
	default:
		who = "customer " + c.Token
	}
	w("Ideal %s upstream requests per query (%s%s), depth %d (%s) → critical path %s; token: %s",
		c.idealText(), c.IdealFrom, callsText(c.IdealCalls), c.Depth, c.DepthFrom, fmtMS(c.Critical), who)
	if len(c.ExpectErrors) > 0 {
		w("; expected errors: %s", strings.Join(c.ExpectErrors, ", "))
	}
	w(".\n\n")
	w("| c | mode | calls/q | calls/ideal | p50 ms | p99 ms | p50/critical | overhead p50 ms | rps | gateway CPU ms/q | harness CPU ms/q | host busy | failed |\n")
	w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, conc := range concs {
		for _, m := range modes {
			run := c.run(m, conc)
			if run == nil {
				continue
			}
			w("| %d | %s | %.2f | %s | %.1f | %.1f | %s | %s | %.0f | %.3f | %.3f | %.0f%% | %s |\n",
				conc, m, run.CallsPerQuery(), c.callsRatio(run), ms(run.P50), ms(run.P99), c.latencyRatio(run),
				c.overhead(run), run.RPS(), ms(run.CPUPerQuery()), ms(run.HarnessCPU/time.Duration(max(1, run.Queries))),
				100*run.HostBusy, failText(run))
		}
	}
	if notes := c.allNotes(modes[0], concs, warm); len(notes) > 0 {
		w("\n")
		for _, n := range notes {
			w("- %s\n", n)
		}
	}
	w("\n")
}

// allNotes are the case's notes and what its runs showed that the table
// does not: first failures, clean answers that differed, calls by service
// where they are not the ideal.
func (c *CaseResult) allNotes(primary string, concs []int, warm bool) []string {
	var notes []string
	notes = append(notes, c.Notes...)
	for _, run := range c.Runs {
		if run.FirstFail != "" {
			notes = append(notes, fmt.Sprintf("%s c=%d: %d failed; the first: %s", run.Mode, run.Concurrency, run.Failures, run.FirstFail))
		}
		if run.Differing > 0 {
			notes = append(notes, fmt.Sprintf("%s c=%d: %d answers differed from the first but were clean (the same error codes in another order, say)", run.Mode, run.Concurrency, run.Differing))
		}
	}
	for _, run := range c.runsOf(primary) {
		if c.Ideal > 0 && run.Failures == 0 && run.CallsPerQuery() < 0.5*float64(c.Ideal) {
			notes = append(notes, fmt.Sprintf("%s c=%d made %.2f calls per query, under half the ideal: is a cache answering? These figures are then not for a cold cache (see coldCacheEnv in bench/process.go)", run.Mode, run.Concurrency, run.CallsPerQuery()))
			break
		}
	}
	if pr := c.run(primary, slices.Max(concs)); pr != nil && c.IdealCalls != nil && !equalCounts(perQuery(pr), c.IdealCalls) {
		notes = append(notes, fmt.Sprintf("%s c=%d calls per query by service: %s", primary, pr.Concurrency, floatCalls(perQuery(pr))))
	}
	return notes
}

func (c *CaseResult) runsOf(mode string) []*Run {
	var out []*Run
	for _, r := range c.Runs {
		if r.Mode == mode {
			out = append(out, r)
		}
	}
	return out
}

func (c *CaseResult) run(mode string, conc int) *Run {
	for _, r := range c.Runs {
		if r.Mode == mode && r.Concurrency == conc {
			return r
		}
	}
	return nil
}

func (c *CaseResult) idealText() string {
	if c.IdealFrom == "unknown" {
		return "?"
	}
	return fmt.Sprint(c.Ideal)
}

func (c *CaseResult) callsRatio(r *Run) string {
	if c.IdealFrom == "unknown" || c.Ideal == 0 {
		if r.CallsPerQuery() == 0 && c.IdealFrom != "unknown" {
			return "1.00"
		}
		return "—"
	}
	return fmt.Sprintf("%.2f", r.CallsPerQuery()/float64(c.Ideal))
}

func (c *CaseResult) latencyRatio(r *Run) string {
	if c.Critical <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(r.P50)/float64(c.Critical))
}

func (c *CaseResult) overhead(r *Run) string {
	return fmt.Sprintf("%.2f", ms(r.P50-c.Critical))
}

func (c *CaseResult) callsVerdict(runs []*Run) string {
	if c.IdealFrom == "unknown" {
		return "—"
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		x := r.CallsPerQuery()
		if c.Ideal > 0 {
			x /= float64(c.Ideal)
		} else if x == 0 {
			x = 1
		} else {
			x = math.Inf(1)
		}
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	ok := math.Abs(lo-1) < callsTolerance && math.Abs(hi-1) < callsTolerance
	s := fmt.Sprintf("%.2f", lo)
	if fmt.Sprintf("%.2f", hi) != s {
		s += "–" + fmt.Sprintf("%.2f", hi)
	}
	return s + " " + mark(ok)
}

func (c *CaseResult) latencyVerdict(runs []*Run) string {
	if c.Critical <= 0 {
		return "—"
	}
	var parts []string
	for _, r := range runs {
		x := float64(r.P50) / float64(c.Critical)
		parts = append(parts, fmt.Sprintf("%.2f %s", x, mark(x <= targetLatencyRatio)))
	}
	return strings.Join(parts, " · ")
}

func (c *CaseResult) overheadVerdict() string {
	r := c.run("planned", targetOverheadConc)
	if r == nil {
		return "—"
	}
	o := r.P50 - c.Critical
	return fmt.Sprintf("%.2f ms %s", ms(o), mark(o < targetOverhead))
}

func (c *CaseResult) cpuVerdict() string {
	r := c.run("planned", targetOverheadConc)
	if r == nil {
		return "—"
	}
	s := fmt.Sprintf("%.3f ms", ms(r.CPUPerQuery()))
	if strings.Contains(c.Name, dashboardName) {
		s += " " + mark(r.CPUPerQuery() < targetCPU)
	}
	return s
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func ratio(a, b float64) string {
	if b == 0 {
		if a == 0 {
			return "1.00"
		}
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func failText(r *Run) string {
	if r.Failures == 0 {
		return fmt.Sprintf("0/%d", r.Queries)
	}
	return fmt.Sprintf("**%d**/%d", r.Failures, r.Queries)
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", ms(d))
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

// callsText is ": customers 1, orders 1, ..." in service order, "" for
// no map.
func callsText(m map[string]int) string {
	if m == nil {
		return ""
	}
	return ": " + countsText(m)
}

// countsText is "customers 1, orders 1, ..." in service order, or "none".
func countsText(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func perQuery(r *Run) map[string]float64 {
	out := map[string]float64{}
	for s, n := range r.Calls {
		out[s] = float64(n) / float64(max(1, r.Queries))
	}
	return out
}

func equalCounts(got map[string]float64, want map[string]int) bool {
	for s, n := range want {
		if math.Abs(got[s]-float64(n)) > callsTolerance*float64(max(1, n)) {
			return false
		}
	}
	for s, x := range got {
		if _, ok := want[s]; !ok && x > callsTolerance {
			return false
		}
	}
	return true
}

func floatCalls(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// sortedKeys orders service names as the demo lists them.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(demo.Services, a), slices.Index(demo.Services, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// writeMarkdown puts md, which begins and ends with the markers of section,
// in place of that section of the file at path, keeping the rest; a file
// without the section gets md at its end, a missing file is made with a
// title and md.
func writeMarkdown(path, section, md string) error {
	beginMarker, endMarker := markers(section)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return os.WriteFile(path, []byte("# Benchmarks\n\n"+md), 0o644)
	}
	if err != nil {
		return err
	}
	s := string(old)
	i := strings.Index(s, beginMarker)
	j := strings.Index(s, endMarker)
	if i < 0 || j < i {
		return os.WriteFile(path, []byte(strings.TrimRight(s, "\n")+"\n\n"+md), 0o644)
	}
	out := s[:i] + strings.TrimRight(md, "\n") + s[j+len(endMarker):]
	return os.WriteFile(path, []byte(out), 0o644)
}
