package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/hookrun/hookrun/listener/internal/jsonsize"
)

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

// decode decodes the body once, after reserving from the delivery's budget what its decoded form may
// take: a body with too many values (--max-json-values), or one that does not fit, is never decoded.
func (s *Server) decode(ctx context.Context, h *hold, body []byte) (any, error) {
	values := jsonsize.Count(body)
	if values > s.opts.MaxJSONValues {
		return nil, errTooManyValues
	}
	if err := h.grow(ctx, jsonsize.Estimate(body, values)); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	return v, nil
}
