package executor

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
)

// TaskRun condition reasons (Tekton's).
const (
	ReasonPending          = "Pending"
	ReasonRunning          = "Running"
	ReasonSucceeded        = "Succeeded"
	ReasonFailed           = "Failed"
	ReasonTaskRunTimeout   = "TaskRunTimeout"
	ReasonTaskRunCancelled = "TaskRunCancelled"
	ReasonValidationFailed = "TaskRunValidationFailed"
	// ReasonInvalidParamValue: a param value outside its declared enum (Tekton's reason).
	ReasonInvalidParamValue = "InvalidParamValue"
	ReasonCouldntGetTask    = "CouldntGetTask"
	ReasonResolutionFailed  = "TaskRunResolutionFailed"
	ReasonPodCreateFailed   = "PodCreationFailed"
	ReasonImagePullFailed   = "TaskRunImagePullFailed"
	// Step termination reasons.
	StepReasonCompleted = "Completed"
	StepReasonError     = "Error"
	StepReasonSkipped   = "Skipped"
)

// podOutcome is what a Pod says about its TaskRun.
type podOutcome struct {
	Steps    []pipelinev1.StepState
	Sidecars []pipelinev1.SidecarState
	Results  []pipelinev1.TaskRunResult
	// Artifacts are the steps' artifacts, merged (artifacts.go).
	Artifacts *pipelinev1.Artifacts
	// Done and Failed describe the attempt; Reason/Message feed the Succeeded condition.
	Done, Failed bool
	Reason       string
	Message      string
	Running      bool
	// LogResults are results the results container printed to its log (they did not fit its termination
	// message); raw holds the results read so far, as strings.
	LogResults     []string
	LogStepResults []string // STEP/RESULT
	raw            map[string]string
	rawSteps       map[string]map[string]string
}

// readPod interprets a Pod's status. spec is the resolved Task (for result types).
func readPod(pod *corev1.Pod, spec *pipelinev1.TaskSpec) podOutcome {
	var out podOutcome
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range pod.Status.InitContainerStatuses {
		statuses[s.Name] = s
	}
	for _, s := range pod.Status.ContainerStatuses {
		statuses[s.Name] = s
	}
	results := map[string]string{}
	stepResults := map[string]map[string]string{} // step name → its step results
	var firstFailure string
	stopped := false // a step failed: later steps never run
	// Steps are init containers (sequential layout) or the first regular containers (doc.go).
	for _, c := range slices.Concat(pod.Spec.InitContainers, regularPrepare(pod), regularSteps(pod)) {
		s, have := statuses[c.Name]
		switch {
		case isSidecarContainer(c.Name):
			out.Sidecars = append(out.Sidecars, pipelinev1.SidecarState{
				ContainerState: s.State, Name: sidecarStatusName(c.Name), Container: c.Name, ImageID: s.ImageID,
			})
			continue
		case !strings.HasPrefix(c.Name, StepPrefix):
			if have && s.State.Terminated != nil && s.State.Terminated.ExitCode != 0 && firstFailure == "" {
				firstFailure = fmt.Sprintf("%q exited with code %d: %s", c.Name, s.State.Terminated.ExitCode, strings.TrimSpace(s.State.Terminated.Message))
				stopped = true
			}
			continue
		}
		st := pipelinev1.StepState{Name: strings.TrimPrefix(c.Name, StepPrefix), Container: c.Name, ImageID: s.ImageID}
		if have {
			st.ContainerState = *s.State.DeepCopy()
		}
		if t := st.Terminated; t != nil {
			msg := readStepMessage(&st, spec)
			out.addArtifacts(&st, msg)
			for k, v := range msg.Results {
				results[k] = v
			}
			stepResults[st.Name] = msg.StepResults
			if t.ExitCode != 0 && st.TerminationReason != entrypoint.ReasonContinued && firstFailure == "" {
				firstFailure = fmt.Sprintf("%q exited with code %d", c.Name, t.ExitCode)
				if msg.Message != "" {
					firstFailure += ": " + msg.Message
				}
				stopped = true
				out.Steps = append(out.Steps, st)
				continue
			}
		} else if stopped || pod.Status.Phase == corev1.PodFailed {
			// Never ran: an earlier step failed (or the Pod was stopped) and the kubelet stops there.
			st.ContainerState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 1, Reason: StepReasonSkipped, Message: "not run: an earlier step failed or the Pod was stopped",
			}}
			st.TerminationReason = StepReasonSkipped
		} else if w := st.Waiting; w != nil {
			switch w.Reason {
			// ErrImagePull is the first, possibly transient, failure; ImagePullBackOff means the kubelet has
			// retried and given up for now: fail like Tekton (TaskRunImagePullFailed) rather than wait out
			// the timeout.
			case "InvalidImageName", "ErrImageNeverPull", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError":
				out.Done, out.Failed = true, true
				out.Reason = ReasonFailed
				if strings.Contains(w.Reason, "Image") {
					out.Reason = ReasonImagePullFailed
				}
				out.Message = fmt.Sprintf("%q: %s: %s", c.Name, w.Reason, w.Message)
			}
		}
		out.Steps = append(out.Steps, st)
	}
	if f := out.readRegularContainers(pod, statuses, results); firstFailure == "" {
		firstFailure = f
	}
	resultsFromSteps(results, stepResults, spec)
	out.Results = typedResults(results, spec)
	out.raw, out.rawSteps = results, stepResults

	out.applyPhase(pod, firstFailure)
	return out
}

