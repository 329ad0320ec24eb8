package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/entrypoint"
)

// podLogs opens one container's log through the API server (pods/log): the kubelet, or hookrun's node
// agent serving the kubelet API, answers it.
type podLogs func(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error)

func newPodLogs(cfg *rest.Config) (podLogs, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("pod log client: %w", err)
	}
	return func(ctx context.Context, namespace, pod, container string) (io.ReadCloser, error) {
		return cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	}, nil
}

// errLogResults marks results that cannot be read back from the results container's log for good.
var errLogResults = errors.New("results log")

// readLogResults reads the results and step results the results container printed to its log because
// no termination message had room for them (entrypoint.LogResultPrefix lines), and sets the TaskRun's
// results and steps' results again with them. An error wrapping errLogResults will not get better by
// retrying.
func (r *TaskRunReconciler) readLogResults(ctx context.Context, tr *pipelinev1.TaskRun, pod *corev1.Pod, out podOutcome) error {
	names := append(append([]string{}, out.LogResults...), out.LogStepResults...)
	if r.podLogs == nil {
		return fmt.Errorf("%w: results %q did not fit the termination message and the executor cannot read Pod logs", errLogResults, names)
	}
	rc, err := r.podLogs(ctx, pod.Namespace, pod.Name, ResultsContainer)
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
			return fmt.Errorf("%w: results %q did not fit the termination message and the log of %s/%s could not be read: %w",
				errLogResults, names, pod.Name, ResultsContainer, err)
		}
		return fmt.Errorf("read the log of %s/%s for results %q: %w", pod.Name, ResultsContainer, names, err)
	}
	defer rc.Close()
	vals, stepVals, err := entrypoint.ParseLogResults(rc, out.LogResults, out.LogStepResults)
	if err != nil {
		return fmt.Errorf("%w: %w", errLogResults, err)
	}
	raw := map[string]string{}
	for k, v := range out.raw {
		raw[k] = v
	}
	for k, v := range vals {
		if _, set := raw[k]; !set {
			raw[k] = v
		}
	}
	steps := map[string]map[string]string{}
	for step, m := range out.rawSteps {
		steps[step] = map[string]string{}
		for k, v := range m {
			steps[step][k] = v
		}
	}
	for ref, v := range stepVals {
		step, name, _ := strings.Cut(ref, "/")
		if steps[step] == nil {
			steps[step] = map[string]string{}
		}
		steps[step][name] = v
	}
	spec := tr.Status.TaskSpec
	for i := range tr.Status.Steps {
		st := &tr.Status.Steps[i]
		if m := steps[st.Name]; len(m) > 0 {
			st.Results = typedStepResults(m, stepDecl(spec, st.Name))
		}
	}
	resultsFromSteps(raw, steps, spec)
	tr.Status.Results = typedResults(raw, spec)
	return nil
}
