package dashboard

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// eventStore keeps the Events recorded on EventListeners, by EventListener.
type eventStore struct {
	mu   sync.RWMutex
	byEL map[string]map[types.UID]*corev1.Event // key ns/name of the EventListener
}

func newEventStore() *eventStore { return &eventStore{byEL: map[string]map[types.UID]*corev1.Event{}} }

func (e *eventStore) put(ev *corev1.Event, deleted bool) {
	k := ev.InvolvedObject.Namespace + "/" + ev.InvolvedObject.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.byEL[k]
	if deleted {
		delete(m, ev.UID)
		return
	}
	if m == nil {
		m = map[types.UID]*corev1.Event{}
		e.byEL[k] = m
	}
	m[ev.UID] = ev
}

// eventTime is when an Event last happened.
func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

// list returns the Events of one EventListener, newest first.
func (e *eventStore) list(ns, name string) []*corev1.Event {
	e.mu.RLock()
	out := make([]*corev1.Event, 0, len(e.byEL[ns+"/"+name]))
	for _, ev := range e.byEL[ns+"/"+name] {
		out = append(out, ev)
	}
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		ti, tj := eventTime(out[i]), eventTime(out[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].Name > out[j].Name
	})
	return out
}

// stats counts an EventListener's Events by reason and gives the latest time.
func (e *eventStore) stats(ns, name string) (map[string]int, time.Time) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	counts := map[string]int{}
	var last time.Time
	for _, ev := range e.byEL[ns+"/"+name] {
		n := int(ev.Count)
		if n < 1 {
			n = 1
		}
		counts[ev.Reason] += n
		if t := eventTime(ev); t.After(last) {
			last = t
		}
	}
	return counts, last
}
