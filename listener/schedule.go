package listener

import (
	"context"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/bindings"
	"github.com/hookrun/hookrun/runctl"
)

// Scheduled triggers (runctl.AnnotationSchedule). Every listener replica keeps the schedules of the
// triggers it serves and fires each tick; what a tick creates is named from the trigger and the tick
// (as a redelivery is), so the API server lets exactly one replica create it and the others meet
// AlreadyExists. A tick fires the trigger's bindings and template with runctl's synthetic payload, without
// its interceptors: the event comes from the listener itself, so there is nothing to authenticate or
// filter. Schedules are re-read from the cache every second, so an edit applies without a restart.

// HeaderScheduled is set on the synthetic request of a tick (bindings may read $(header.X-Hookrun-Schedule)).
const HeaderScheduled = "X-Hookrun-Schedule"

// scheduleLate is how late a tick may be noticed and still fire under the skip policy.
const scheduleLate = 10 * time.Second

func (s *Server) scheduleLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := map[string]time.Time{} // trigger namespace/name → latest tick handled
	for {
		if s.ready.Load() {
			s.scheduleOnce(ctx, last, time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scheduleOnce fires every scheduled trigger whose tick came since it last looked.
func (s *Server) scheduleOnce(ctx context.Context, last map[string]time.Time, now time.Time) {
	var els triggersv1beta1.EventListenerList
	if err := s.reader.List(ctx, &els, client.InNamespace(s.opts.Namespace)); err != nil {
		return
	}
	for i := range els.Items {
		el := &els.Items[i]
		if s.opts.AnyPath && el.Name != s.opts.EventListener {
			continue // an el-NAME Pod serves its own EventListener only
		}
		trigs, err := s.config.triggers(ctx, el)
		if err != nil {
			continue
		}
		for j := range trigs {
			t := &trigs[j]
			cp, err := s.config.compile(ctx, t)
			if err != nil || cp.schedule == nil {
				continue
			}
			id := el.Namespace + "/" + el.Name + "/" + t.Namespace + "/" + t.Name
			if tick := dueTick(cp.schedule, last, id, now); !tick.IsZero() {
				s.fireTick(ctx, el, t, cp, tick)
			}
		}
	}
}

// dueTick returns the tick to fire now for id, if any, and remembers it. A replica that sees a schedule
// for the first time fires nothing unless the schedule catches up once (then its latest tick of the last
// day, which another replica may already have fired: then nothing new is created).
func dueTick(sch *runctl.Schedule, last map[string]time.Time, id string, now time.Time) time.Time {
	prev, seen := last[id]
	if !seen {
		last[id] = now
		if sch.CatchUpOnce {
			return sch.Latest(now.Add(-24*time.Hour), now)
		}
		return time.Time{}
	}
	tick := sch.Latest(prev, now)
	if tick.IsZero() {
		return time.Time{}
	}
	last[id] = tick
	if !sch.CatchUpOnce && now.Sub(tick) > scheduleLate {
		return time.Time{} // missed while this replica was paused: skipped
	}
	return tick
}

// fireTick runs t's bindings and template for one tick and creates the result under names derived from
// the tick.
func (s *Server) fireTick(ctx context.Context, el *triggersv1beta1.EventListener, t *trigger, cp *compiled, tick time.Time) {
	stamp := tick.UTC().Format(time.RFC3339)
	d := delivery{Provider: "schedule", Event: "schedule", ID: "schedule-" + stamp, identity: "schedule:" + stamp}
	d.EventID = shortHash("event", el.Namespace+"/"+el.Name+"/"+t.Namespace+"/"+t.Name+"/"+d.identity)
	body := cp.schedule.Payload(t.Namespace, t.Name, tick)
	header := http.Header{HeaderScheduled: {stamp}}
	values, missing, err := cp.bindings.Resolve(&bindings.Event{Body: body, Header: header, Extensions: map[string]any{}, EventID: d.EventID, TriggerName: t.Name})
	if err != nil {
		s.log.Error("scheduled trigger: bindings", "trigger", t.Namespace+"/"+t.Name, "tick", stamp, "error", err)
		return
	}
	objs, err := cp.template.Render(values, missing, renderOptions(el, t, d))
	if err != nil {
		s.log.Error("scheduled trigger: template", "trigger", t.Namespace+"/"+t.Name, "tick", stamp, "error", err)
		return
	}
	var made []createdObj
	res := s.create(ctx, el, t, d, values, objs, &made)
	switch {
	case res.Status != StatusCreated:
		s.log.Error("scheduled trigger failed", "trigger", t.Namespace+"/"+t.Name, "tick", stamp, "reason", res.Reason)
		s.event(el, "Warning", "ScheduleFailed", "trigger %s/%s, tick %s: %s", t.Namespace, t.Name, stamp, res.Reason)
	case !res.Duplicate:
		s.log.Info("scheduled trigger fired", "trigger", t.Namespace+"/"+t.Name, "tick", stamp, "resources", len(res.Resources))
		s.event(el, "Normal", "Scheduled", "trigger %s/%s, tick %s: created %s", t.Namespace, t.Name, stamp, names(res.Resources))
	}
}

func names(rs []Resource) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += ", "
		}
		out += r.Kind + " " + r.Name
	}
	return out
}
