package listener

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/runctl"
	"github.com/hookrun/hookrun/templates"
)

// Run control (package runctl): [skip ci], path filters and concurrency groups, applied to a trigger
// after its interceptors. The executor enforces queue and cancel-in-progress for runs it starts; the
// listener drops deliveries of busy "skip" groups, cancels older runs of a cancel-in-progress group as
// soon as the newer run exists (so the answer can name them), and cancels a group's runs when a pull
// or merge request closes.

// preflight returns why the trigger skips this delivery ("" = it runs) and a note for the answer. When
// the path filters need the changed files of a pull/merge request whose payload lists none, it returns
// that request with needFiles set: the caller reads them from the forge (filterPullRequest).
func preflight(p *runctl.Policy, d delivery, decoded any) (skip, note string, pr runctl.PullRequest, needFiles bool) {
	if p == nil {
		return "", "", pr, false
	}
	if p.HonourSkipCI {
		if m, ok := runctl.SkipCI(d.Provider, d.Event, decoded); ok {
			return fmt.Sprintf("the head commit message says %s (annotate the trigger %s: ignore to run anyway)", m, runctl.AnnotationSkipCI), "", pr, false
		}
	}
	files, known := runctl.ChangedFiles(d.Provider, d.Event, decoded)
	if !known && (len(p.Paths) > 0 || len(p.PathsIgnore) > 0) {
		if pr, ok := runctl.PullRequestOf(d.Provider, d.Event, decoded); ok {
			return "", "", pr, true
		}
	}
	if run, why := p.FilterPaths(files, known); !run {
		return why, "", pr, false
	} else {
		return "", why, pr, false
	}
}

// filterPullRequest decides the path filters over the files pr changes, read through the forge API. A
// forge that cannot be asked leaves the filter unevaluated: the trigger runs and the note says why.
func (s *Server) filterPullRequest(ctx context.Context, ns string, p *runctl.Policy, pr runctl.PullRequest, objs []*unstructured.Unstructured) (skip, note string) {
	files, err := s.pullRequestFiles(ctx, ns, p, pr, objs)
	if err != nil {
		s.log.Warn("path filter not evaluated", "provider", pr.Provider, "repo", pr.Repo, "number", pr.Number, "error", err)
		return "", "path filter not evaluated: the pull/merge request's changed files could not be read: " + err.Error()
	}
	if run, why := p.FilterPaths(files, true); !run {
		return why, ""
	}
	return "", ""
}

// stampGroup evaluates the trigger's group key over the event and puts what the trigger creates in the
// group, queued at now. It returns the key ("" when the trigger has no group).
func stampGroup(ctx context.Context, p *runctl.Policy, d delivery, ev runctl.Event, now time.Time, opts *templates.Options) (string, error) {
	if !p.HasGroup() {
		return "", nil
	}
	key, err := p.Key(ctx, ev)
	if err != nil {
		return "", err
	}
	labels, annotations := p.Stamp(key, runctl.DefaultBranchPush(d.Provider, d.Event, ev.Body))
	maps := []struct{ dst, src map[string]string }{{opts.Labels, labels}, {opts.Annotations, annotations}}
	for _, m := range maps {
		for k, v := range m.src {
			m.dst[k] = v
		}
	}
	opts.Annotations[runctl.AnnotationQueuedAt] = now.UTC().Format(time.RFC3339Nano)
	return key, nil
}

// groupRuns lists the unfinished PipelineRuns of a group in ns.
func (s *Server) groupRuns(ctx context.Context, ns, key string) ([]pipelinev1.PipelineRun, error) {
	var list pipelinev1.PipelineRunList
	if err := s.client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{runctl.LabelGroup: runctl.GroupLabel(key)}); err != nil {
		return nil, fmt.Errorf("%w: list the runs of concurrency group %q: %v", errUnavailable, key, err)
	}
	out := list.Items[:0]
	for _, pr := range list.Items {
		if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && c.Status != corev1.ConditionUnknown {
			continue
		}
		if pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled || pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelledRunFinally {
			continue
		}
		out = append(out, pr)
	}
	return out, nil
}

// busyGroup names an unfinished run of the group in the namespaces the trigger creates runs in.
func (s *Server) busyGroup(ctx context.Context, key string, objs []*unstructured.Unstructured) (string, error) {
	rs := make([]Resource, len(objs))
	for i, o := range objs {
		rs[i] = resourceOf(o)
	}
	for _, ns := range resourceNamespaces(rs) {
		runs, err := s.groupRuns(ctx, ns, key)
		if err != nil {
			return "", err
		}
		if len(runs) > 0 {
			return runs[0].Namespace + "/" + runs[0].Name, nil
		}
	}
	return "", nil
}

