//go:build unix

package upstream_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tutti-gw/tutti/upstream"
)

// BenchmarkTransport sends a GET for a small JSON answer over loopback, one
// at a time and from many goroutines, with net/http's Transport and with
// this package's. The server's work is the same in both; the difference is
// the client's. cpu-ns/op is the process's CPU time (both sides, every
// core) per request: the figure that matters on a busy gateway, where
// ns/op (elapsed) also counts waiting.
func BenchmarkTransport(b *testing.B) {
	body := `{"orderId":"o-1","trackingNumber":"TRK123456","carrier":"DHL","status":"IN_TRANSIT","shippedOn":"2026-11-20"}`
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer s.Close()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 256}},
		{"tutti", upstream.NewTransport()},
	} {
		get := func(b *testing.B) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL+"/shipments/by-order/o-1", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := tc.rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || !strings.HasPrefix(string(got), `{"orderId"`) {
				b.Fatalf("%q, %v", got, err)
			}
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				get(b)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b)
				}
			})
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
		tc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
