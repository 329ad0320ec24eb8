package executor

import pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"

// A pipeline task with onError: continue (Tekton's rule): its TaskRuns carry this annotation, and a
// TaskRun whose Pod failed ends with reason FailureIgnored instead of Failed (still Succeeded=False), so
// $(tasks.T.reason) says the failure was ignored.
const (
	AnnotationPipelineTaskOnError = "pipeline.tekton.dev/pipeline-task-on-error"
	ReasonFailureIgnored          = "FailureIgnored"
)

// onErrorAnnotations adds the onError annotation to a pipeline task's TaskRun annotations when it asks to
// continue.
func onErrorAnnotations(pt *pipelinev1.PipelineTask, annotations map[string]string) map[string]string {
	if pt.OnError != "continue" {
		return annotations
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationPipelineTaskOnError] = "continue"
	return annotations
}

// podFailureReason is the reason a TaskRun whose Pod failed ends with.
func podFailureReason(tr *pipelinev1.TaskRun, reason string) string {
	if tr.Annotations[AnnotationPipelineTaskOnError] == "continue" {
		return ReasonFailureIgnored
	}
	return reason
}
