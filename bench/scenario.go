package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tutti-gw/tutti/demo"
)

// Scenarios beyond the modes side by side (-scenario): each measures the
// planned gateway twice in the same run, under two conditions, and
// reports the second ÷ the first.
//
//   - outage: all services healthy, then shipping down (demo fault Down:
//     its listener closed, connections refused). Answers with shipping
//     down are correct partial answers when every error is
//     UPSTREAM_UNAVAILABLE and the data is the healthy data with exactly
//     the error paths null.
//   - cache: the gateway with GATEWAY_CACHE=false (cold: every call goes
//     upstream) against one with GATEWAY_CACHE=true and REDIS_URL (warm:
//     measured after the warm-up pass).

// defaultRedisURL is the cache scenario's Redis: a DB of its own, since
// the scenario empties it.
const defaultRedisURL = "redis://127.0.0.1:6379/13"

// scenarioCases are the cases each scenario runs unless -cases is given.
var scenarioCases = map[string]*regexp.Regexp{
	// Operations that read shipments next to other data.
	"outage": regexp.MustCompile(`^(08|17|18)-`),
	// A public product (catalog, 300 s), the dashboard (private, 10–60 s,
	// stock 1 s) and a search with stock (1 s).
	"cache": regexp.MustCompile(`^(02|18|34)-`),
}

// outageService is the service the outage scenario takes down.
const outageService = "shipping"

// Side is one condition of a scenario run: its closed-loop figures and
// what the gateway and Redis counted during it.
type Side struct {
	*Run
	// Upstream are the gateway's tutti_upstream_calls_total deltas of the
	// service taken down, by outcome, and its retries (outage).
	Upstream map[string]float64 `json:"upstream,omitempty"`
	// RedisRoundTrips is the gateway's tutti_cache_redis_calls_total delta
	// (results ok, slow, error: round trips made; a pipeline is one).
	RedisRoundTrips float64 `json:"redisRoundTrips"`
	// RedisCommands is the Redis server's INFO commandstats delta, every
	// command but INFO (which the harness sends), server-wide.
	RedisCommands int64 `json:"redisCommands"`
}

// ScenarioCase is one case of a scenario: a run per concurrency and side.
type ScenarioCase struct {
	Name  string              `json:"name"`
	Ideal int                 `json:"ideal"`
	Notes []string            `json:"notes,omitempty"`
	Runs  map[string][]*Side  `json:"runs"` // by side label, in concurrency order
	Extra map[string][]string `json:"extra,omitempty"`
}

// ScenarioReport is a scenario's whole run.
type ScenarioReport struct {
	Scenario    string          `json:"scenario"`
	Section     string          `json:"section"`
	Command     string          `json:"command"`
	Started     time.Time       `json:"started"`
	Machine     string          `json:"machine"`
	Latency     time.Duration   `json:"latencyNs"`
	Duration    time.Duration   `json:"durationNs"`
	Warmup      time.Duration   `json:"warmupNs"`
	Concurrency []int           `json:"concurrency"`
	Corpus      string          `json:"corpus"`
	Sides       []string        `json:"sides"` // base first
	RedisURL    string          `json:"redisUrl,omitempty"`
	Cases       []*ScenarioCase `json:"cases"`
}

func newScenarioReport(cfg *config, name string, sides ...string) *ScenarioReport {
	return &ScenarioReport{
		Scenario: name, Section: or(cfg.section, name), Command: commandLine(cfg.args),
		Started: time.Now(), Machine: machine(), Latency: cfg.latency, Duration: cfg.duration,
		Warmup: cfg.warmup, Concurrency: cfg.concurrency, Sides: sides,
	}
}

