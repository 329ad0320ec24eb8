package listener

import (
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Delivery history: every delivery the listener answers leaves one Kubernetes Event on its
// EventListener (`kubectl describe eventlistener X` answers "why didn't my push build?"), and what it
// created carries the delivery's identity as annotations. Events go through client-go's recorder: queued,
// written off the request path, rate-limited and aggregated per EventListener.

// Event reasons of delivery history.
const (
	ReasonCreated = "Created" // at least one trigger created (or found, for a redelivery) its resources
	ReasonSkipped = "Skipped" // every trigger skipped it on purpose (filters, event types), or there were none
	ReasonRefused = "Refused" // no trigger accepted its signature or token
	ReasonFailed  = "Failed"  // nothing created: bad payload, broken configuration, API unavailable
)

// Annotations on every resource a delivery creates.
const (
	AnnotationDeliveryID = "hookrun.dev/delivery-id"
	AnnotationProvider   = "hookrun.dev/provider"
	AnnotationEvent      = "hookrun.dev/event"
)

// maxAnnotationValue bounds what a sender's headers can put in an annotation.
const maxAnnotationValue = 256

// deliveryAnnotations are the annotations of resources created for d.
func deliveryAnnotations(d delivery) map[string]string {
	a := map[string]string{AnnotationProvider: d.Provider}
	if d.ID != "" {
		a[AnnotationDeliveryID] = clip(d.ID, maxAnnotationValue)
	}
	if d.Event != "" {
		a[AnnotationEvent] = clip(d.Event, maxAnnotationValue)
	}
	return a
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// historyReason is the Event reason for a delivery answered code with results rs.
func historyReason(code int, rs []TriggerResult) (eventType, reason string) {
	switch {
	case code == http.StatusUnauthorized:
		return corev1.EventTypeWarning, ReasonRefused
	case code >= 300:
		return corev1.EventTypeWarning, ReasonFailed
	}
	for _, r := range rs {
		if r.Status == StatusCreated {
			return corev1.EventTypeNormal, ReasonCreated
		}
	}
	return corev1.EventTypeNormal, ReasonSkipped
}

// recordDelivery leaves the delivery's Event on el: its id, provider and event, and per trigger what
// happened and why, with the names of what was created. It is given the detailed results (before any
// coarsening of the answer to an unauthenticated sender): Events are read by the EventListener's
// owners, and never carry a secret or a signature (reasons name Secrets, never their values).
func (s *Server) recordDelivery(el *triggersv1beta1.EventListener, d delivery, code int, rs []TriggerResult) {
	if s.opts.NoDeliveryEvents {
		return
	}
	eventType, reason := historyReason(code, rs)
	rec, ok := s.recordable(el, eventType)
	if !ok {
		return
	}
	var b strings.Builder
	id := d.ID
	if id == "" {
		id = "(none)"
	}
	fmt.Fprintf(&b, "delivery %s (%s %s, event %s) answered %d", id, d.Provider, clip(d.Event, 64), d.EventID, code)
	if len(rs) == 0 {
		b.WriteString(": no triggers")
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "; trigger %s/%s %s", r.Namespace, r.Name, r.Status)
		if r.Duplicate {
			b.WriteString(" (duplicate)")
		}
		for i, res := range r.Resources {
			if i == 0 {
				b.WriteString(":")
			}
			fmt.Fprintf(&b, " %s %s", res.Kind, res.Name)
		}
		if r.Reason != "" && !r.Duplicate {
			fmt.Fprintf(&b, " — %s", r.Reason)
		}
	}
	emit(rec, el, eventType, reason, b.String())
}
