package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

type kv struct{ Key, Value string }

type stepView struct {
	Name, Container string
	State, Reason   string
	ExitCode        *int32
	Start, End      time.Time
	Results         []kv
}

type taskView struct {
	Name          string // pipeline task name ("" for a standalone TaskRun)
	TaskRun       string
	Finally       bool
	Skipped       bool
	State, Reason string
	Message       string
	Start, End    time.Time
	Pod           string
	Params        []kv
	Results       []kv
	Steps         []stepView
	After         []string // runAfter
	Uses          []string // tasks whose results or status it reads
}

type graphNode struct {
	Name, State, Reason, Anchor string
	Start, End                  time.Time
	Finally                     bool
}

type graphEdge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Result bool   `json:"result"`
}

type runData struct {
	summary
	Params, Results, Labels []kv
	Tasks                   []taskView
	Columns                 [][]graphNode
	Edges                   string // JSON for the graph's edges
	RerunOf                 string
	Follow                  string // "taskrun/step" whose log the page opens by default
	Done                    bool
	CanRerun                bool
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	ns, kind, name := r.PathValue("ns"), r.PathValue("kind"), r.PathValue("name")
	if !s.watched(ns) || (kind != kindPipelineRun && kind != kindTaskRun) {
		http.NotFound(w, r)
		return
	}
	var d *runData
	var err error
	if kind == kindPipelineRun {
		d, err = s.pipelineRunData(r, ns, name)
	} else {
		d, err = s.taskRunData(r, ns, name)
	}
	if apierrors.IsNotFound(err) && kind == kindPipelineRun && s.opts.Archive != nil && s.opts.Archive.Has(r.Context(), ns, name) {
		http.Redirect(w, r, "/archive/"+ns+"/"+name, http.StatusFound)
		return
	}
	if apierrors.IsNotFound(err) {
		http.Error(w, fmt.Sprintf("%s %s/%s not found (deleted, or not created yet)", strings.TrimSuffix(kind, "s"), ns, name), http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.Error("run page", "namespace", ns, "name", name, "error", err)
		http.Error(w, "could not read the run: "+err.Error(), http.StatusInternalServerError)
		return
	}
	d.Done = d.State != stateRunning && d.State != statePending
	d.Follow = follow(d.Tasks)
	s.render(w, r, "run", pageData{Title: name, Nav: "runs", Topic: "run/" + ns + "/" + kind + "/" + name, Data: d})
}

// follow picks the step whose log a run page shows first: a running step, else the last step that ran
// and failed, else the last step that ran.
func follow(tasks []taskView) string {
	var failed, last string
	for _, t := range tasks {
		for _, st := range t.Steps {
			id := t.TaskRun + "/" + st.Name
			switch st.State {
			case stateRunning:
				return id
			case stateFailed:
				failed = id
			}
			if st.State != statePending {
				last = id
			}
		}
	}
	if failed != "" {
		return failed
	}
	return last
}

func (s *Server) pipelineRunData(r *http.Request, ns, name string) (*runData, error) {
	ctx := r.Context()
	var pr pipelinev1.PipelineRun
	if err := s.opts.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pr); err != nil {
		return nil, err
	}
	d := &runData{summary: *pipelineRunSummary(&pr), RerunOf: pr.Labels[LabelRerunOf], CanRerun: true}
	d.Params = params(pr.Spec.Params)
	for _, res := range append(slices.Clone(pr.Status.Results), pr.Status.PipelineResults...) {
		d.Results = append(d.Results, kv{res.Name, valueText(res.Value)})
	}
	d.Labels = runLabels(pr.Labels, pr.Annotations)
	var trs pipelinev1.TaskRunList
	if err := s.opts.Cache.List(ctx, &trs, client.InNamespace(ns), client.MatchingLabels{labelPipelineRun: name}); err != nil {
		return nil, err
	}
	byTask := map[string]*pipelinev1.TaskRun{}
	for i := range trs.Items {
		tr := &trs.Items[i]
		t := tr.Labels[labelPipelineTask]
		// Retries and re-creations: the newest TaskRun of a pipeline task wins.
		if old, ok := byTask[t]; !ok || tr.CreationTimestamp.After(old.CreationTimestamp.Time) {
			byTask[t] = tr
		}
	}
	skipped := map[string]string{}
	for _, st := range pr.Status.SkippedTasks {
		skipped[st.Name] = st.Reason
	}
	spec := pr.Status.PipelineSpec
	if spec == nil {
		spec = pr.Spec.PipelineSpec
	}
	var pts []pipelinev1.PipelineTask
	finally := map[string]bool{}
	if spec != nil {
		pts = append(slices.Clone(spec.Tasks), spec.Finally...)
		for _, t := range spec.Finally {
			finally[t.Name] = true
		}
	}
	known := map[string]bool{}
	for _, pt := range pts {
		known[pt.Name] = true
	}
	// TaskRuns whose task the spec does not name (no spec yet): shown after the rest, by name.
	var extra []string
	for t := range byTask {
		if !known[t] {
			extra = append(extra, t)
		}
	}
	sort.Strings(extra)
	for _, t := range extra {
		pts = append(pts, pipelinev1.PipelineTask{Name: t})
	}
	for _, pt := range pts {
		tv := taskView{Name: pt.Name, Finally: finally[pt.Name], After: pt.RunAfter, Uses: resultDeps(&pt)}
		if tr := byTask[pt.Name]; tr != nil {
			var embedded *pipelinev1.TaskSpec
			if pt.TaskSpec != nil {
				embedded = &pt.TaskSpec.TaskSpec
			}
			fillTask(&tv, tr, embedded)
		} else if reason, ok := skipped[pt.Name]; ok {
			tv.Skipped, tv.State, tv.Reason = true, "skipped", reason
		} else {
			tv.State = statePending
			if d.State == stateFailed || d.State == stateCancelled || d.State == stateSucceeded {
				tv.State, tv.Reason = "skipped", "Not run"
			}
		}
		d.Tasks = append(d.Tasks, tv)
	}
	d.Columns, d.Edges = layout(d.Tasks)
	return d, nil
}

