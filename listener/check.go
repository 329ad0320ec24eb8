package listener

import (
	"context"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// checkLoop compiles every trigger of every EventListener in the served namespace whenever the
// configuration may have changed (every interval; compiled triggers are cached by version, so an unchanged
// configuration costs only cache reads). A trigger that does not compile is logged once per version and
// listed on /readyz, before any delivery needs it.
func (s *Server) checkLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	logged := map[string]bool{}
	for {
		if s.ready.Load() {
			s.checkOnce(ctx, logged)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) checkOnce(ctx context.Context, logged map[string]bool) {
	var els triggersv1beta1.EventListenerList
	if err := s.reader.List(ctx, &els, client.InNamespace(s.opts.Namespace)); err != nil {
		return
	}
	var allOpen []string
	for i := range els.Items {
		el := &els.Items[i]
		trigs, err := s.config.triggers(ctx, el)
		if err != nil {
			continue
		}
		var open []string // triggers that accept unauthenticated posts
		for j := range trigs {
			if authenticating(trigs[j].chain()) || strings.HasPrefix(trigs[j].key, "missing/") {
				continue
			}
			id := trigs[j].Namespace + "/" + trigs[j].Name
			open = append(open, id)
			if key := "open|" + trigs[j].key; !logged[key] {
				logged[key] = true
				what := "served: anyone who can reach /hooks can fire it (add a secretRef, or run with --require-auth)"
				if s.opts.RequireAuth {
					what = "not served (--require-auth)"
				}
				s.log.Warn("trigger accepts unauthenticated posts", "listener", el.Name, "trigger", id, "status", what)
				s.event(el, "Warning", "OpenTrigger", "trigger %s accepts unauthenticated posts: %s", id, what)
			}
		}
		allOpen = append(allOpen, open...)
		for j := range trigs {
			if _, err := s.config.compile(ctx, &trigs[j]); err != nil {
				key := trigs[j].key + "|" + err.Error()
				if !logged[key] {
					logged[key] = true
					s.log.Error("trigger configuration is invalid", "listener", el.Name, "trigger", trigs[j].Name,
						"namespace", trigs[j].Namespace, "error", err.Error())
					s.event(el, "Warning", "InvalidTrigger", "trigger %s/%s: %v", trigs[j].Namespace, trigs[j].Name, err)
				}
			}
		}
	}
	s.config.setOpen(allOpen)
}
