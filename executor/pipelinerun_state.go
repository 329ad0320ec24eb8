package executor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// ptState is one pipeline task's state in a PipelineRun.
type ptState struct {
	pt      *pipelinev1.PipelineTask
	finally bool
	// tr is the TaskRun, if made and cached; known is true when it was made (even if not cached yet).
	tr    *pipelinev1.TaskRun
	known bool
	skip  *pipelinev1.SkippedTask
}

func (s *ptState) started() bool { return s.known || s.tr != nil }

func (s *ptState) cond() *pipelinev1.Condition {
	if s.tr == nil {
		return nil
	}
	return s.tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
}

func (s *ptState) done() bool {
	if s.skip != nil {
		return true
	}
	c := s.cond()
	return c != nil && c.Status != corev1.ConditionUnknown
}

func (s *ptState) succeeded() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionTrue
}

func (s *ptState) failed() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionFalse
}

func (s *ptState) cancelled() bool {
	c := s.cond()
	return c != nil && c.Status == corev1.ConditionFalse && c.Reason == ReasonTaskRunCancelled
}

// failureCounts is a failure the PipelineRun must react to (not onError: continue).
func (s *ptState) failureCounts() bool {
	return s.failed() && !s.cancelled() && s.pt.OnError != "continue"
}

func (s *ptState) running() bool { return s.started() && !s.done() }

// runState is a PipelineRun's tasks.
type runState struct {
	spec   *pipelinev1.PipelineSpec
	graph  *pipelineGraph
	tasks  map[string]*ptState
	dag    []*ptState
	final  []*ptState
	params map[string]pipelinev1.ParamValue
}

func (r *PipelineRunReconciler) loadState(ctx context.Context, pr *pipelinev1.PipelineRun) (*runState, error) {
	spec := pr.Status.PipelineSpec
	g, err := buildGraph(spec)
	if err != nil {
		return nil, err
	}
	params, err := pipelineParams(pr, spec)
	if err != nil {
		return nil, err
	}
	st := &runState{spec: spec, graph: g, tasks: map[string]*ptState{}, params: params}
	for i := range spec.Tasks {
		s := &ptState{pt: &spec.Tasks[i]}
		st.tasks[s.pt.Name] = s
		st.dag = append(st.dag, s)
	}
	for i := range spec.Finally {
		s := &ptState{pt: &spec.Finally[i], finally: true}
		st.tasks[s.pt.Name] = s
		st.final = append(st.final, s)
	}
	var list pipelinev1.TaskRunList
	if err := r.client.List(ctx, &list, client.InNamespace(pr.Namespace), client.MatchingFields{ownerIndex: pr.Name}); err != nil {
		return nil, fmt.Errorf("list taskruns: %w", err)
	}
	for i := range list.Items {
		tr := &list.Items[i]
		if ref := metav1.GetControllerOf(tr); ref == nil || ref.UID != pr.UID {
			continue
		}
		if s := st.tasks[tr.Labels[LabelPipelineTask]]; s != nil {
			tr.Normalize()
			s.tr = tr
			s.known = true
		}
	}
	for _, c := range pr.Status.ChildReferences {
		if s := st.tasks[c.PipelineTaskName]; s != nil {
			s.known = true
		}
	}
	for _, sk := range pr.Status.SkippedTasks {
		if s := st.tasks[sk.Name]; s != nil && !s.started() {
			sk := sk
			s.skip = &sk
		}
	}
	return st, nil
}

