package gqlhttp

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/tutti-gw/tutti/gqlerr"
)

// POST is the graphql.Transport for POST /graphql with a JSON body
// (GraphQL-over-HTTP). It supports every POST, so a request with a wrong
// Content-Type is answered 415 here.
//
// The body must be application/json (a charset parameter, if any, utf-8),
// identity-, gzip- or deflate-encoded (deflate as zlib or raw), at most
// MaxBodyBytes after decompression, valid UTF-8, and one JSON object with
// "query" a string, "operationName" a string or null, "variables" and
// "extensions" objects or null; other keys are ignored, key names are
// case-sensitive, and a repeated key counts by its last value.
// Batching (a JSON array) is refused.
type POST struct{ Options }

var _ graphql.Transport = POST{}

// Supports reports true for every POST.
func (t POST) Supports(r *http.Request) bool { return r.Method == http.MethodPost }

// Do checks, authenticates, parses and executes one request.
func (t POST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	contentType := responseType(r)
	start := graphql.Now()

	if f := checkContentType(r.Header.Get("Content-Type")); f != nil {
		t.reject(w, r, contentType, f)
		return
	}
	body, f := t.readBody(w, r)
	if f != nil {
		t.reject(w, r, contentType, f)
		return
	}
	params, f := decodePOST(body)
	if f != nil {
		t.reject(w, r, contentType, f)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	t.serve(w, r, exec, contentType, params, false)
}

func checkContentType(v string) *failure {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil || mt != mediaJSON {
		return fail(http.StatusUnsupportedMediaType, gqlerr.BadRequest, "Content-Type must be application/json")
	}
	if cs, ok := ps["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fail(http.StatusUnsupportedMediaType, gqlerr.BadRequest, "Content-Type charset must be utf-8")
	}
	return nil
}

type coding int

const (
	codingIdentity coding = iota
	codingGzip
	codingDeflate
)

// contentCoding reads Content-Encoding: at most one coding besides identity.
func contentCoding(h http.Header) (coding, bool) {
	c := codingIdentity
	for _, v := range h.Values("Content-Encoding") {
		for tok := range strings.SplitSeq(v, ",") {
			next := codingIdentity
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "", "identity":
				continue
			case "gzip", "x-gzip":
				next = codingGzip
			case "deflate":
				next = codingDeflate
			default:
				return 0, false
			}
			if c != codingIdentity {
				return 0, false // stacked codings
			}
			c = next
		}
	}
	return c, true
}

// readBody reads the whole body, decompressed, never holding more than
// MaxBodyBytes+1 bytes of it and never reading more than the wire allowance.
func (t POST) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *failure) {
	limit := t.maxBody()
	tooLarge := func() *failure {
		return fail(http.StatusRequestEntityTooLarge, gqlerr.BadRequest,
			"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
	}
	c, ok := contentCoding(r.Header)
	if !ok {
		w.Header().Set("Accept-Encoding", "gzip, deflate")
		return nil, fail(http.StatusUnsupportedMediaType, gqlerr.BadRequest,
			"Content-Encoding must be gzip, deflate or identity")
	}
	if r.Body == nil {
		return nil, nil
	}
	wire := limit
	if c != codingIdentity {
		wire = t.maxWireBytes()
	}
	if r.ContentLength > wire {
		return nil, tooLarge()
	}
	raw := http.MaxBytesReader(w, r.Body, wire)
	defer raw.Close()

	var src io.Reader = raw
	hint := int64(0)
	switch c {
	case codingIdentity:
		hint = r.ContentLength
	case codingGzip:
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, readFailure(err, c, tooLarge)
		}
		defer zr.Close()
		src = zr
	case codingDeflate:
		br := bufio.NewReader(raw)
		if isZlib(br) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, readFailure(err, c, tooLarge)
			}
			defer zr.Close()
			src = zr
		} else {
			fr := flate.NewReader(br)
			defer fr.Close()
			src = fr
		}
	}
	body, over, err := readLimited(src, limit, hint)
	switch {
	case over:
		return nil, tooLarge()
	case err != nil:
		return nil, readFailure(err, c, tooLarge)
	}
	return body, nil
}