// regularPrepare is prepare when it is a regular container (pod_parallel.go): read before the steps, so
// that its failure is the one reported.
func regularPrepare(pod *corev1.Pod) []corev1.Container {
	if len(pod.Spec.Containers) > 0 && pod.Spec.Containers[0].Name == PrepareContainer {
		return pod.Spec.Containers[:1]
	}
	return nil
}

// regularSteps are the steps among the Pod's regular containers.
func regularSteps(pod *corev1.Pod) []corev1.Container {
	var out []corev1.Container
	for _, c := range pod.Spec.Containers {
		if strings.HasPrefix(c.Name, StepPrefix) {
			out = append(out, c)
		}
	}
	return out
}

// readRegularContainers reads the results container's message: its results go into results, the names
// it left in its log into out. It returns a description of the first regular container that failed.
func (out *podOutcome) readRegularContainers(pod *corev1.Pod, statuses map[string]corev1.ContainerStatus, results map[string]string) string {
	failure := ""
	for _, c := range pod.Spec.Containers {
		if strings.HasPrefix(c.Name, StepPrefix) || c.Name == PrepareContainer {
			continue // read with the steps
		}
		s, ok := statuses[c.Name]
		if !ok || s.State.Terminated == nil {
			continue
		}
		msg, ours := entrypoint.ParseMessage(s.State.Terminated.Message)
		if ours {
			for k, v := range msg.Results {
				results[k] = v
			}
			out.LogResults = append(out.LogResults, msg.LogResults...)
			out.LogStepResults = append(out.LogStepResults, msg.LogStepResults...)
		}
		if s.State.Terminated.ExitCode != 0 && failure == "" {
			failure = fmt.Sprintf("%q exited with code %d", c.Name, s.State.Terminated.ExitCode)
			if ours && msg.Message != "" {
				failure += ": " + msg.Message
			}
		}
	}
	return failure
}

// readStepMessage reads a terminated step's message (when it is one of the wrapper's): the step's real
// exit code, its termination reason and its step results go into st; the message is returned for its
// results.
func readStepMessage(st *pipelinev1.StepState, spec *pipelinev1.TaskSpec) entrypoint.Message {
	t := st.Terminated
	msg, ours := entrypoint.ParseMessage(t.Message)
	if ours {
		st.Results = typedStepResults(msg.StepResults, stepDecl(spec, st.Name))
		t.Message = msg.Message
		switch {
		case msg.ExitCode != 0 && t.ExitCode == 0:
			t.ExitCode = int32(msg.ExitCode)
			st.TerminationReason = entrypoint.ReasonContinued
		case msg.Reason == entrypoint.ReasonTimeout:
			st.TerminationReason = entrypoint.ReasonTimeout
		case msg.Reason != "":
			st.TerminationReason = msg.Reason
		}
	}
	if st.TerminationReason == "" {
		if t.ExitCode == 0 {
			st.TerminationReason = StepReasonCompleted
		} else {
			st.TerminationReason = StepReasonError
		}
	}
	return msg
}

