package listener

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Events: what the answers to unauthenticated senders leave out (Secret names, CEL text, API errors) is
// recorded as Events on the EventListener, where its owners look, as are triggers that accept
// unauthenticated posts. (Its status conditions are written by one replica, elstatus: a trigger that
// --require-auth refuses is an invalid trigger there, as on /readyz.) client-go's event
// recorder rate-limits per EventListener and Event type (a burst of 100, then 2 a second: eventgate.go)
// and folds repeats into counts, so a flood of forged deliveries cannot flood the API server. Each delivery's
// own history Event: history.go.

// maxEventMessage keeps Event messages within what the API server stores comfortably.
const maxEventMessage = 1024

// event records an Event on el (asynchronously; dropped when the recorder's queue is full).
func (s *Server) event(el *triggersv1beta1.EventListener, eventType, reason, format string, args ...any) {
	if rec, ok := s.recordable(el, eventType); ok {
		emit(rec, el, eventType, reason, fmt.Sprintf(format, args...))
	}
}

// recordable returns the recorder when an Event of eventType on el is to be recorded now: the listener
// is serving and the rate limit (eventgate.go) lets it through. Ask once per Event: it takes a token.
func (s *Server) recordable(el *triggersv1beta1.EventListener, eventType string) (record.EventRecorder, bool) {
	rec := s.recorder.Load()
	if rec == nil || !s.events.allow(el.UID, el.Namespace, el.Name, eventType) {
		return nil, false
	}
	return *rec, true
}

// emit records msg, cut to maxEventMessage, on el.
func emit(rec record.EventRecorder, el *triggersv1beta1.EventListener, eventType, reason, msg string) {
	if len(msg) > maxEventMessage {
		msg = msg[:maxEventMessage-3] + "..."
	}
	rec.Event(el, eventType, reason, msg)
}

// eventSink writes the recorder's Events through a controller-runtime client.
type eventSink struct{ c client.Client }

const eventWriteTimeout = 10 * time.Second

func (e *eventSink) Create(ev *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	out := ev.DeepCopy()
	if err := e.c.Create(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *eventSink) Update(ev *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	out := ev.DeepCopy()
	if err := e.c.Update(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *eventSink) Patch(old *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), eventWriteTimeout)
	defer cancel()
	out := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: old.Namespace, Name: old.Name}}
	if err := e.c.Patch(ctx, out, client.RawPatch(types.StrategicMergePatchType, data)); err != nil {
		return nil, err
	}
	return out, nil
}
