package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
)

// valueCost is what one JSON value may cost once decoded into any (map entries, interface boxes, slice
// growth), on top of the string bytes copied out of the body. It is the allocation per value measured for
// the costliest shapes (`[{"a":1},…]` ≈ 143 B, numbers ≈ 93 B, `[{},…]` ≈ 65 B; TestDecodeEstimate checks
// it stays an upper bound), rounded up.
const valueCost = 160

// errTooManyValues: the body holds more JSON values than --max-json-values (413).
var errTooManyValues = errors.New("too many JSON values")

// checkContent refuses, from the headers and the body's length alone, what cannot be a JSON webhook.
// It returns a reason when the body cannot be used.
func checkContent(contentType string, body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body: a JSON payload is required"
	}
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "malformed Content-Type header: " + err.Error()
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		return "form-encoded payloads are not supported: set the webhook's content type to application/json"
	case mt == "application/json", mt == "text/plain", len(mt) > 5 && mt[len(mt)-5:] == "+json":
		return ""
	}
	return fmt.Sprintf("Content-Type %q is not JSON: send application/json", mt)
}

// countJSONValues returns an upper bound of the number of values (objects, arrays, keys, scalars) a JSON
// text holds, in one pass over the bytes and without allocating: one, plus one per '{', '[', ',' and ':'
// outside strings. It is exact for texts without empty containers and never below the true count for
// valid JSON (FuzzCountJSONValues).
func countJSONValues(b []byte) int {
	n := 1
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b); i++ {
				if b[i] == '\\' {
					i++
				} else if b[i] == '"' {
					break
				}
			}
		case '{', '[', ',', ':':
			n++
		}
	}
	return n
}

// decodeEstimate is the memory the decoded form of body may take: its string bytes plus valueCost per
// value.
func decodeEstimate(body []byte, values int) int64 {
	return int64(len(body)) + int64(values)*valueCost
}

// decode decodes the body once, after reserving from the delivery's budget what its decoded form may
// take: a body with too many values (--max-json-values), or one that does not fit, is never decoded.
func (s *Server) decode(ctx context.Context, h *hold, body []byte) (any, error) {
	values := countJSONValues(body)
	if values > s.opts.MaxJSONValues {
		return nil, errTooManyValues
	}
	if err := h.grow(ctx, decodeEstimate(body, values)); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	return v, nil
}
