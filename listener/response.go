package listener

import (
	"encoding/json"
	"net/http"
)

// Trigger outcomes reported in a Response.
const (
	StatusCreated = "created"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Resource names one object a trigger created (or found already created by an earlier delivery).
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

// TriggerResult is what happened to one trigger.
type TriggerResult struct {
	Name      string     `json:"name"`
	Namespace string     `json:"namespace,omitempty"`
	Status    string     `json:"status"`
	Reason    string     `json:"reason,omitempty"`
	Duplicate bool       `json:"duplicate,omitempty"`
	Resources []Resource `json:"resources,omitempty"`
	// Cancelled names the runs (namespace/name) this delivery cancelled: older runs of a cancel-in-progress
	// concurrency group, or a closed pull/merge request's runs.
	Cancelled []string `json:"cancelled,omitempty"`

	unauthenticated bool // the trigger rejected the signature or token
	unavailable     bool // the API server could not be reached or refused for load
	badInput        bool // the payload lacks what the trigger needs
}

// Response is the JSON body the listener answers every POST with. eventListener, namespace,
// eventListenerUID and eventID are the fields Tekton's listener answers with.
type Response struct {
	EventListener    string          `json:"eventListener,omitempty"`
	Namespace        string          `json:"namespace,omitempty"`
	EventListenerUID string          `json:"eventListenerUID,omitempty"`
	EventID          string          `json:"eventID,omitempty"`
	DeliveryID       string          `json:"deliveryID,omitempty"`
	Message          string          `json:"message,omitempty"`
	Triggers         []TriggerResult `json:"triggers"`
}

// statusFor decides the HTTP status of a delivery from its trigger results:
// 503 if the API server was unavailable for any trigger (the delivery was rolled back; retry it),
// 202 if any trigger created resources, 401 if a trigger rejected the signature or token and none created,
// 400 if triggers failed only because the payload lacked fields, 500 for other failures,
// 202 if every trigger was skipped (filters, event types) or there were none.
func statusFor(results []TriggerResult) int {
	var created, unauth, failed, badInput, unavailable int
	for _, r := range results {
		switch {
		case r.unavailable:
			unavailable++
		case r.Status == StatusCreated:
			created++
		case r.unauthenticated:
			unauth++
		case r.Status == StatusFailed && r.badInput:
			badInput++
		case r.Status == StatusFailed:
			failed++
		}
	}
	switch {
	case unavailable > 0:
		return http.StatusServiceUnavailable
	case created > 0:
		return http.StatusAccepted
	case unauth > 0:
		return http.StatusUnauthorized
	case failed > 0:
		return http.StatusInternalServerError
	case badInput > 0:
		return http.StatusBadRequest
	}
	return http.StatusAccepted
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers a request that was refused before any trigger ran.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, Response{Message: msg, Triggers: []TriggerResult{}})
}
