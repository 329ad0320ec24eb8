package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/listener/internal/jsonsize"
)

// errTooManyValues: the body holds more JSON values than --max-json-values (413).
var errTooManyValues = errors.New("too many JSON values")

// errNotJSON: the body does not parse as JSON (400, unless the EventListener turned payload validation off).
var errNotJSON = errors.New("body is not valid JSON")

// PayloadValidationAnnotation on an EventListener set to "false" lets a body that is not JSON through, as
// Tekton's sink does: the triggers see an empty body object.
const PayloadValidationAnnotation = "tekton.dev/payload-validation"

// payloadValidation reports whether el wants bodies validated as JSON (Tekton's default).
func payloadValidation(el *triggersv1beta1.EventListener) bool {
	return el.Annotations[PayloadValidationAnnotation] != "false"
}

// checkContent refuses, from the body's length alone, what cannot be a JSON webhook; it returns a reason
// when the body cannot be used. Like Tekton's sink it does not look at the Content-Type: a JSON body sent
// as text/plain or without the header (curl -d) is accepted, and the GitHub interceptor refuses
// form-encoded deliveries itself. With payload validation off (the EventListener's
// tekton.dev/payload-validation: "false"), even an empty body is let through.
func checkContent(body []byte, validate bool) string {
	if validate && len(bytes.TrimSpace(body)) == 0 {
		return "empty body: a JSON payload is required"
	}
	return ""
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
		return nil, fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return v, nil
}
