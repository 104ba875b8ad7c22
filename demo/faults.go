package demo

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// Fault is a failure injected into a service's answers. Where several
// effects are set, the extra Latency comes first, then the first of Down,
// Reset, Hang, Status and NonJSON that is set. A Fault with only Latency
// slows the requests it affects and lets them through.
type Fault struct {
	// Status answers this status with {"error":"injected"} (e.g. 500, 503,
	// 429, 400).
	Status int
	// Rate is the share of matching requests affected; 0 or 1 (or more) means
	// all. The choice comes from a random source seeded by Options.Seed, under
	// a lock: reproducible for one sequence of requests.
	Rate float64
	// RetryAfter, if set, is sent as the Retry-After header with Status.
	RetryAfter string
	// Hang never answers: the request ends when the client gives up or the
	// Demo is closed (the connection is then dropped without an answer).
	Hang bool
	// Reset resets the TCP connection (hijack, linger 0, close) without an
	// answer.
	Reset bool
	// NonJSON answers 200 with an HTML body.
	NonJSON bool
	// Down refuses connections. For a started service with a Fault for all
	// its requests (no Endpoint, Rate 0 or ≥ 1), the listener and every open
	// connection are closed, so new connections are refused; clearing the
	// fault listens again on the same port. Otherwise (handler mounted
	// elsewhere, an Endpoint or a partial Rate), each affected request's
	// connection is reset instead, as with Reset.
	Down bool
	// Latency is extra latency before the effect.
	Latency time.Duration
	// Endpoint, if set, limits the Fault to requests matching
	// "METHOD /path-pattern", where a {name} segment matches any one segment
	// and a trailing "?param" requires that query parameter, e.g.
	// "GET /shipments/by-order/{id}" or "GET /orders?customer_ids". The
	// method may be left out. A service's Endpoint faults are tried before
	// its Fault without Endpoint; the first that matches applies.
	Endpoint string
}

// none reports whether the Fault has no effect.
func (f Fault) none() bool {
	return f.Status == 0 && !f.Hang && !f.Reset && !f.NonJSON && !f.Down && f.Latency <= 0
}

// allRequests reports whether the Fault affects every request of its service.
func (f Fault) allRequests() bool {
	return f.Endpoint == "" && (f.Rate <= 0 || f.Rate >= 1)
}

// SetFault sets the service's fault for f.Endpoint, replacing the one set
// before for the same Endpoint. A Fault without effect (only Endpoint, or
// zero) removes it.
func (d *Demo) SetFault(service string, f Fault) {
	d.mustService(service)
	d.faultMu.Lock()
	list := d.faults[service]
	kept := list[:0:0]
	for _, g := range list {
		if g.Endpoint != f.Endpoint {
			kept = append(kept, g)
		}
	}
	if !f.none() {
		kept = append(kept, f)
	}
	d.faults[service] = kept
	d.faultMu.Unlock()
	d.log.Info("fault set", "service", service, "fault", f)

	d.netMu.Lock()
	defer d.netMu.Unlock()
	d.syncDownLocked(service)
}

// ClearFault removes every fault of the service.
func (d *Demo) ClearFault(service string) {
	d.mustService(service)
	d.faultMu.Lock()
	delete(d.faults, service)
	d.faultMu.Unlock()
	d.netMu.Lock()
	defer d.netMu.Unlock()
	d.syncDownLocked(service)
}

// ClearFaults removes every fault of every service; services that were down
// listen again.
func (d *Demo) ClearFaults() {
	d.faultMu.Lock()
	clear(d.faults)
	d.faultMu.Unlock()
	d.log.Info("faults cleared")
	d.netMu.Lock()
	defer d.netMu.Unlock()
	for _, name := range Services {
		d.syncDownLocked(name)
	}
}

// Faults returns the faults in force, by service.
func (d *Demo) Faults() map[string][]Fault {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	out := map[string][]Fault{}
	for k, v := range d.faults {
		if len(v) > 0 {
			out[k] = append([]Fault(nil), v...)
		}
	}
	return out
}

// pickFault returns the fault that applies to this request, if any.
func (d *Demo) pickFault(service string, r *http.Request) (Fault, bool) {
	d.faultMu.Lock()
	defer d.faultMu.Unlock()
	list := d.faults[service]
	if len(list) == 0 {
		return Fault{}, false
	}
	var chosen *Fault
	for i := range list {
		if list[i].Endpoint != "" && endpointMatches(list[i].Endpoint, r) {
			chosen = &list[i]
			break
		}
	}
	if chosen == nil {
		for i := range list {
			if list[i].Endpoint == "" {
				chosen = &list[i]
				break
			}
		}
	}
	if chosen == nil {
		return Fault{}, false
	}
	if chosen.Rate > 0 && chosen.Rate < 1 && d.rng.Float64() >= chosen.Rate {
		return Fault{}, false
	}
	return *chosen, true
}

// endpointMatches reports whether r matches "METHOD /path-pattern[?param]".
func endpointMatches(pattern string, r *http.Request) bool {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	if !ok {
		method, path = "", method
	}
	if method != "" && method != r.Method {
		return false
	}
	path, param, hasParam := strings.Cut(strings.TrimSpace(path), "?")
	if hasParam && !r.URL.Query().Has(param) {
		return false
	}
	want := strings.Split(strings.Trim(path, "/"), "/")
	got := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i, seg := range want {
		wild := strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
		if wild && strings.HasSuffix(seg, "...}") {
			return true
		}
		if i >= len(got) {
			return false
		}
		if wild {
			if got[i] == "" {
				return false
			}
			continue
		}
		if seg != got[i] {
			return false
		}
	}
	return len(want) == len(got)
}

// syncDownLocked closes or reopens the service's listener to match its
// faults. d.netMu must be held.
func (d *Demo) syncDownLocked(name string) {
	if !d.started || d.closed {
		return
	}
	ns := d.nets[name]
	d.faultMu.Lock()
	down := false
	for _, f := range d.faults[name] {
		if f.Down && f.allRequests() {
			down = true
		}
	}
	d.faultMu.Unlock()
	switch {
	case down && ns.srv != nil:
		if err := ns.stop(); err != nil {
			d.log.Warn("take service down", "service", name, "err", err)
		}
		d.log.Info("service down", "service", name, "addr", ns.addr)
	case !down && ns.srv == nil:
		ln, err := net.Listen("tcp", ns.addr)
		if err != nil {
			d.log.Error("bring service up again", "service", name, "addr", ns.addr, "err", err)
			return
		}
		ns.serve(ln, d.Handler(name), d.log)
		d.log.Info("service up", "service", name, "addr", ns.addr)
	}
}
