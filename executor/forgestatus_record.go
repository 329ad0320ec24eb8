package executor

// Forge status record: what was reported is kept in the run's annotations (forgestatus.go explains the
// three steps), and refusals are recorded on the run.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
)

// statusRecord is what the run's annotations say was reported.
type statusRecord struct {
	reported, failed []forge.State
	reporting        forge.State
}

func splitStates(v string) []forge.State {
	var out []forge.State
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, forge.State(s))
		}
	}
	return out
}

func joinStates(ss []forge.State) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func readRecord(ann map[string]string) statusRecord {
	return statusRecord{
		reported:  splitStates(ann[forge.AnnotationReported]),
		failed:    splitStates(ann[forge.AnnotationFailed]),
		reporting: forge.State(strings.TrimSpace(ann[forge.AnnotationReporting])),
	}
}

func (rec statusRecord) settled() []forge.State {
	return append(slices.Clone(rec.reported), rec.failed...)
}

// failed handles an error from the forge: permanent ones are recorded and not retried, the rest are
// retried after the backoff or what the forge asked, whichever is longer.
func (r *forgeStatusReconciler) failed(ctx context.Context, pr *pipelinev1.PipelineRun, s forge.State, key string, err error) (ctrl.Result, error) {
	if ctx.Err() != nil {
		return ctrl.Result{}, ctx.Err() // stopping: leave the record as it is
	}
	if forge.IsPermanent(err) {
		var fe *forge.Error
		if errors.As(err, &fe) && (fe.StatusCode == http.StatusUnauthorized || fe.StatusCode == http.StatusForbidden) {
			r.forgetToken(pr.Namespace, strings.TrimSpace(pr.Annotations[forge.AnnotationSecret]))
		}
		r.backoff.Reset(key)
		r.setRetry(client.ObjectKeyFromObject(pr), s, time.Time{})
		return ctrl.Result{}, r.giveUp(ctx, pr, s, err.Error())
	}
	now := time.Now()
	r.backoff.Next(key, now)
	wait := r.backoff.Get(key)
	if ra := forge.RetryAfter(err); ra > wait {
		wait = min(ra, r.fo.MaxWait)
	}
	r.setRetry(client.ObjectKeyFromObject(pr), s, now.Add(wait))
	msg := fmt.Sprintf("%s: %v; retrying in %s", s, err, wait.Round(time.Millisecond))
	r.log.Warn("forge status not reported, retrying", "namespace", pr.Namespace, "pipelineRun", pr.Name, "state", s,
		"error", err.Error(), "retryIn", wait)
	// Tell people why the commit shows nothing yet (once per distinct reason, not per attempt).
	if reason := fmt.Sprintf("%s: %v", s, err); !strings.HasPrefix(pr.Annotations[forge.AnnotationError], reason) {
		if perr := r.patch(ctx, pr, map[string]*string{forge.AnnotationError: ptr.To(msg)}); perr != nil && !apierrors.IsConflict(perr) {
			r.log.Warn("record forge status error", "pipelineRun", pr.Name, "error", perr.Error())
		}
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// giveUp records that state s (none: the annotations themselves are wrong) will not be reported, with an
// Event, once.
func (r *forgeStatusReconciler) giveUp(ctx context.Context, pr *pipelinev1.PipelineRun, s forge.State, reason string) error {
	msg := reason
	if s != "" {
		msg = fmt.Sprintf("%s: %s; not retried", s, reason)
	}
	rec := readRecord(pr.Annotations)
	if pr.Annotations[forge.AnnotationError] == msg && (s == "" || slices.Contains(rec.failed, s)) {
		return nil
	}
	set := map[string]*string{forge.AnnotationError: ptr.To(msg)}
	if s != "" {
		set[forge.AnnotationFailed] = ptr.To(joinStates(append(rec.failed, s)))
		if rec.reporting == s {
			set[forge.AnnotationReporting] = nil
		}
	}
	if err := r.patch(ctx, pr, set); err != nil {
		return err
	}
	r.log.Warn("forge status not reported", "namespace", pr.Namespace, "pipelineRun", pr.Name, "state", s, "reason", reason)
	r.event(ctx, pr, corev1.EventTypeWarning, ReasonStatusNotReported, "Commit status "+msg)
	return nil
}

// markReported records s as delivered; the delivery happened, so a conflict is retried on a fresh read.
func (r *forgeStatusReconciler) markReported(ctx context.Context, pr *pipelinev1.PipelineRun, s forge.State, key string) error {
	r.backoff.Reset(key)
	r.setRetry(client.ObjectKeyFromObject(pr), s, time.Time{})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rec := readRecord(pr.Annotations)
		set := map[string]*string{forge.AnnotationReporting: nil}
		if !slices.Contains(rec.reported, s) {
			set[forge.AnnotationReported] = ptr.To(joinStates(append(rec.reported, s)))
		}
		if _, ok := pr.Annotations[forge.AnnotationError]; ok {
			set[forge.AnnotationError] = nil
		}
		err := r.patch(ctx, pr, set)
		if apierrors.IsConflict(err) {
			if gerr := r.apiReader.Get(ctx, client.ObjectKeyFromObject(pr), pr); gerr != nil {
				return gerr
			}
		}
		return err
	})
	if err != nil {
		// Not a conflict (API server down, run deleted): the next attempt finds status-reporting set and asks
		// the forge before posting again.
		return fmt.Errorf("record reported status %s of %s/%s: %w", s, pr.Namespace, pr.Name, client.IgnoreNotFound(err))
	}
	return nil
}

// patch sets (nil: removes) annotations on pr with a merge patch carrying pr's resourceVersion, so it fails
// with a conflict if pr changed since it was read. pr is updated from the answer.
func (r *forgeStatusReconciler) patch(ctx context.Context, pr *pipelinev1.PipelineRun, set map[string]*string) error {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": pr.ResourceVersion, "annotations": set,
	}})
	if err != nil {
		return err
	}
	return r.client.Patch(ctx, pr, client.RawPatch(types.MergePatchType, data))
}

// event records an Event on the run (best effort).
func (r *forgeStatusReconciler) event(ctx context.Context, pr *pipelinev1.PipelineRun, typ, reason, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pr.Name, now.UnixNano()), Namespace: pr.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: pipelinev1.GroupVersion.String(), Kind: "PipelineRun",
			Namespace: pr.Namespace, Name: pr.Name, UID: pr.UID, ResourceVersion: pr.ResourceVersion},
		Reason: reason, Message: forge.Truncate(msg, 1024), Type: typ, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "hookrun-executor"},
	}
	if err := r.client.Create(ctx, ev); err != nil {
		r.log.Warn("record event", "pipelineRun", pr.Name, "reason", reason, "error", err.Error())
	}
}
