package dashboard

import (
	"errors"
	"fmt"
	"net/http"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/runlogs"
)

// archived serves, as text, a PipelineRun that retention deleted after archiving it: how it ended, then
// its logs as hookrun logs prints them. A run page whose run is gone redirects here.
func (s *Server) archived(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if s.opts.Archive == nil || !s.watched(ns) {
		http.NotFound(w, r)
		return
	}
	pr, err := s.opts.Archive.Run(r.Context(), ns, name)
	if errors.Is(err, runlogs.ErrNotArchived) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("archived run", "namespace", ns, "name", name, "error", err)
		http.Error(w, "could not read the archive", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	state := "unknown"
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil {
		state = fmt.Sprintf("%s: %s", c.Reason, c.Message)
	}
	fmt.Fprintf(w, "PipelineRun %s/%s (archived and deleted by retention)\n%s\n\n", ns, name, state)
	if err := s.opts.Archive.Copy(r.Context(), w, ns, name); err != nil {
		s.log.Error("archived logs", "namespace", ns, "name", name, "error", err)
	}
}