// runOutage measures the planned gateway on cases with every service
// healthy, then again with outageService down.
func runOutage(ctx context.Context, cfg *config, bin, tmp string, d *demo.Demo, secret string, cases []*Case) (*ScenarioReport, error) {
	const healthy, down = "healthy", outageService + " down"
	dir := filepath.Join(tmp, "outage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g, err := startGateway(ctx, bin, dir, "planned", d, secret, false, cfg.extraEnv)
	if err != nil {
		return nil, err
	}
	defer g.stop()
	logf("outage: gateway planned (cold cache): pid %d at %s", g.pid, g.base)
	defer d.ClearFaults()
	h := newHarness(cfg, d, secret, []*gatewayProc{g})
	rep := newScenarioReport(cfg, "outage", healthy, down)

	// All cases healthy first, then all with the service down: the
	// breaker, once open, would spoil a healthy run that came after.
	preps := make([]*prepared, len(cases))
	for i, c := range cases {
		cr, ps, err := h.prepare(ctx, c)
		if err != nil {
			return nil, err
		}
		sc := &ScenarioCase{Name: c.Name, Ideal: cr.Ideal, Notes: cr.Notes, Runs: map[string][]*Side{}}
		rep.Cases = append(rep.Cases, sc)
		preps[i] = ps[0]
		if ps[0].ref == nil {
			return nil, fmt.Errorf("outage: case %s: no clean healthy answer: %v", c.Name, cr.Notes)
		}
		for _, conc := range cfg.concurrency {
			s, err := h.measureSide(ctx, g, ps[0], conc, nil)
			if err != nil {
				return nil, err
			}
			sc.Runs[healthy] = append(sc.Runs[healthy], s)
			logSide("outage", c.Name, healthy, s)
		}
	}

	d.SetFault(outageService, demo.Fault{Down: true})
	logf("outage: %s is down (demo fault Down: connections refused)", outageService)
	for i, c := range cases {
		sc := rep.Cases[i]
		healthyData, err := dataOf(preps[i].ref)
		if err != nil {
			return nil, fmt.Errorf("outage: case %s: healthy answer: %w", c.Name, err)
		}
		p := &prepared{c: c, url: preps[i].url, header: preps[i].header, check: partialCheck(healthyData)}
		status, body, err := h.send(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("outage: case %s: %w", c.Name, err)
		}
		if msg, n := p.check(status, body); msg != "" {
			sc.Notes = append(sc.Notes, fmt.Sprintf("%s: the first answer is wrong: %s", down, msg))
			logf("outage: case %s: the first answer with %s is wrong: %s\n%s", c.Name, down, msg, truncate(body, 600))
		} else {
			p.ref, p.refErrors = bytes.Clone(body), n
			sc.Extra = map[string][]string{"errorPaths": errorPaths(body)}
		}
		for _, conc := range cfg.concurrency {
			s, err := h.measureSide(ctx, g, p, conc, nil)
			if err != nil {
				return nil, err
			}
			sc.Runs[down] = append(sc.Runs[down], s)
			logSide("outage", c.Name, down, s)
		}
	}
	d.ClearFaults()
	return rep, nil
}

// runCache measures a gateway with its cache off (cold) and one with it on
// over Redis (warm, after the warm-up pass), side by side. Without a Redis
// answering at cfg.redisURL it says so and returns nil.
func runCache(ctx context.Context, cfg *config, bin, tmp string, d *demo.Demo, secret string, cases []*Case) (*ScenarioReport, error) {
	const cold, warm = "cold", "warm"
	opt, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", cfg.redisURL, err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		logf("cache: SKIPPED: no Redis answers at %s (%v); start one (redis-server) or pass -redis redis://host:port/db", cfg.redisURL, err)
		return nil, nil
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return nil, fmt.Errorf("cache: FLUSHDB on %s: %w", cfg.redisURL, err)
	}
	logf("cache: Redis %s emptied (FLUSHDB)", cfg.redisURL)

	var gws []*gatewayProc
	defer func() {
		for _, g := range gws {
			g.stop()
		}
	}()
	for _, side := range []string{cold, warm} {
		dir := filepath.Join(tmp, "cache-"+side)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		env := slices.Clone(cfg.extraEnv)
		if side == warm {
			env = append(env, "GATEWAY_CACHE=true", "REDIS_URL="+cfg.redisURL)
		}
		g, err := startGateway(ctx, bin, dir, "planned", d, secret, side == warm, env)
		if err != nil {
			return nil, err
		}
		g.mode = side
		gws = append(gws, g)
		logf("cache: gateway planned, %s: pid %d at %s", side, g.pid, g.base)
	}
	h := newHarness(cfg, d, secret, gws)
	rep := newScenarioReport(cfg, "cache", cold, warm)
	rep.RedisURL = cfg.redisURL
	for _, c := range cases {
		cr, ps, err := h.prepare(ctx, c)
		if err != nil {
			return nil, err
		}
		sc := &ScenarioCase{Name: c.Name, Ideal: cr.Ideal, Notes: cr.Notes, Runs: map[string][]*Side{}}
		rep.Cases = append(rep.Cases, sc)
		for _, conc := range cfg.concurrency {
			for i, g := range gws {
				s, err := h.measureSide(ctx, g, ps[i], conc, rdb)
				if err != nil {
					return nil, err
				}
				sc.Runs[g.mode] = append(sc.Runs[g.mode], s)
				logSide("cache", c.Name, g.mode, s)
			}
		}
	}
	return rep, nil
}

