package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// DateLayout is the ISO 8601 calendar date of the Date scalar.
const DateLayout = "2006-01-02"

// DateTimeLayout is RFC 3339 in UTC with a Z suffix, to the second.
const DateTimeLayout = "2006-01-02T15:04:05Z"

// MarshalDateTime writes t in UTC, e.g. "2026-11-20T09:30:00Z".
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(DateTimeLayout)))
	})
}

// UnmarshalDateTime reads an RFC 3339 string with any offset and returns it
// in UTC.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("DateTime must be an RFC 3339 string")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("DateTime must be an RFC 3339 string, e.g. 2026-11-20T09:30:00Z")
	}
	return t.UTC(), nil
}

// MarshalDate writes the calendar date of t, e.g. "2026-11-25".
func MarshalDate(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.Format(DateLayout)))
	})
}

// UnmarshalDate reads an ISO 8601 calendar date.
func UnmarshalDate(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("Date must be a string, e.g. 2026-11-25")
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("Date must be an ISO 8601 date, e.g. 2026-11-25")
	}
	return t, nil
}
