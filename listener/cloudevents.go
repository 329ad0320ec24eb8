package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// The CloudEvent types Tekton Triggers sends to an EventListener's cloudEventURI.
const (
	ceStarted    = "dev.tekton.event.triggers.started.v1"
	ceSuccessful = "dev.tekton.event.triggers.successful.v1"
	ceFailed     = "dev.tekton.event.triggers.failed.v1"
	ceDone       = "dev.tekton.event.triggers.done.v1"
)

// ceInFlight bounds the deliveries whose CloudEvents are being sent at once; beyond it a delivery's
// events are dropped (and logged) rather than piling up goroutines behind a slow sink.
const ceInFlight = 32

// cloudEventSender sends the trigger lifecycle CloudEvents of deliveries to EventListeners'
// spec.cloudEventURI, as Tekton's sink does: started, then successful (per trigger that created its
// resources) or failed (per trigger that failed), then done; HTTP binary mode, the event id is the
// delivery's event id, the data the request headers (started, successful) or null.
type cloudEventSender struct {
	client *http.Client
	slots  chan struct{}
	now    func() time.Time
}

func newCloudEventSender() *cloudEventSender {
	return &cloudEventSender{
		client: &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		slots:  make(chan struct{}, ceInFlight),
		now:    time.Now,
	}
}

type cloudEvent struct {
	typ  string
	data []byte
}

// deliveryEvents are the CloudEvents Tekton sends for a delivery whose triggers gave results.
func deliveryEvents(header http.Header, results []TriggerResult) []cloudEvent {
	headers, err := json.Marshal(header)
	if err != nil {
		headers = []byte("null")
	}
	events := []cloudEvent{{typ: ceStarted, data: headers}}
	for _, r := range results {
		switch r.Status {
		case StatusCreated:
			events = append(events, cloudEvent{typ: ceSuccessful, data: headers})
		case StatusFailed:
			events = append(events, cloudEvent{typ: ceFailed, data: []byte("null")})
		}
	}
	return append(events, cloudEvent{typ: ceDone, data: []byte("null")})
}

// send sends a delivery's events to el's cloudEventURI, in order, in the background; nothing when el has
// none.
func (c *cloudEventSender) send(log *slog.Logger, el *triggersv1beta1.EventListener, eventID string, header http.Header, results []TriggerResult) {
	uri := el.Spec.CloudEventURI
	if uri == "" {
		return
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		log.Warn("cloudEventURI is not an http(s) URL: no CloudEvents sent", "listener", el.Name, "namespace", el.Namespace, "uri", uri)
		return
	}
	select {
	case c.slots <- struct{}{}:
	default:
		log.Warn("too many deliveries' CloudEvents in flight: dropped", "listener", el.Name, "eventID", eventID)
		return
	}
	events := deliveryEvents(header, results)
	source := fmt.Sprintf("/apis/%s/%s/namespaces/%s/EventListener/%s", triggersv1beta1.GroupVersion.Group, triggersv1beta1.GroupVersion.Version, el.Namespace, el.Name)
	subject := el.Name + " processing " + eventID
	go func() {
		defer func() { <-c.slots }()
		for _, ev := range events {
			if err := c.post(uri, eventID, source, subject, ev); err != nil {
				log.Warn("CloudEvent not delivered", "listener", el.Name, "type", ev.typ, "eventID", eventID, "error", err)
			}
		}
	}()
}

// sendCloudEvents sends a delivery's CloudEvents when its EventListener asks for them; never from a dry
// run (nothing leaves the process there).
func (s *Server) sendCloudEvents(el *triggersv1beta1.EventListener, d delivery, header http.Header, results []TriggerResult) {
	if s.opts.Trace != nil {
		return
	}
	s.config.cloudEvents.send(s.log, el, d.EventID, header, results)
}

// post sends one CloudEvent in HTTP binary mode, retrying twice on transport errors, 429 and 5xx.
func (c *cloudEventSender) post(uri, id, source, subject string, ev cloudEvent) error {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.client.Timeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(ev.data))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", id)
		req.Header.Set("Ce-Source", source)
		req.Header.Set("Ce-Type", ev.typ)
		req.Header.Set("Ce-Subject", subject)
		req.Header.Set("Ce-Time", c.now().UTC().Format(time.RFC3339Nano))
		resp, err := c.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		cancel()
		switch {
		case err != nil:
			last = err
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("answered HTTP %d", resp.StatusCode)
		case resp.StatusCode >= 300:
			return fmt.Errorf("answered HTTP %d", resp.StatusCode)
		default:
			return nil
		}
	}
	return last
}