func logSide(scenario, name, side string, s *Side) {
	logf("%s: %-28s c=%-3d %-14s p50 %6.1fms p99 %6.1fms  %7.1f rps  %5.2f calls/q  redis %.2f rt/q  fail %d",
		scenario, name, s.Concurrency, side, ms(s.P50), ms(s.P99), s.RPS(), s.CallsPerQuery(),
		s.RedisRoundTrips/float64(max(1, s.Queries)), s.Failures)
}

// measureSide is measure with the gateway's metrics and, given rdb, the
// Redis server's command counts taken around the measured loop (the
// warm-up is left out: measure takes its own counters after it, and so do
// the probes here, through before).
func (h *harness) measureSide(ctx context.Context, g *gatewayProc, p *prepared, conc int, rdb *redis.Client) (*Side, error) {
	if !g.alive() {
		return nil, fmt.Errorf("gateway %s exited:\n%s", g.mode, tail(g.logPath, 20))
	}
	if h.cfg.warmup > 0 {
		if _, err := h.loop(ctx, p, conc, h.cfg.warmup); err != nil {
			return nil, err
		}
	}
	m0, err := h.scrape(ctx, g)
	if err != nil {
		return nil, err
	}
	var c0 int64
	if rdb != nil {
		if c0, err = redisCommands(ctx, rdb); err != nil {
			return nil, err
		}
	}
	saved := h.cfg.warmup
	h.cfg.warmup = 0 // done above, before the probes
	r, err := h.measure(ctx, g, p, conc)
	h.cfg.warmup = saved
	if err != nil {
		return nil, err
	}
	m1, err := h.scrape(ctx, g)
	if err != nil {
		return nil, err
	}
	s := &Side{Run: r, Upstream: map[string]float64{}}
	s.Mode = g.mode
	if rdb != nil {
		c1, err := redisCommands(ctx, rdb)
		if err != nil {
			return nil, err
		}
		s.RedisCommands = c1 - c0
	}
	for k, v := range m1 {
		dv := v - m0[k]
		name, labels := splitSeries(k)
		switch {
		case name == "tutti_cache_redis_calls_total" && !strings.Contains(labels, `result="skipped"`):
			s.RedisRoundTrips += dv
		case name == "tutti_upstream_calls_total" && strings.Contains(labels, `service="`+outageService+`"`) && dv != 0:
			s.Upstream[labelValue(labels, "outcome")] += dv
		case name == "tutti_upstream_retries_total" && strings.Contains(labels, `service="`+outageService+`"`) && dv != 0:
			s.Upstream["retries"] += dv
		}
	}
	return s, nil
}