func (s *Server) taskRunData(r *http.Request, ns, name string) (*runData, error) {
	var tr pipelinev1.TaskRun
	if err := s.opts.APIReader.Get(r.Context(), client.ObjectKey{Namespace: ns, Name: name}, &tr); err != nil {
		return nil, err
	}
	d := &runData{summary: *taskRunSummary(&tr)}
	d.Params = params(tr.Spec.Params)
	d.Labels = runLabels(tr.Labels, tr.Annotations)
	tv := taskView{Name: tr.Labels[labelPipelineTask]}
	fillTask(&tv, &tr, nil)
	d.Results = tv.Results
	d.Tasks = []taskView{tv}
	return d, nil
}

// fillTask fills tv from the TaskRun; spec (if known: the pipeline task's embedded Task) lists the
// steps that have not started, when the TaskRun read from the cache carries no spec.
func fillTask(tv *taskView, tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec) {
	sm := taskRunSummary(tr)
	tv.TaskRun, tv.State, tv.Reason, tv.Message, tv.Start, tv.End = tr.Name, sm.State, sm.Reason, sm.Message, sm.Start, sm.End
	tv.Pod = tr.Status.PodName
	tv.Params = params(tr.Spec.Params)
	for _, res := range append(slices.Clone(tr.Status.Results), tr.Status.TaskResults...) {
		tv.Results = append(tv.Results, kv{res.Name, valueText(res.Value)})
	}
	seen := map[string]bool{}
	for _, st := range tr.Status.Steps {
		seen[st.Name] = true
		tv.Steps = append(tv.Steps, stepOf(st))
	}
	// Steps not started yet are not in the status: list them from the spec.
	if ts := taskSpecOf(tr); ts != nil {
		spec = ts
	}
	if spec != nil {
		for _, st := range spec.Steps {
			if !seen[st.Name] {
				tv.Steps = append(tv.Steps, stepView{Name: st.Name, Container: "step-" + st.Name, State: statePending})
			}
		}
	}
	// A TaskRun that ended (cancelled, timed out) may leave its last step status as it was: a step
	// cannot still be running or waiting in a finished TaskRun.
	if tv.State != stateRunning && tv.State != statePending {
		for i := range tv.Steps {
			if st := &tv.Steps[i]; st.State == stateRunning || st.State == statePending {
				st.State = "skipped"
				if tv.State == stateCancelled || tv.State == stateFailed {
					st.State = tv.State
				}
				if st.Reason == "" {
					st.Reason = tv.Reason
				}
			}
		}
	}
}

func stepOf(st pipelinev1.StepState) stepView {
	v := stepView{Name: st.Name, Container: st.Container, State: statePending}
	if v.Container == "" {
		v.Container = "step-" + st.Name
	}
	switch {
	case st.Terminated != nil:
		t := st.Terminated
		code := t.ExitCode
		v.ExitCode, v.Start, v.End, v.Reason = &code, t.StartedAt.Time, t.FinishedAt.Time, t.Reason
		v.State = stateSucceeded
		if code != 0 {
			v.State = stateFailed
		}
		if t.Reason == "TaskRunCancelled" || t.Reason == "Cancelled" {
			v.State = stateCancelled
		}
	case st.Running != nil:
		v.State, v.Start = stateRunning, st.Running.StartedAt.Time
	case st.Waiting != nil:
		v.Reason = st.Waiting.Reason
	}
	if st.TerminationReason != "" {
		v.Reason = st.TerminationReason
	}
	for _, res := range st.Results {
		v.Results = append(v.Results, kv{res.Name, valueText(res.Value)})
	}
	return v
}

