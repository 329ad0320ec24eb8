package executor

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/executor/subst"
)

// Custom tasks: a pipeline task whose taskRef (or embedded taskSpec) names another apiVersion/kind becomes a
// CustomRun, as on Tekton. Another controller, watching that kind, runs it and writes its status; the
// executor only creates it, reads its Succeeded condition and results, and cancels it (spec.status
// RunCancelled) when the PipelineRun is cancelled or times out. Retries are the custom task controller's
// (spec.retries, status.retriesStatus on the same CustomRun), as Tekton leaves them.

// customRunGV is the apiVersion of the CustomRuns the executor makes.
var customRunGV = pipelinev1beta1.GroupVersion.String()

// indexCustomRuns indexes CustomRuns by the PipelineRun that controls them, as TaskRuns are.
func indexCustomRuns(ctx context.Context, indexer client.FieldIndexer) error {
	err := indexer.IndexField(ctx, &pipelinev1beta1.CustomRun{}, ownerIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "PipelineRun" {
			return []string{ref.Name}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index customruns: %w", err)
	}
	return nil
}

// loadCustomRuns attaches the PipelineRun's CustomRuns (from the cache) to the custom tasks of st.
func (r *PipelineRunReconciler) loadCustomRuns(ctx context.Context, pr *pipelinev1.PipelineRun, st *runState) error {
	var list pipelinev1beta1.CustomRunList
	if err := r.client.List(ctx, &list, client.InNamespace(pr.Namespace), client.MatchingFields{ownerIndex: pr.Name}); err != nil {
		return fmt.Errorf("list customruns: %w", err)
	}
	for i := range list.Items {
		cr := &list.Items[i]
		if ref := metav1.GetControllerOf(cr); ref == nil || ref.UID != pr.UID {
			continue
		}
		if s := st.tasks[cr.Labels[LabelPipelineTask]]; s != nil && s.custom {
			s.cr = cr
			s.known = true
		}
	}
	return nil
}

// createCustomRun makes the CustomRun of a custom pipeline task (AlreadyExists: made before, adopted).
func (r *PipelineRunReconciler) createCustomRun(ctx context.Context, pr *pipelinev1.PipelineRun, s *ptState, vars subst.Vars, now time.Time) error {
	name := childName(pr.Name, s.pt.Name)
	cr := r.buildCustomRun(pr, s, name, vars, now)
	switch err := r.client.Create(ctx, cr); {
	case err == nil:
		s.cr = cr
	case apierrors.IsAlreadyExists(err):
	default:
		return fmt.Errorf("create customrun %s: %w", name, err)
	}
	s.known = true
	return nil
}

// buildCustomRun is the CustomRun named name for custom pipeline task s: Tekton's labels, the task's params
// substituted, its retries, the timeout left to it, the PipelineRun's service account and workspaces, and
// the reference (customRef) or embedded spec (customSpec).
func (r *PipelineRunReconciler) buildCustomRun(pr *pipelinev1.PipelineRun, s *ptState, name string, vars subst.Vars, now time.Time) *pipelinev1beta1.CustomRun {
	ptVars := subst.Vars{}
	ptVars.Merge(vars)
	ptVars.SetString("context.pipelineTask.retries", fmt.Sprint(s.pt.Retries))
	var sa pipelinev1.TaskRunSpec
	pt, _ := applyTaskRunSpecs(pr, s.pt, &sa)
	spec := pipelinev1beta1.CustomRunSpec{
		Retries:            pt.Retries,
		ServiceAccountName: sa.ServiceAccountName,
		Timeout:            &metav1.Duration{Duration: r.taskRunTimeout(pr, pt, s.finally, now)},
		Workspaces:         taskRunWorkspaces(pr, pt, ptVars),
	}
	for _, p := range pt.Params {
		spec.Params = append(spec.Params, pipelinev1.Param{Name: p.Name, Value: substituteParamValue(p.Value, ptVars)})
	}
	if pt.TaskRef != nil {
		ref := pt.TaskRef.DeepCopy()
		ref.Params = substituteRefParams(ref.Params, ptVars)
		spec.CustomRef = ref
	}
	if e := pt.TaskSpec; e != nil {
		spec.CustomSpec = &pipelinev1beta1.EmbeddedCustomRunSpec{
			APIVersion: e.APIVersion, Kind: e.Kind, Metadata: *e.Metadata.DeepCopy(), Spec: *e.Spec.DeepCopy(),
		}
	}
	return &pipelinev1beta1.CustomRun{
		TypeMeta: metav1.TypeMeta{APIVersion: customRunGV, Kind: "CustomRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pr.Namespace, Labels: taskRunLabels(pr, s), Annotations: propagatedAnnotations(pr.Annotations),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun", Name: pr.Name, UID: pr.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: spec,
	}
}

// customRunMessage is the statusMessage a cancelled CustomRun carries: the TaskRun message with its kind
// (Tekton's texts: "CustomRun cancelled as the PipelineRun it belongs to has been cancelled." …).
func customRunMessage(taskRunMsg string) string {
	return strings.Replace(taskRunMsg, "TaskRun", "CustomRun", 1)
}

// cancelCustomRun asks the custom task's controller to stop: spec.status RunCancelled and a message. The
// run's outcome is still the condition the controller writes.
func (r *PipelineRunReconciler) cancelCustomRun(ctx context.Context, pr *pipelinev1.PipelineRun, s *ptState, msg string) error {
	cr := s.cr
	if cr == nil {
		cr = &pipelinev1beta1.CustomRun{ObjectMeta: metav1.ObjectMeta{Namespace: pr.Namespace, Name: childName(pr.Name, s.pt.Name)}}
	}
	if cr.Spec.Status == pipelinev1beta1.CustomRunSpecStatusCancelled {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"status":%q,"statusMessage":%q}}`, pipelinev1beta1.CustomRunSpecStatusCancelled, customRunMessage(msg)))
	if err := r.client.Patch(ctx, cr.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cancel customrun %s: %w", cr.Name, err)
	}
	return nil
}

// customCond is the Succeeded condition of a custom task's CustomRun: nil until its controller writes one.
func (s *ptState) customCond() *pipelinev1.Condition {
	if s.cr == nil {
		return nil
	}
	return s.cr.Status.GetCondition(pipelinev1.ConditionSucceeded)
}

// isCancelledReason is a TaskRun's or CustomRun's cancelled reason.
func isCancelledReason(c *pipelinev1.Condition) bool {
	return c.Status == corev1.ConditionFalse && (c.Reason == ReasonTaskRunCancelled || c.Reason == pipelinev1beta1.CustomRunReasonCancelled)
}

// setCustomResults records a CustomRun's results (strings) as PREFIXresults.NAME.
func setCustomResults(v subst.Vars, prefix string, cr *pipelinev1beta1.CustomRun) {
	if cr == nil {
		return
	}
	for _, res := range cr.Status.Results {
		v.SetString(prefix+"results."+res.Name, res.Value)
	}
}

// childRef is the child reference of a started plain (not matrixed) task: its TaskRun or CustomRun.
func childRef(pr *pipelinev1.PipelineRun, s *ptState) pipelinev1.ChildStatusReference {
	ref := pipelinev1.ChildStatusReference{
		APIVersion: pipelinev1.GroupVersion.String(), Kind: "TaskRun",
		Name: childName(pr.Name, s.pt.Name), DisplayName: s.pt.DisplayName, PipelineTaskName: s.pt.Name, WhenExpressions: s.pt.When,
	}
	if s.custom {
		ref.APIVersion, ref.Kind = customRunGV, "CustomRun"
	}
	return ref
}

// checkCustomTask checks what hookrun can of a custom pipeline task (nothing for other tasks): the parts
// hookrun does not carry to a CustomRun are refused by name.
func checkCustomTask(field string, pt *pipelinev1.PipelineTask) error {
	if !pt.IsCustomTask() {
		return nil
	}
	if pt.TaskRef != nil && pt.TaskSpec != nil {
		return invalid(ReasonPipelineValidationFailed, "%s: a custom task takes taskRef or taskSpec, not both", field)
	}
	sub, apiVersion := ".taskRef", ""
	if pt.TaskRef != nil {
		apiVersion = pt.TaskRef.APIVersion
	} else {
		sub, apiVersion = ".taskSpec", pt.TaskSpec.APIVersion
	}
	if group, version, ok := strings.Cut(apiVersion, "/"); !ok || group == "" || version == "" || strings.Contains(version, "/") {
		return invalid(ReasonPipelineValidationFailed, "%s%s.apiVersion: %q must be group/version (a custom task's kind)", field, sub, apiVersion)
	}
	if ref := pt.TaskRef; ref != nil && (ref.Resolver != "" || ref.Bundle != "") {
		return invalid(ReasonPipelineValidationFailed, "%s.taskRef: a custom task reference (apiVersion %q kind %q) takes no resolver or bundle", field, ref.APIVersion, ref.Kind)
	}
	if isMatrixed(pt) {
		return invalid(ReasonPipelineValidationFailed, "%s.matrix: a matrix on a custom task (kind %q) is not supported by hookrun", field, customKind(pt))
	}
	return nil
}

func customKind(pt *pipelinev1.PipelineTask) string {
	if pt.TaskRef != nil {
		return pt.TaskRef.Kind
	}
	return pt.TaskSpec.Kind
}