// vars are the variables pipeline tasks may use: params, context, finished tasks' results and statuses.
func (r *PipelineRunReconciler) vars(pr *pipelinev1.PipelineRun, st *runState) subst.Vars {
	v := subst.Vars{}
	for name, p := range st.params {
		setParam(v, name, p)
	}
	v.SetString("context.pipelineRun.name", pr.Name)
	v.SetString("context.pipelineRun.namespace", pr.Namespace)
	v.SetString("context.pipelineRun.uid", string(pr.UID))
	pipelineName := pr.Name
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		pipelineName = pr.Spec.PipelineRef.Name
	}
	v.SetString("context.pipeline.name", pipelineName)
	bound := map[string]bool{}
	for _, w := range pr.Spec.Workspaces {
		bound[w.Name] = true
	}
	for _, w := range st.spec.Workspaces {
		v.SetString("workspaces."+w.Name+".bound", fmt.Sprint(bound[w.Name]))
	}
	agg := "Succeeded"
	for _, s := range st.dag {
		pre := "tasks." + s.pt.Name + "."
		switch {
		case s.skip != nil:
			v.SetString(pre+"status", "None")
			if agg == "Succeeded" {
				agg = "Completed"
			}
		case s.succeeded():
			v.SetString(pre+"status", "Succeeded")
		case s.failed():
			v.SetString(pre+"status", "Failed")
			agg = "Failed"
		default:
			v.SetString(pre+"status", "None")
		}
		if c := s.cond(); c != nil {
			v.SetString(pre+"reason", c.Reason)
		}
		setResults(v, pre, s.tr)
	}
	v.SetString("tasks.status", agg)
	// Finally tasks' results are only for the Pipeline's own results ($(finally.T.results.R)).
	for _, s := range st.final {
		setResults(v, "finally."+s.pt.Name+".", s.tr)
	}
	return v
}

// setResults records a TaskRun's results as PREFIXresults.NAME (nothing when tr is nil).
func setResults(v subst.Vars, prefix string, tr *pipelinev1.TaskRun) {
	if tr == nil {
		return
	}
	for _, res := range tr.Status.Results {
		key := prefix + "results." + res.Name
		switch res.Value.Type {
		case pipelinev1.ParamTypeArray:
			v.Set(key, subst.Arr(res.Value.ArrayVal))
		case pipelinev1.ParamTypeObject:
			v.Set(key, subst.Obj(res.Value.ObjectVal))
		default:
			v.SetString(key, res.Value.StringVal)
		}
	}
}

// missingResults returns the result references of pt that cannot be resolved yet.
func missingResults(pt *pipelinev1.PipelineTask, v subst.Vars) []resultRef {
	refs, _ := pipelineTaskRefs(pt)
	var out []resultRef
	for _, ref := range refs {
		if _, ok := v.Lookup("tasks." + ref.Task + ".results." + ref.Result); !ok {
			out = append(out, ref)
		}
	}
	return out
}

func substituteParamValue(p pipelinev1.ParamValue, v subst.Resolver) pipelinev1.ParamValue {
	switch p.Type {
	case pipelinev1.ParamTypeArray:
		return pipelinev1.ParamValue{Type: p.Type, ArrayVal: subst.Strings(p.ArrayVal, v)}
	case pipelinev1.ParamTypeObject:
		o := map[string]string{}
		for k, x := range p.ObjectVal {
			o[k] = subst.String(x, v)
		}
		return pipelinev1.ParamValue{Type: p.Type, ObjectVal: o}
	}
	// A string that is exactly one array/object reference becomes that array/object.
	s := p.StringVal
	if strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1 {
		if val, ok := v.Lookup(s[2 : len(s)-1]); ok {
			switch val.Kind {
			case subst.KindArray:
				return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: val.Arr}
			case subst.KindObject:
				return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeObject, ObjectVal: val.Obj}
			}
		}
	}
	return pipelinev1.ParamValue{Type: pipelinev1.ParamTypeString, StringVal: subst.String(s, v)}
}

func substituteWhen(list pipelinev1.WhenExpressions, v subst.Resolver) pipelinev1.WhenExpressions {
	if list == nil {
		return nil
	}
	out := make(pipelinev1.WhenExpressions, len(list))
	for i, w := range list {
		out[i] = pipelinev1.WhenExpression{Input: subst.String(w.Input, v), Operator: w.Operator, Values: subst.Strings(w.Values, v)}
	}
	return out
}

// all is the run's DAG tasks then its finally tasks.
func (st *runState) all() []*ptState {
	return append(append([]*ptState{}, st.dag...), st.final...)
}

// dagDone reports whether every DAG task is done (finished or skipped).
func (st *runState) dagDone() bool {
	for _, s := range st.dag {
		if !s.done() {
			return false
		}
	}
	return true
}

// parentsDone reports whether all of s's parents are done, and whether one was skipped for a reason other
// than its when expressions (which skips s too).
func (st *runState) parentsDone(s *ptState) (ready, parentSkipped bool) {
	for _, p := range st.graph.parents[s.pt.Name] {
		ps := st.tasks[p]
		if !ps.done() {
			return false, false
		}
		if ps.skip != nil && ps.skip.Reason != SkipWhen {
			parentSkipped = true
		}
	}
	return true, parentSkipped
}
