package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// ActionHeader must be sent with every action request. Browsers do not send custom headers across
// origins without a CORS preflight (which the dashboard never grants), so a page elsewhere cannot make
// a visitor's browser cancel or re-run.
const ActionHeader = "X-Hookrun-Action"

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

type actionResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	// URL of the run to show next (the new run of a re-run).
	URL string `json:"url,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v actionResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// action cancels or re-runs a run: POST /actions/{cancel|rerun}/NS/KIND/NAME.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	act, ns, kind, name := r.PathValue("action"), r.PathValue("ns"), r.PathValue("kind"), r.PathValue("name")
	if !s.opts.AllowActions {
		writeJSON(w, http.StatusForbidden, actionResult{Message: "actions are disabled: start the dashboard with --allow-actions (and give it the RBAC of deploy/overlays/dashboard-actions)"})
		return
	}
	if r.Header.Get(ActionHeader) == "" || !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, actionResult{Message: "cross-site request refused"})
		return
	}
	if !s.watched(ns) {
		writeJSON(w, http.StatusNotFound, actionResult{Message: "namespace not watched"})
		return
	}
	ctx := r.Context()
	var err error
	res := actionResult{OK: true}
	switch {
	case act == "cancel" && kind == kindPipelineRun:
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		err = s.opts.Client.Patch(ctx, pr, client.RawPatch("application/merge-patch+json",
			[]byte(`{"spec":{"status":"`+pipelinev1.PipelineRunSpecStatusCancelled+`"}}`)))
		res.Message = "cancelling " + name
	case act == "cancel" && kind == kindTaskRun:
		tr := &pipelinev1.TaskRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		err = s.opts.Client.Patch(ctx, tr, client.RawPatch("application/merge-patch+json",
			[]byte(`{"spec":{"status":"`+pipelinev1.TaskRunSpecStatusCancelled+`","statusMessage":"cancelled from the hookrun dashboard"}}`)))
		res.Message = "cancelling " + name
	case act == "rerun" && kind == kindPipelineRun:
		var nr *pipelinev1.PipelineRun
		nr, err = s.rerun(r, ns, name)
		if err == nil {
			res.Message = "started " + nr.Name
			res.URL = "/runs/" + url.PathEscape(ns) + "/" + kindPipelineRun + "/" + url.PathEscape(nr.Name)
		}
	default:
		writeJSON(w, http.StatusBadRequest, actionResult{Message: fmt.Sprintf("unknown action %s on %s", act, kind)})
		return
	}
	switch {
	case apierrors.IsNotFound(err):
		writeJSON(w, http.StatusNotFound, actionResult{Message: name + " not found"})
	case apierrors.IsForbidden(err):
		writeJSON(w, http.StatusForbidden, actionResult{Message: "the dashboard's ServiceAccount may not do this: " + err.Error()})
	case err != nil:
		s.log.Error("action", "action", act, "namespace", ns, "name", name, "error", err)
		writeJSON(w, http.StatusInternalServerError, actionResult{Message: err.Error()})
	default:
		s.log.Info("action", "action", act, "namespace", ns, "name", name, "result", res.Message)
		writeJSON(w, http.StatusOK, res)
	}
}

// sameOrigin refuses requests whose Origin is another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// rerun creates a new PipelineRun with the spec of the old one (spec.status cleared), its labels and
// annotations, and LabelRerunOf naming the old one.
func (s *Server) rerun(r *http.Request, ns, name string) (*pipelinev1.PipelineRun, error) {
	var old pipelinev1.PipelineRun
	if err := s.opts.APIReader.Get(r.Context(), clientKey(ns, name), &old); err != nil {
		return nil, err
	}
	base := old.Name
	if orig := old.Labels[LabelRerunOf]; orig != "" {
		base = orig
	}
	// Names end up in label values (tekton.dev/pipelineRun): 63 characters at most.
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-.")
	}
	nr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, GenerateName: base + "-r-", Labels: map[string]string{}, Annotations: map[string]string{},
	}}
	for k, v := range old.Labels {
		nr.Labels[k] = v
	}
	for k, v := range old.Annotations {
		if k != "kubectl.kubernetes.io/last-applied-configuration" {
			nr.Annotations[k] = v
		}
	}
	nr.Labels[LabelRerunOf] = old.Name
	nr.Spec = *old.Spec.DeepCopy()
	nr.Spec.Status = ""
	if err := s.opts.Client.Create(r.Context(), nr); err != nil {
		return nil, fmt.Errorf("create the re-run of %s: %w", name, err)
	}
	return nr, nil
}