// cancelGroup cancels the group's unfinished runs in ns except keep, leaving protected runs alone unless
// all is set, and runs queued after before when it is not zero (a newer delivery's runs, made while
// this one was in flight); by says who cancels (for the runs' conditions). It returns what it cancelled.
func (s *Server) cancelGroup(ctx context.Context, ns, key string, keep []Resource, all bool, before time.Time, by string) ([]string, error) {
	runs, err := s.groupRuns(ctx, ns, key)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range runs {
		pr := &runs[i]
		kept := slices.ContainsFunc(keep, func(r Resource) bool { return r.Namespace == pr.Namespace && r.Name == pr.Name })
		newer := !before.IsZero() && !runctl.QueuedAt(pr.Annotations, pr.CreationTimestamp.Time).Before(before)
		if kept || newer || (!all && pr.Annotations[runctl.AnnotationProtected] == "true") {
			continue
		}
		if err := s.client.Patch(ctx, pr, client.RawPatch(types.MergePatchType, runctl.CancelPatch(by))); err != nil && !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("cancel %s/%s of concurrency group %q: %w", pr.Namespace, pr.Name, key, err)
		}
		out = append(out, pr.Namespace+"/"+pr.Name)
	}
	return out, nil
}

// cancelOnClose cancels, when d closes or merges a pull/merge request, the unfinished runs of the
// trigger's group in its namespace, whatever the trigger's filters say about closed events.
func (s *Server) cancelOnClose(ctx context.Context, t *trigger, p *runctl.Policy, d delivery, decoded any, header http.Header) []string {
	if !p.HasGroup() || !runctl.Closed(d.Provider, d.Event, decoded) {
		return nil
	}
	key, err := p.Key(ctx, runctl.Event{Body: decoded, Header: header})
	if err != nil {
		s.log.Info("closed pull request: no concurrency group", "trigger", t.Namespace+"/"+t.Name, "error", err)
		return nil
	}
	cancelled, err := s.cancelGroup(ctx, t.Namespace, key, nil, true, time.Time{}, fmt.Sprintf("the close of its pull/merge request (delivery %s)", d.ID))
	if err != nil {
		s.log.Error("cancel on close", "trigger", t.Namespace+"/"+t.Name, "group", key, "error", err)
	}
	return cancelled
}

// cancelSuperseded cancels, after t created new runs in a cancel-in-progress group, the group's other
// unfinished runs.
func (s *Server) cancelSuperseded(ctx context.Context, p *runctl.Policy, key string, queuedAt time.Time, d delivery, res *TriggerResult) {
	if key == "" || p.Mode != runctl.CancelInProgress || res.Status != StatusCreated || res.Duplicate {
		return
	}
	var newRun string
	for _, r := range res.Resources {
		if r.Kind == "PipelineRun" {
			newRun = r.Name
			break
		}
	}
	by := fmt.Sprintf("the newer PipelineRun %q (delivery %s) of concurrency group %q", newRun, d.ID, key)
	for _, ns := range resourceNamespaces(res.Resources) {
		cancelled, err := s.cancelGroup(ctx, ns, key, res.Resources, false, queuedAt, by)
		res.Cancelled = append(res.Cancelled, cancelled...)
		if err != nil {
			s.log.Error("cancel superseded runs", "group", key, "error", err)
		}
	}
}

func resourceNamespaces(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		if r.Kind == "PipelineRun" && !slices.Contains(out, r.Namespace) {
			out = append(out, r.Namespace)
		}
	}
	return out
}

// group is the concurrency group a delivery's runs join ("" key: none) and when they were queued.
type group struct {
	key      string
	queuedAt time.Time
}

// createInGroup creates what t rendered, under its run control: a busy "skip" group skips it, and a
// cancel-in-progress group's older runs are cancelled once it exists. res carries what earlier stages
// said (runs a closed pull request cancelled); note, if the trigger says nothing else, is its reason.
func (s *Server) createInGroup(ctx context.Context, el *triggersv1beta1.EventListener, t *trigger, p *runctl.Policy, d delivery, g group,
	values map[string]string, objs []*unstructured.Unstructured, made *[]createdObj, res TriggerResult, note string) TriggerResult {
	if g.key != "" && p.Mode == runctl.Skip {
		busy, err := s.busyGroup(ctx, g.key, objs)
		if err != nil {
			res.Status, res.Reason, res.unavailable = StatusFailed, err.Error(), true
			return res
		}
		if busy != "" {
			res.Status, res.Reason = StatusSkipped, fmt.Sprintf("concurrency group %q is busy with %s (policy skip)", g.key, busy)
			return res
		}
	}
	cancelled := res.Cancelled
	res = s.create(ctx, el, t, d, values, objs, made)
	res.Cancelled = cancelled
	s.cancelSuperseded(ctx, p, g.key, g.queuedAt, d, &res)
	if note != "" && res.Reason == "" {
		res.Reason = note
	}
	return res
}
