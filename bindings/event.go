package bindings

import (
	"errors"
	"net/http"
)

// Event is what binding expressions can read.
type Event struct {
	// Body is the request body decoded once by the caller with encoding/json
	// into an any (numbers as float64; json.Number is accepted too).
	Body any
	// Header holds the request headers, normally with canonical keys.
	Header http.Header
	// Extensions are the fields added by interceptors ($(extensions.x)).
	Extensions map[string]any
	// EventID is $(context.eventID).
	EventID string
	// EventURL is $(context.eventURL).
	EventURL string
	// TriggerName is $(context.triggerName).
	TriggerName string
}

// Param is one TriggerBinding param: Value is text with $(...) expressions.
type Param struct {
	Name  string
	Value string
}

// ErrFieldNotFound is wrapped by every error in the missing map returned by
// Resolve: the expression named a field the event does not have.
var ErrFieldNotFound = errors.New("field not found")

// ErrSyntax is wrapped by errors about malformed param values.
var ErrSyntax = errors.New("invalid binding expression")