// applyPhase sets Done/Failed/Running and the condition's reason and message from the Pod's phase.
// firstFailure describes the first container that failed, if one did.
func (out *podOutcome) applyPhase(pod *corev1.Pod, firstFailure string) {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		out.Done = true
		out.Reason = ReasonSucceeded
		out.Message = "All Steps have completed executing"
	case corev1.PodFailed:
		out.Done, out.Failed = true, true
		out.Reason = ReasonFailed
		switch {
		case pod.Status.Reason == "DeadlineExceeded":
			out.Reason = ReasonTaskRunTimeout
			out.Message = "the Pod exceeded its activeDeadlineSeconds"
		case firstFailure != "":
			out.Message = firstFailure
		case pod.Status.Message != "":
			out.Message = pod.Status.Message
		default:
			out.Message = "the Pod failed"
		}
	case corev1.PodRunning:
		if !out.Done {
			out.Running = true
			out.Reason = ReasonRunning
			out.Message = "Not all Steps in the Task have finished executing"
		}
	default:
		if !out.Done {
			out.Reason = ReasonPending
			out.Message = "Pending"
			if pod.Status.Message != "" {
				out.Message = pod.Status.Message
			}
			for _, st := range out.Steps {
				if st.Running != nil || st.Terminated != nil {
					out.Running = true
					out.Reason = ReasonRunning
					out.Message = "Not all Steps in the Task have finished executing"
					break
				}
			}
		}
	}
}

// typedResults turns result strings into the Task's declared result types, in declaration order; results
// the Task does not declare are dropped.
func typedResults(raw map[string]string, spec *pipelinev1.TaskSpec) []pipelinev1.TaskRunResult {
	if spec == nil || len(raw) == 0 {
		return nil
	}
	var out []pipelinev1.TaskRunResult
	for _, d := range spec.Results {
		v, ok := raw[d.Name]
		if !ok {
			continue
		}
		r := pipelinev1.TaskRunResult{Name: d.Name, Type: d.Type}
		if r.Type == "" {
			r.Type = "string"
		}
		switch d.Type {
		case "array", "object":
			if err := json.Unmarshal([]byte(v), &r.Value); err != nil || string(r.Value.Type) != string(d.Type) {
				r.Value = *pipelinev1.NewStringValue(v)
			}
		default:
			r.Value = *pipelinev1.NewStringValue(v)
		}
		out = append(out, r)
	}
	return out
}

// taskRunDone reports whether a TaskRun has finished.
func taskRunDone(tr *pipelinev1.TaskRun) bool {
	c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

// setSucceeded sets the Succeeded condition.
func setSucceeded(s *pipelinev1.Status, status corev1.ConditionStatus, reason, message string, now metav1.Time) {
	s.SetCondition(pipelinev1.Condition{
		Type: pipelinev1.ConditionSucceeded, Status: status, Reason: reason, Message: message, LastTransitionTime: now,
	})
}

// stepDecl returns the declared results of the step whose status name is name.
func stepDecl(spec *pipelinev1.TaskSpec, name string) []pipelinev1.StepResult {
	if spec == nil {
		return nil
	}
	for i, st := range spec.Steps {
		if stepContainerName(st.Name, i) == StepPrefix+name {
			return st.Results
		}
	}
	return nil
}

// typedStepResults turns a step's reported results into status.steps[].results, in declaration order.
func typedStepResults(raw map[string]string, decl []pipelinev1.StepResult) []pipelinev1.TaskRunResult {
	if len(raw) == 0 {
		return nil
	}
	spec := &pipelinev1.TaskSpec{}
	for _, d := range decl {
		spec.Results = append(spec.Results, pipelinev1.TaskResult{Name: d.Name, Type: d.Type})
	}
	return typedResults(raw, spec)
}

// resultsFromSteps sets the Task results declared with value: $(steps.S.results.R) from the step results
// the steps reported (Tekton's way of turning step results into task results).
func resultsFromSteps(results map[string]string, steps map[string]map[string]string, spec *pipelinev1.TaskSpec) {
	if spec == nil {
		return
	}
	for _, d := range spec.Results {
		if d.Value == nil || d.Value.StringVal == "" {
			continue
		}
		m := stepResultRef.FindStringSubmatch(d.Value.StringVal)
		if m == nil || m[0] != strings.TrimSpace(d.Value.StringVal) {
			continue
		}
		for _, step := range []string{m[1], strings.TrimPrefix(m[1], "step-")} {
			if v, ok := steps[step][m[2]]; ok {
				results[d.Name] = v
				break
			}
		}
	}
}