// scrape reads the gateway's /metrics: value by series ("name{labels}").
func (h *harness) scrape(ctx context.Context, g *gatewayProc) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway %s /metrics: %w", g.mode, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil, fmt.Errorf("gateway %s /metrics: status %d", g.mode, res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func splitSeries(s string) (name, labels string) {
	name, labels, _ = strings.Cut(s, "{")
	return name, strings.TrimSuffix(labels, "}")
}

func labelValue(labels, key string) string {
	_, after, ok := strings.Cut(labels, key+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

// redisCommands is the server's commands so far, by INFO commandstats,
// less INFO itself (the harness's own probe).
func redisCommands(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		_, after, ok := strings.Cut(rest, "calls=")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(after, ",")
		c, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			n += c
		}
	}
	return n, nil
}

// gqlAnswer is what partialCheck reads of an answer.
type gqlAnswer struct {
	Data   any `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Path       []any  `json:"path"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

func decodeAnswer(body []byte) (*gqlAnswer, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var a gqlAnswer
	if err := dec.Decode(&a); err != nil {
		return nil, err
	}
	return &a, nil
}

func dataOf(body []byte) (any, error) {
	a, err := decodeAnswer(body)
	if err != nil {
		return nil, err
	}
	if a.Data == nil {
		return nil, errors.New("no data")
	}
	return a.Data, nil
}

// partialCheck accepts an answer with the service down when it is a 200
// whose errors are all UPSTREAM_UNAVAILABLE with a path, at least one, and
// whose data is the healthy data with exactly those paths null: every
// other field is there, with its healthy value.
func partialCheck(healthy any) func(int, []byte) (string, int) {
	return func(status int, body []byte) (string, int) {
		if status != http.StatusOK {
			return fmt.Sprintf("status %d", status), 0
		}
		a, err := decodeAnswer(body)
		if err != nil {
			return "not JSON: " + err.Error(), 0
		}
		if len(a.Errors) == 0 {
			return "no errors, want UPSTREAM_UNAVAILABLE", 0
		}
		want := deepCopy(healthy)
		for _, e := range a.Errors {
			if e.Extensions.Code != "UPSTREAM_UNAVAILABLE" {
				return fmt.Sprintf("error %s (%s), want UPSTREAM_UNAVAILABLE", e.Extensions.Code, e.Message), len(a.Errors)
			}
			if len(e.Path) == 0 {
				return "UPSTREAM_UNAVAILABLE without a path: " + e.Message, len(a.Errors)
			}
			if !setNull(want, e.Path) {
				return fmt.Sprintf("error path %v is not in the healthy answer", e.Path), len(a.Errors)
			}
		}
		if !reflect.DeepEqual(want, a.Data) {
			return "data is not the healthy data with the error paths null (something else is missing or changed)", len(a.Errors)
		}
		return "", len(a.Errors)
	}
}

// setNull sets the value at path in v to nil, and reports whether the
// path was there.
func setNull(v any, path []any) bool {
	for i, seg := range path {
		last := i == len(path)-1
		switch x := v.(type) {
		case map[string]any:
			k, ok := seg.(string)
			if !ok {
				return false
			}
			if _, ok := x[k]; !ok {
				return false
			}
			if last {
				x[k] = nil
				return true
			}
			v = x[k]
		case []any:
			n, ok := pathIndex(seg)
			if !ok || n < 0 || n >= len(x) {
				return false
			}
			if last {
				x[n] = nil
				return true
			}
			v = x[n]
		default:
			return false
		}
	}
	return false
}

func pathIndex(seg any) (int, bool) {
	switch x := seg.(type) {
	case float64:
		return int(x), true
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	}
	return 0, false
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// errorPaths lists the answer's error paths with list indexes as [i],
// distinct, in order.
func errorPaths(body []byte) []string {
	a, err := decodeAnswer(body)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range a.Errors {
		var parts []string
		for _, seg := range e.Path {
			if _, ok := pathIndex(seg); ok {
				parts = append(parts, "[i]")
			} else {
				parts = append(parts, fmt.Sprint(seg))
			}
		}
		p := strings.ReplaceAll(strings.Join(parts, "."), ".[i]", "[i]")
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