func valueText(v pipelinev1.ParamValue) string {
	switch {
	case v.ArrayVal != nil:
		b, _ := json.Marshal(v.ArrayVal)
		return string(b)
	case v.ObjectVal != nil:
		b, _ := json.Marshal(v.ObjectVal)
		return string(b)
	}
	return v.StringVal
}

func params(ps pipelinev1.Params) []kv {
	out := make([]kv, 0, len(ps))
	for _, p := range ps {
		out = append(out, kv{p.Name, valueText(p.Value)})
	}
	return out
}

// runLabels are the labels and annotations worth showing: where the run came from.
func runLabels(ls, as map[string]string) []kv {
	var out []kv
	for _, m := range []map[string]string{ls, as} {
		for k, v := range m {
			if strings.HasPrefix(k, "triggers.tekton.dev/") || strings.HasPrefix(k, "hookrun.dev/") || k == labelPipeline {
				out = append(out, kv{k, v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return slices.CompactFunc(out, func(a, b kv) bool { return a == b })
}

var taskRef = regexp.MustCompile(`\$\(\s*tasks\.([A-Za-z0-9_-]+)\.(results|status)\b`)

// resultDeps names the tasks whose results (or status) a pipeline task reads in its params or when.
func resultDeps(pt *pipelinev1.PipelineTask) []string {
	b, _ := json.Marshal(struct {
		P pipelinev1.Params          `json:"p"`
		W pipelinev1.WhenExpressions `json:"w"`
		M *pipelinev1.Matrix         `json:"m"`
	}{pt.Params, pt.When, pt.Matrix})
	var out []string
	for _, m := range taskRef.FindAllSubmatch(b, -1) {
		if t := string(m[1]); !slices.Contains(out, t) && t != pt.Name {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// layout places tasks in columns by depth (longest path from a task without dependencies); finally
// tasks go in a last column. Edges are runAfter and result dependencies.
func layout(tasks []taskView) ([][]graphNode, string) {
	idx := map[string]int{}
	for i, t := range tasks {
		idx[t.Name] = i
	}
	depth := make([]int, len(tasks))
	state := make([]int, len(tasks)) // 0 unvisited, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return 0 // cycle: validation reports it; draw what we can
		case 2:
			return depth[i]
		}
		state[i] = 1
		d := 0
		for _, dep := range append(slices.Clone(tasks[i].After), tasks[i].Uses...) {
			if j, ok := idx[dep]; ok && !tasks[j].Finally {
				d = max(d, visit(j)+1)
			}
		}
		state[i], depth[i] = 2, d
		return d
	}
	maxDepth := -1
	for i := range tasks {
		if !tasks[i].Finally {
			maxDepth = max(maxDepth, visit(i))
		}
	}
	var cols [][]graphNode
	var edges []graphEdge
	for i, t := range tasks {
		c := depth[i]
		if t.Finally {
			c = maxDepth + 1
		}
		for len(cols) <= c {
			cols = append(cols, nil)
		}
		cols[c] = append(cols[c], graphNode{Name: t.Name, State: t.State, Reason: t.Reason, Anchor: "task-" + t.Name,
			Start: t.Start, End: t.End, Finally: t.Finally})
		for _, a := range t.After {
			if _, ok := idx[a]; ok {
				edges = append(edges, graphEdge{From: a, To: t.Name})
			}
		}
		for _, u := range t.Uses {
			if _, ok := idx[u]; ok && !slices.Contains(t.After, u) {
				edges = append(edges, graphEdge{From: u, To: t.Name, Result: true})
			}
		}
	}
	b, _ := json.Marshal(edges)
	if edges == nil {
		b = []byte("[]")
	}
	return cols, string(b)
}

var errNoStep = errors.New("no such step")

// findStep locates a step's Pod and container in a TaskRun.
func findStep(tr *pipelinev1.TaskRun, step string) (pod, container string, running bool, err error) {
	for _, st := range tr.Status.Steps {
		if st.Name == step {
			c := st.Container
			if c == "" {
				c = "step-" + st.Name
			}
			return tr.Status.PodName, c, st.Running != nil || (st.Terminated == nil && st.Waiting == nil), nil
		}
	}
	if spec := taskSpecOf(tr); spec != nil {
		for _, st := range spec.Steps {
			if st.Name == step {
				return tr.Status.PodName, "step-" + st.Name, false, nil
			}
		}
	}
	return "", "", false, fmt.Errorf("%w %q in TaskRun %s", errNoStep, step, tr.Name)
}

// taskSpecOf is the TaskRun's resolved Task spec, else its embedded one (the dashboard's cache drops the
// status copy of an embedded spec).
func taskSpecOf(tr *pipelinev1.TaskRun) *pipelinev1.TaskSpec {
	if tr.Status.TaskSpec != nil {
		return tr.Status.TaskSpec
	}
	return tr.Spec.TaskSpec
}
