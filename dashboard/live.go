package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// change says which object an informer saw change.
type change struct {
	Kind, Namespace, Name string
	// Parent is the PipelineRun of a TaskRun.
	Parent string
}

// hub fans changes out to the open pages. A subscriber holds one pending signal at most: changes that
// arrive while it is pending fold into it, so a slow browser never blocks the informers and never
// misses the last change.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	match func(change) bool
	ch    chan struct{}
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

func (h *hub) subscribe(match func(change) bool) (<-chan struct{}, func()) {
	sub := &subscriber{match: match, ch: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub.ch, func() {
		h.mu.Lock()
		delete(h.subs, sub)
		h.mu.Unlock()
	}
}

func (h *hub) publish(c change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if sub.match(c) {
			select {
			case sub.ch <- struct{}{}:
			default:
			}
		}
	}
}

// topicMatch turns a page's topic into the changes that concern it:
//
//	runs                       any PipelineRun or TaskRun
//	run/NS/KIND/NAME           that run, and the TaskRuns of that PipelineRun
//	deliveries                 any EventListener's Events
//	deliveries/NS/NAME         that EventListener's Events, and runs in NS (links to them)
func topicMatch(topic string) (func(change) bool, error) {
	parts := strings.Split(topic, "/")
	switch {
	case topic == "runs":
		return func(c change) bool { return c.Kind == kindPipelineRun || c.Kind == kindTaskRun }, nil
	case len(parts) == 4 && parts[0] == "run":
		ns, kind, name := parts[1], parts[2], parts[3]
		return func(c change) bool {
			return c.Namespace == ns && ((c.Kind == kind && c.Name == name) || (kind == kindPipelineRun && c.Parent == name))
		}, nil
	case topic == "deliveries":
		return func(c change) bool { return c.Kind == "events" }, nil
	case len(parts) == 3 && parts[0] == "deliveries":
		ns, name := parts[1], parts[2]
		return func(c change) bool {
			return c.Namespace == ns && (c.Kind == "events" && c.Name == name || c.Kind == kindPipelineRun)
		}, nil
	}
	return nil, fmt.Errorf("unknown topic %q", topic)
}

// live is the server-sent events stream a page listens to: an event "changed" whenever something it
// shows changed (at most one every minGap), and a comment every 25s to keep proxies from closing it.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	match, err := topicMatch(r.URL.Query().Get("topic"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := s.hub.subscribe(match)
	defer cancel()
	sseHeaders(w)
	fmt.Fprint(w, "retry: 2000\nevent: hello\ndata: {}\n\n")
	fl.Flush()
	const minGap = 200 * time.Millisecond
	keep := time.NewTicker(25 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-ch:
			fmt.Fprint(w, "event: changed\ndata: {}\n\n")
			fl.Flush()
			// Fold a burst of changes (a run's many status writes) into one refresh.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(minGap):
			}
			continue
		}
		fl.Flush()
	}
}

func sseHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
}
