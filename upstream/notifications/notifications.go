// Package notifications is the client of the notifications service
// (upstreams.md §7).
package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tutti-gw/tutti/upstream"
)

// Service is the service's name in errors, logs and configuration.
const Service = "notifications"

// TemplateOrderConfirmation is the order confirmation e-mail; its data holds
// order_id and total.
const TemplateOrderConfirmation = "order_confirmation"

// What a failed Send tells about the e-mail. Both come with
// upstream.ErrUnavailable.
var (
	// ErrNotSent: the service answered 429 or 5xx, the connection failed
	// before the request was written, or the client refused the call
	// (upstream.ErrCircuitOpen, upstream.ErrBulkheadFull). Nothing went
	// out; the same e-mail may be tried again later.
	ErrNotSent = errors.New("e-mail not sent")
	// ErrMaybeSent: the request was written but no usable answer came
	// (timeout, reset). The e-mail may have gone out.
	ErrMaybeSent = errors.New("e-mail may have been sent")
)

// Email is the body of POST /emails.
type Email struct {
	To       string         `json:"to"`
	Template string         `json:"template"`
	Data     map[string]any `json:"data"`
}

// Client calls the notifications service.
type Client struct{ *upstream.Client }

// New wraps the service's upstream client.
func New(c *upstream.Client) *Client { return &Client{c} }

// Send sends an e-mail: POST /emails, answered 202 {"id": "em_…"}. Not
// idempotent: made once, never retried here. A failure wraps ErrNotSent
// (try again later), ErrMaybeSent (unknown), or neither: a 4xx answer
// (refused, with upstream.ErrBadResponse; trying again will not help) or a
// 2xx whose body could not be read or used (accepted; do not send again).
func (c *Client) Send(ctx context.Context, e Email) (string, error) {
	const op = "send email"
	var out struct {
		ID string `json:"id"`
	}
	meta, err := c.Do(ctx, upstream.Call{
		Op: op, Method: http.MethodPost, Path: "/emails", Body: e, Keys: 1,
	}, &out)
	if err != nil {
		var ue *upstream.Error
		if !errors.As(err, &ue) || !errors.Is(err, upstream.ErrUnavailable) {
			return "", err
		}
		var mark error
		switch {
		case ue.Status >= 200 && ue.Status < 300:
			// Accepted, but the answer was lost mid-body: sent.
			return "", err
		case ue.Status == 0 && errors.Is(err, upstream.ErrOutcomeUnknown):
			mark = ErrMaybeSent
		default: // 429, 5xx, or no connection before the request was written
			mark = ErrNotSent
		}
		return "", c.Fail(op, ue.Status, fmt.Errorf("%w: %w", mark, ue.Err))
	}
	if out.ID == "" {
		return "", c.Fail(op, meta.Status, fmt.Errorf("decode body: %w: no id", upstream.ErrBadResponse))
	}
	return out.ID, nil
}
