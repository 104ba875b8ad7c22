package main

import (
	"fmt"
	"slices"
	"strings"
)

// markdown writes the scenario's section: how it was made, the ratios of
// the second side to the first, and every run.
func (r *ScenarioReport) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	begin, end := markers(r.Section)
	base, other := r.Sides[0], r.Sides[1]
	w("%s\n", begin)
	w("Produced by `%s` on %s: %s.\n", r.Command, r.Started.Format(reportTimeFormat), r.Machine)
	w("Upstream latency %v on every call, closed loop, %v measured per run after %v of warm-up; corpus `%s`; gateway `GATEWAY_MODE=planned`. ",
		r.Latency, r.Duration, r.Warmup, r.Corpus)
	switch r.Scenario {
	case "outage":
		w("**%s**: every service up; **%s**: the demo fault `{\"Down\": true}` on %s (its listener closed, connections refused), set after all healthy runs. ", base, other, outageService)
		w("Same gateway process, cache off (`GATEWAY_CACHE=false`). An answer with %s down counts as correct when it is a 200 whose errors are all `UPSTREAM_UNAVAILABLE` and whose data is the healthy answer with exactly the error paths null.\n\n", outageService)
	case "cache":
		w("**%s**: a gateway with `GATEWAY_CACHE=false` (every call upstream); **%s**: a second gateway with `GATEWAY_CACHE=true` and `REDIS_URL=%s` (emptied with FLUSHDB first), measured after the warm-up pass; the two alternate, case by case. ", base, other, r.RedisURL)
		w("Redis rt/q = the gateway's own count of Redis round trips (`tutti_cache_redis_calls_total`, a pipeline or an MGET is one) ÷ queries; Redis cmds/q = the server's `INFO commandstats` calls, every command but INFO, ÷ queries (server-wide: anything else using that server counts too; the cold rows show that background).\n\n")
	}

	w("### %s ÷ %s\n\n", other, base)
	w("| case | c | rps | p50 | p99 | calls/q | gateway CPU/q |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range r.Cases {
		for i, conc := range r.Concurrency {
			a, o := c.side(base, i), c.side(other, i)
			if a == nil || o == nil {
				continue
			}
			w("| %s | %d | %s | %s | %s | %s | %s |\n", c.Name, conc,
				ratio(o.RPS(), a.RPS()), ratio(float64(o.P50), float64(a.P50)), ratio(float64(o.P99), float64(a.P99)),
				ratio(o.CallsPerQuery(), a.CallsPerQuery()), ratio(float64(o.CPUPerQuery()), float64(a.CPUPerQuery())))
		}
	}
	w("\n### Every run\n\n")
	switch r.Scenario {
	case "outage":
		w("| case | c | side | calls/q | %[1]s calls/q reaching it | %[1]s calls at the gateway, by outcome | errors/answer | p50 ms | p99 ms | rps | gateway CPU ms/q | failed |\n", outageService)
		w("|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n")
	case "cache":
		w("| case | c | side | calls/q | calls/q by service | inventory calls/s | Redis rt/q (total) | Redis cmds/q (total) | p50 ms | p99 ms | rps | gateway CPU ms/q | failed |\n")
		w("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	}
	for _, c := range r.Cases {
		for i, conc := range r.Concurrency {
			for _, side := range r.Sides {
				s := c.side(side, i)
				if s == nil {
					continue
				}
				q := float64(max(1, s.Queries))
				switch r.Scenario {
				case "outage":
					w("| %s | %d | %s | %.2f | %.2f | %s | %.2f | %.1f | %.1f | %.0f | %.3f | %s |\n", c.Name, conc, side,
						s.CallsPerQuery(), float64(s.Calls[outageService])/q, outcomesText(s.Upstream),
						float64(s.Errors)/q, ms(s.P50), ms(s.P99), s.RPS(), ms(s.CPUPerQuery()), failText(s.Run))
				case "cache":
					w("| %s | %d | %s | %.2f | %s | %.1f | %.4f (%.0f) | %.4f (%d) | %.1f | %.1f | %.0f | %.3f | %s |\n", c.Name, conc, side,
						s.CallsPerQuery(), floatCalls(perQuery(s.Run)), float64(s.Calls["inventory"])/s.Elapsed.Seconds(),
						s.RedisRoundTrips/q, s.RedisRoundTrips, float64(s.RedisCommands)/q, s.RedisCommands,
						ms(s.P50), ms(s.P99), s.RPS(), ms(s.CPUPerQuery()), failText(s.Run))
				}
			}
		}
	}
	w("\n")
	for _, c := range r.Cases {
		var notes []string
		notes = append(notes, c.Notes...)
		if p := c.Extra["errorPaths"]; len(p) > 0 {
			notes = append(notes, fmt.Sprintf("errors with %s down at: `%s`", outageService, strings.Join(p, "`, `")))
		}
		for _, side := range r.Sides {
			for _, s := range c.Runs[side] {
				if s.FirstFail != "" {
					notes = append(notes, fmt.Sprintf("%s c=%d: %d failed; the first: %s", side, s.Concurrency, s.Failures, s.FirstFail))
				}
			}
		}
		for _, n := range notes {
			w("- %s: %s\n", c.Name, n)
		}
	}
	w("%s\n", end)
	return b.String()
}

func (c *ScenarioCase) side(name string, i int) *Side {
	runs := c.Runs[name]
	if i >= len(runs) {
		return nil
	}
	return runs[i]
}

// outcomesText is "circuit_open 812, unavailable 10, retries 4", largest
// first, or "—".
func outcomesText(m map[string]float64) string {
	if len(m) == 0 {
		return "—"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.0f", k, m[k])
	}
	return strings.Join(parts, ", ")
}