// isZlib reports whether br starts with a zlib header (RFC 1950), which is
// what HTTP's "deflate" means; some clients send raw deflate (RFC 1951).
func isZlib(br *bufio.Reader) bool {
	h, err := br.Peek(2)
	if err != nil {
		return false
	}
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

func readFailure(err error, c coding, tooLarge func() *failure) *failure {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge()
	}
	if c != codingIdentity {
		return fail(http.StatusBadRequest, gqlerr.BadRequest, "request body could not be decompressed")
	}
	return fail(http.StatusBadRequest, gqlerr.BadRequest, "request body could not be read")
}

// readLimited reads src to its end. It reports over as soon as more than limit
// bytes arrive; the buffer never grows beyond limit+1 bytes. hint, when
// positive, is the declared size.
func readLimited(src io.Reader, limit, hint int64) (b []byte, over bool, err error) {
	// A declared length is trusted only up to 64 KiB of up-front
	// allocation: a client may announce a large body and never send it.
	size := int64(4 << 10)
	if hint > 0 {
		size = min(hint+1, 64<<10) // +1: room to see EOF without growing
	}
	b = make([]byte, 0, min(size, limit+1))
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return nil, true, nil
			}
			nb := make([]byte, len(b), min(2*int64(cap(b))+512, limit+1))
			copy(nb, b)
			b = nb
		}
		n, err := src.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, true, nil
		}
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// decodePOST checks the body's encoding and shape and returns the request's
// parameters. Messages name the rule broken, never the body's content.
func decodePOST(body []byte) (*graphql.RawParams, *failure) {
	if !utf8.Valid(body) {
		return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "request body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "request body is empty")
	}
	switch trimmed[0] {
	case '{':
		// Unmarshal checks the whole body, trailing data included: no
		// separate validity pass on the common path.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "request body is not valid JSON")
		}
		return paramsFrom(fields)
	case '[':
		if json.Valid(trimmed) {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest,
				"batching is not supported: send one operation per request, as a JSON object")
		}
	default:
		if json.Valid(trimmed) {
			return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "request body must be a JSON object")
		}
	}
	return nil, fail(http.StatusBadRequest, gqlerr.BadRequest, "request body is not valid JSON")
}

// paramsFrom type-checks the request's members, each given as JSON (absent
// members are nil), and requires a query or an APQ hash.
func paramsFrom(fields map[string]json.RawMessage) (*graphql.RawParams, *failure) {
	p := &graphql.RawParams{}
	if f := jsonString(fields["query"], &p.Query, "query must be a string"); f != nil {
		return nil, f
	}
	if f := jsonString(fields["operationName"], &p.OperationName, "operationName must be a string or null"); f != nil {
		return nil, f
	}
	if f := jsonObject(fields["variables"], &p.Variables, "variables must be a JSON object or null"); f != nil {
		return nil, f
	}
	if f := jsonObject(fields["extensions"], &p.Extensions, "extensions must be a JSON object or null"); f != nil {
		return nil, f
	}
	if f := requireQuery(p); f != nil {
		return nil, f
	}
	return p, nil
}

// requireQuery refuses a request with neither query text nor an APQ hash.
func requireQuery(p *graphql.RawParams) *failure {
	if strings.TrimSpace(p.Query) == "" && !hasPersistedQueryHash(p.Extensions) {
		return fail(http.StatusBadRequest, gqlerr.BadRequest, "request has no query")
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

// jsonString decodes raw, a JSON string or null, into dst.
func jsonString(raw json.RawMessage, dst *string, msg string) *failure {
	if isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fail(http.StatusBadRequest, gqlerr.BadRequest, msg)
	}
	return nil
}

// jsonObject decodes raw, a JSON object or null, into dst, keeping numbers
// exact (json.Number) as gqlgen's scalars expect.
func jsonObject(raw json.RawMessage, dst *map[string]any, msg string) *failure {
	if isNull(raw) {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fail(http.StatusBadRequest, gqlerr.BadRequest, msg)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return fail(http.StatusBadRequest, gqlerr.BadRequest, msg)
	}
	if *dst == nil {
		*dst = map[string]any{}
	}
	return nil
}

// hasPersistedQueryHash reports whether extensions hold an APQ request
// (persistedQuery.sha256Hash): such a request may leave the query out.
func hasPersistedQueryHash(ext map[string]any) bool {
	pq, ok := ext["persistedQuery"].(map[string]any)
	if !ok {
		return false
	}
	h, ok := pq["sha256Hash"].(string)
	return ok && h != ""
}
