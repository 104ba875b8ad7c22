package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// FaultJSON is a Fault as the admin API reads and writes it.
type FaultJSON struct {
	Status     int     `json:"status,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
	RetryAfter string  `json:"retry_after,omitempty"`
	Hang       bool    `json:"hang,omitempty"`
	Reset      bool    `json:"reset,omitempty"`
	NonJSON    bool    `json:"non_json,omitempty"`
	Down       bool    `json:"down,omitempty"`
	// LatencyMS is the extra latency in milliseconds.
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Endpoint  string  `json:"endpoint,omitempty"`
}

// Fault converts to a Fault.
func (f FaultJSON) Fault() Fault {
	return Fault{Status: f.Status, Rate: f.Rate, RetryAfter: f.RetryAfter, Hang: f.Hang, Reset: f.Reset,
		NonJSON: f.NonJSON, Down: f.Down, Latency: time.Duration(f.LatencyMS * float64(time.Millisecond)),
		Endpoint: f.Endpoint}
}

func faultJSON(f Fault) FaultJSON {
	return FaultJSON{Status: f.Status, Rate: f.Rate, RetryAfter: f.RetryAfter, Hang: f.Hang, Reset: f.Reset,
		NonJSON: f.NonJSON, Down: f.Down, LatencyMS: float64(f.Latency) / float64(time.Millisecond),
		Endpoint: f.Endpoint}
}

// AdminHandler serves the admin API, which lets benchmarks and external
// tools watch the services and switch faults at run time:
//
//	GET    /calls               {"services": {"customers": 3, ...}, "endpoints": {"customers GET /customers?ids": 2, ...}}
//	POST   /reset               zero the counters (204)
//	POST   /reset/data          restore the generated data (204)
//	GET    /faults              {"customers": [FaultJSON, ...], ...}
//	PUT    /faults/{service}    body FaultJSON, e.g. {"status":503,"rate":0.5,"retry_after":"1"} (204)
//	DELETE /faults/{service}    clear that service's faults (204)
//	DELETE /faults              clear every fault (204)
//	PUT    /latency/{service}   body {"ms": 20} (204)
//	GET    /emails              [Email, ...]
//	GET    /urls                {"customers": "http://127.0.0.1:9001", ...}
//
// An unknown service is 404 {"error":"unknown_service"}. It needs no key:
// bind it to loopback.
func (d *Demo) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	known := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		name := r.PathValue("service")
		if !slices.Contains(Services, name) {
			writeError(w, http.StatusNotFound, "unknown_service", "service", name)
			return "", false
		}
		return name, true
	}
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, r *http.Request) {
		svcs := map[string]int{}
		for _, s := range Services {
			svcs[s] = d.Calls(s)
		}
		writeJSON(w, http.StatusOK, map[string]any{"services": svcs, "endpoints": d.CallsByEndpoint()})
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		d.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /reset/data", func(w http.ResponseWriter, r *http.Request) {
		d.ResetData()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		out := map[string][]FaultJSON{}
		for s, list := range d.Faults() {
			for _, f := range list {
				out[s] = append(out[s], faultJSON(f))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("PUT /faults/{service}", func(w http.ResponseWriter, r *http.Request) {
		name, ok := known(w, r)
		if !ok {
			return
		}
		var f FaultJSON
		if !decodeJSON(w, r, &f) {
			return
		}
		d.SetFault(name, f.Fault())
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults/{service}", func(w http.ResponseWriter, r *http.Request) {
		name, ok := known(w, r)
		if !ok {
			return
		}
		d.ClearFault(name)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		d.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /latency/{service}", func(w http.ResponseWriter, r *http.Request) {
		name, ok := known(w, r)
		if !ok {
			return
		}
		var body struct {
			MS *float64 `json:"ms"`
		}
		if !decodeJSON(w, r, &body) {
			return
		}
		if body.MS == nil || *body.MS < 0 {
			badRequest(w, "ms must be a number of milliseconds, at least 0")
			return
		}
		d.SetLatency(name, time.Duration(*body.MS*float64(time.Millisecond)))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /emails", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Emails())
	})
	mux.HandleFunc("GET /urls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.URLs())
	})
	return mux
}

// ServeOptions configure Serve.
type ServeOptions struct {
	Options
	// Host is the address the services bind to; "" means 127.0.0.1.
	Host string
	// BasePort is the first port: the services listen on BasePort ..
	// BasePort+6 in the order of Services. 0 means 9001.
	BasePort int
	// AdminAddr is the admin API's address; "" means Host:BasePort+7.
	AdminAddr string
	// Ready, if set, is called once the services and the admin API listen,
	// with the Demo (to drive it in-process) and the admin API's address.
	Ready func(d *Demo, adminAddr string)
}

// Serve runs the seven services and the admin API until ctx ends, then
// closes them. It returns an error only if something could not listen.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.BasePort == 0 {
		o.BasePort = 9001
	}
	if o.AdminAddr == "" {
		o.AdminAddr = net.JoinHostPort(o.Host, strconv.Itoa(o.BasePort+len(Services)))
	}
	d := New(o.Options)
	addrs := map[string]string{}
	for i, s := range Services {
		addrs[s] = net.JoinHostPort(o.Host, strconv.Itoa(o.BasePort+i))
	}
	if err := d.StartOn(addrs); err != nil {
		return fmt.Errorf("serve demo: %w", err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", o.AdminAddr)
	if err != nil {
		return fmt.Errorf("serve demo: admin: %w", err)
	}
	admin := &http.Server{Handler: d.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- admin.Serve(ln) }()
	d.log.Info("demo admin listening", "url", "http://"+ln.Addr().String())
	if o.Ready != nil {
		o.Ready(d, ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serve demo: admin: %w", err)
	}
	if err := admin.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve demo: close admin: %w", err)
	}
	return nil
}
