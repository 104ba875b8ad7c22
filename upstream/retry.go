package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// backoff returns the wait before retry number attempt (1 for the first
// retry): uniform in [0, min(max, base·2^(attempt-1))) — "full jitter".
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// sleep waits d or until ctx ends; it reports whether the wait was full.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// parseRetryAfter reads a Retry-After value, delay-seconds or HTTP-date;
// -1 when absent or unreadable; at most one day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	const day = 24 * time.Hour // longer is as good as forever; avoids overflow
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(min(n, int64(day/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), day)
	}
	return -1
}

// maxAge reads Cache-Control: max-age=N (seconds). no-store and no-cache
// without a max-age read as 0; absent, -1.
func maxAge(h http.Header) int {
	age, noStore := -1, false
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "max-age":
				n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
				if err == nil && n >= 0 && (age < 0 || n < age) {
					age = n
				}
			case "no-store", "no-cache":
				noStore = true
			}
		}
	}
	if noStore {
		return 0
	}
	return age
}

// describeTransport names a transport error in words that hold no address.
func describeTransport(err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var unkAuth x509.UnknownAuthorityError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "attempt timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "host lookup failed"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &unkAuth):
		return "tls failure"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	if strings.Contains(err.Error(), "server closed") || strings.Contains(err.Error(), "connection reset") {
		return "connection reset"
	}
	return "transport error"
}

// describeJSON names a decoding error without quoting the body: offsets,
// field paths made of plain names, and Go types only.
func describeJSON(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		s := "wrong JSON type"
		if plainName(te.Field) {
			s += " for " + te.Field
		}
		if te.Type != nil {
			s += ", want " + te.Type.String()
		}
		return s
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return "invalid JSON"
}

// plainName reports whether s is a short dotted path of [A-Za-z0-9_-],
// safe to repeat in a message.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
