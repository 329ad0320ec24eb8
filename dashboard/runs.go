package dashboard

import (
	"net/http"
	"net/url"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"
)

type runsData struct {
	Runs       []summary
	Total      int
	From, To   int
	Page       int
	Prev, Next string // query strings, "" when there is none
	Namespaces []string
	Filter     struct{ Namespace, State, Kind, Label, Text string }
	States     []string
	Error      string
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := runsData{States: []string{stateRunning, statePending, stateSucceeded, stateFailed, stateCancelled}}
	d.Filter.Namespace, d.Filter.State, d.Filter.Kind = q.Get("namespace"), q.Get("status"), q.Get("kind")
	d.Filter.Label, d.Filter.Text = q.Get("label"), q.Get("q")
	f := filter{Namespace: d.Filter.Namespace, State: d.Filter.State, Text: d.Filter.Text}
	switch d.Filter.Kind {
	case kindPipelineRun, kindTaskRun:
		f.Kind = d.Filter.Kind
	default:
		d.Filter.Kind = ""
	}
	if d.Filter.Label != "" {
		sel, err := labels.Parse(d.Filter.Label)
		if err != nil {
			d.Error = "label selector: " + err.Error()
		} else {
			f.Selector = sel
		}
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	if d.Page < 1 {
		d.Page = 1
	}
	size := s.opts.PageSize
	d.Runs, d.Total, d.Namespaces = s.store.page(f, (d.Page-1)*size, size)
	if len(d.Runs) > 0 {
		d.From, d.To = (d.Page-1)*size+1, (d.Page-1)*size+len(d.Runs)
	}
	link := func(page int) string {
		v := url.Values{}
		for k, val := range map[string]string{"namespace": d.Filter.Namespace, "status": d.Filter.State,
			"kind": d.Filter.Kind, "label": d.Filter.Label, "q": d.Filter.Text} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		return "?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = link(d.Page - 1)
	}
	if d.To < d.Total {
		d.Next = link(d.Page + 1)
	}
	s.render(w, r, "runs", pageData{Title: "Runs", Nav: "runs", Topic: "runs", Data: d})
}
