package gqlhttp

import (
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tutti-gw/tutti/gqlerr"
)

// The response media types, each with its charset.
const (
	// ContentTypeJSON is the default response type (GraphQL-over-HTTP's
	// legacy application/json).
	ContentTypeJSON = "application/json; charset=utf-8"
	// ContentTypeGraphQLResponse is sent when the client asks for it.
	ContentTypeGraphQLResponse = "application/graphql-response+json; charset=utf-8"
)

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// maxMessageBytes caps the message of a request error. Parse and validation
// messages quote names and values from the document; the cap keeps a client
// from having megabytes reflected back.
const maxMessageBytes = 1024

// responseType picks the response media type from r's Accept header:
// application/graphql-response+json when the client names it explicitly with
// a weight above zero and at least the weight application/json gets;
// otherwise application/json. So a missing Accept, "*/*" and "application/*"
// get application/json (GraphQL-over-HTTP: a missing Accept is treated as
// application/json), and an Accept that allows neither type is disregarded
// and also gets application/json (the spec's alternative to 406).
func responseType(r *http.Request) string {
	if r == nil {
		return ContentTypeJSON
	}
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if accept == "" {
		return ContentTypeJSON
	}
	grQ, grExplicit := acceptWeight(accept, mediaGraphQLResponse)
	jsonQ, _ := acceptWeight(accept, mediaJSON)
	if grExplicit && grQ > 0 && grQ >= jsonQ {
		return ContentTypeGraphQLResponse
	}
	return ContentTypeJSON
}

// acceptWeight returns the weight the Accept header gives media (taken from
// its most specific matching range, RFC 9110 §12.5.1) and whether a range
// named media exactly. Ranges that do not parse are skipped.
func acceptWeight(accept, media string) (q float64, exact bool) {
	typ, _, _ := strings.Cut(media, "/")
	best := -1 // specificity of the range q came from: 0 */*, 1 type/*, 2 exact
	for part := range strings.SplitSeq(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		spec := -1
		switch mt {
		case media:
			spec = 2
		case typ + "/*":
			spec = 1
		case "*/*":
			spec = 0
		}
		if spec <= best {
			continue
		}
		w := 1.0
		if s, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			w = f
		}
		best, q = spec, w
	}
	return q, best == 2
}

// WriteError answers with status and a GraphQL response holding errs and no
// data, in the media type r's Accept asks for (see the package's
// negotiation: application/json unless application/graphql-response+json is
// explicitly preferred). It is for the HTTP layers around the GraphQL
// handler (404 and 405 on /graphql, health checks, rate limits).
//
// Every error gets an extensions.code: an error without one gets the code
// that status implies (401 UNAUTHENTICATED, 403 FORBIDDEN, 429 RATE_LIMITED,
// other 4xx BAD_REQUEST, anything else INTERNAL); errs themselves are not
// modified. Without errs, one error named after the status is sent. Headers
// the caller set on w (Allow, Retry-After) are kept.
func WriteError(w http.ResponseWriter, r *http.Request, status int, errs ...*gqlerror.Error) {
	_ = writeErrors(w, responseType(r), status, nil, errs...)
}

// codeForStatus is the code an error without one gets in a response with
// status.
func codeForStatus(status int) gqlerr.Code {
	switch {
	case status == http.StatusUnauthorized:
		return gqlerr.Unauthenticated
	case status == http.StatusForbidden:
		return gqlerr.Forbidden
	case status == http.StatusTooManyRequests:
		return gqlerr.RateLimited
	case status >= 400 && status < 500:
		return gqlerr.BadRequest
	default:
		return gqlerr.Internal
	}
}

// errorBody is a response without data: a request error, or an execution
// that produced none. Data is left out rather than null (GraphQL spec: an
// error raised before execution leaves no data entry).
type errorBody struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// resultBody is an execution result. Data is omitted when the executor
// produced none and is `null` when execution nulled the root.
type resultBody struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// encode writes the body as json.Marshal would, but copies Data as it is:
// the executor wrote it, so it is valid compact JSON already, and it is
// most of the answer (json.Marshal would scan it again to compact it).
func (b resultBody) encode() ([]byte, error) {
	buf := make([]byte, 0, len(b.Data)+64)
	buf = append(buf, '{')
	sep := false
	member := func(name string, v any) error {
		if sep {
			buf = append(buf, ',')
		}
		sep = true
		buf = append(buf, '"')
		buf = append(buf, name...)
		buf = append(buf, '"', ':')
		if raw, ok := v.(json.RawMessage); ok {
			buf = append(buf, raw...)
			return nil
		}
		enc, err := json.Marshal(v)
		buf = append(buf, enc...)
		return err
	}
	if len(b.Errors) > 0 {
		if err := member("errors", b.Errors); err != nil {
			return nil, err
		}
	}
	if len(b.Data) > 0 {
		_ = member("data", b.Data)
	}
	if len(b.Extensions) > 0 {
		if err := member("extensions", b.Extensions); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// internalBody is sent when a response cannot be encoded.
var internalBody = []byte(`{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL"}}]}`)

// writeErrors answers a response without data; see writeJSON for its error.
func writeErrors(w http.ResponseWriter, contentType string, status int, extensions map[string]any, errs ...*gqlerror.Error) error {
	fallback := codeForStatus(status)
	list := withCodes(errs, fallback)
	if len(list) == 0 {
		text := strings.ToLower(http.StatusText(status))
		if text == "" {
			text = "error"
		}
		list = gqlerror.List{gqlerr.New(fallback, text)}
	}
	return writeJSON(w, contentType, status, errorBody{Errors: list, Extensions: extensions})
}

// writeJSON encodes v and answers with it. When v cannot be encoded it
// answers 500 INTERNAL instead and returns the encoding error for the caller
// to log; it never panics. Errors writing to the client are not reported.
func writeJSON(w http.ResponseWriter, contentType string, status int, v any) error {
	var b []byte
	var err error
	if r, ok := v.(resultBody); ok {
		b, err = r.encode()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		status, b = http.StatusInternalServerError, internalBody
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return err
}

// withCodes returns errs with nil entries dropped and every error carrying
// an extensions.code, fallback where it had none. Errors are copied before
// they are changed: they may be shared (sentinels, cached documents).
func withCodes(errs gqlerror.List, fallback gqlerr.Code) gqlerror.List {
	out := make(gqlerror.List, 0, len(errs))
	for _, e := range errs {
		if e == nil {
			continue
		}
		if gqlerr.CodeOf(e) == "" {
			e = withCode(e, fallback)
		}
		out = append(out, e)
	}
	return out
}

// withCode returns a copy of e whose extensions.code is code.
func withCode(e *gqlerror.Error, code gqlerr.Code) *gqlerror.Error {
	c := *e
	c.Extensions = maps.Clone(e.Extensions)
	if c.Extensions == nil {
		c.Extensions = map[string]any{}
	}
	c.Extensions["code"] = string(code)
	return &c
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
