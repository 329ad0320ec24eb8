package executor

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// runQueue enforces --max-concurrent-runs: a run may start when fewer than limit runs are running and it
// is among the oldest waiting runs that fit. Runs it admitted are remembered until the cache shows them
// started, so two reconciles cannot both take the last slot.
type runQueue struct {
	limit int

	mu       sync.Mutex
	admitted map[types.NamespacedName]bool
}

func newRunQueue(limit int) *runQueue {
	return &runQueue{limit: limit, admitted: map[types.NamespacedName]bool{}}
}

func keyOf(pr *pipelinev1.PipelineRun) types.NamespacedName {
	return types.NamespacedName{Namespace: pr.Namespace, Name: pr.Name}
}

// waitingOrder sorts runs oldest first.
func waitingOrder(list []*pipelinev1.PipelineRun) {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i].CreationTimestamp, list[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		if list[i].Namespace != list[j].Namespace {
			return list[i].Namespace < list[j].Namespace
		}
		return list[i].Name < list[j].Name
	})
}

// classify splits cached runs into running (started, or admitted and not yet seen started) and waiting.
// Call with mu held.
func (q *runQueue) classify(all []pipelinev1.PipelineRun) (running int, waiting []*pipelinev1.PipelineRun) {
	seen := map[types.NamespacedName]bool{}
	for i := range all {
		pr := &all[i]
		k := keyOf(pr)
		seen[k] = true
		done := false
		if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
			done = true
		}
		switch {
		case done:
			delete(q.admitted, k)
		case pr.Status.StartTime != nil:
			delete(q.admitted, k)
			running++
		case q.admitted[k]:
			running++
		case pr.Spec.Status == pipelinev1.PipelineRunSpecStatusPending || isCancelSpec(pr.Spec.Status):
		default:
			waiting = append(waiting, pr)
		}
	}
	for k := range q.admitted {
		if !seen[k] {
			// Admitted but not in this list yet (cache lag): it still holds a slot.
			running++
		}
	}
	waitingOrder(waiting)
	return running, waiting
}

// admit reports whether pr may start now, and how many runs hold slots.
func (q *runQueue) admit(pr *pipelinev1.PipelineRun, all []pipelinev1.PipelineRun) (bool, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := keyOf(pr)
	if q.admitted[k] {
		return true, 0
	}
	running, waiting := q.classify(all)
	free := q.limit - running
	for i, w := range waiting {
		if i >= free {
			break
		}
		if keyOf(w) == k {
			q.admitted[k] = true
			return true, running
		}
	}
	return false, running
}

// forget drops a run that ended or vanished.
func (q *runQueue) forget(k types.NamespacedName) {
	q.mu.Lock()
	delete(q.admitted, k)
	q.mu.Unlock()
}

// wake returns the oldest waiting runs that fit in the free slots.
func (q *runQueue) wake(all []pipelinev1.PipelineRun) []reconcile.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	running, waiting := q.classify(all)
	var out []reconcile.Request
	for i := 0; i < q.limit-running && i < len(waiting); i++ {
		out = append(out, reconcile.Request{NamespacedName: keyOf(waiting[i])})
	}
	return out
}
