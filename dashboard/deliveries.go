package dashboard

import (
	"html/template"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

type listenerView struct {
	Namespace, Name string
	Counts          map[string]int
	Last            time.Time
	Triggers        int
}

type deliveryView struct {
	Reason, Type string
	Time         time.Time
	Count        int32
	Message      template.HTML // escaped text with links to the runs it names
	Runs         []runLink
	Class        string
}

type runLink struct{ Kind, Name string }

type deliveriesData struct {
	Listeners []listenerView
	Namespace string
	Name      string
	Items     []deliveryView
	Missing   bool // no such EventListener (Events are still shown)
}

func (s *Server) deliveriesIndex(w http.ResponseWriter, r *http.Request) {
	var list triggersv1beta1.EventListenerList
	if err := s.opts.Cache.List(r.Context(), &list); err != nil {
		http.Error(w, "could not list EventListeners: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var d deliveriesData
	for _, el := range list.Items {
		if !s.watched(el.Namespace) {
			continue
		}
		counts, last := s.events.stats(el.Namespace, el.Name)
		d.Listeners = append(d.Listeners, listenerView{Namespace: el.Namespace, Name: el.Name, Counts: counts, Last: last,
			Triggers: len(el.Spec.Triggers)})
	}
	sort.Slice(d.Listeners, func(i, j int) bool {
		a, b := d.Listeners[i], d.Listeners[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	s.render(w, r, "deliveries-index", pageData{Title: "Deliveries", Nav: "deliveries", Topic: "deliveries", Data: d})
}

func (s *Server) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if !s.watched(ns) {
		http.NotFound(w, r)
		return
	}
	d := deliveriesData{Namespace: ns, Name: name}
	var el triggersv1beta1.EventListener
	if err := s.opts.Cache.Get(r.Context(), clientKey(ns, name), &el); err != nil {
		d.Missing = true
	}
	for _, ev := range s.events.list(ns, name) {
		msg, runs := s.linkRuns(ns, ev.Message)
		d.Items = append(d.Items, deliveryView{Reason: ev.Reason, Type: ev.Type, Time: eventTime(ev), Count: ev.Count,
			Message: msg, Runs: runs, Class: reasonClass(ev.Reason, ev.Type)})
	}
	s.render(w, r, "deliveries", pageData{Title: "Deliveries · " + name, Nav: "deliveries", Topic: "deliveries/" + ns + "/" + name, Data: d})
}

// reasonClass colours a delivery by its outcome.
func reasonClass(reason, typ string) string {
	switch strings.ToLower(reason) {
	case "created":
		return stateSucceeded
	case "skipped":
		return "skipped"
	case "refused":
		return stateCancelled
	case "failed":
		return stateFailed
	}
	if typ == "Warning" {
		return stateFailed
	}
	return statePending
}

var nameToken = regexp.MustCompile(`[a-z0-9]([-a-z0-9.]*[a-z0-9])?`)

// linkRuns escapes an Event message and turns the names of runs that exist in ns into links.
func (s *Server) linkRuns(ns, msg string) (template.HTML, []runLink) {
	// Per-trigger outcomes are separated by "; ": one line each.
	msg = strings.ReplaceAll(msg, "; ", "\n")
	var b strings.Builder
	var runs []runLink
	last := 0
	for _, m := range nameToken.FindAllStringIndex(msg, -1) {
		tok := msg[m[0]:m[1]]
		kind, ok := s.store.exists(ns, tok)
		if !ok {
			continue
		}
		b.WriteString(template.HTMLEscapeString(msg[last:m[0]]))
		b.WriteString(`<a class="runlink" href="/runs/` + template.HTMLEscapeString(ns) + "/" + kind + "/" + template.HTMLEscapeString(tok) + `">` +
			template.HTMLEscapeString(tok) + "</a>")
		last = m[1]
		runs = append(runs, runLink{Kind: kind, Name: tok})
	}
	b.WriteString(template.HTMLEscapeString(msg[last:]))
	return template.HTML(b.String()), runs
}
