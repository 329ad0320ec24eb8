package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/runlogs"
)

// Options configure a Pruner.
type Options struct {
	// Archive receives every run's logs before the run is deleted (required).
	Archive *runlogs.Archive
	// Defaults apply where neither the EventListener nor the Namespace sets a limit.
	Defaults Limits
	// Namespace limits pruning to one namespace ("" = all).
	Namespace string
	// Interval between prunes; default 1 minute.
	Interval time.Duration
	// Now returns the time (tests); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Pruner deletes the runs that fall outside their limits, archiving their logs first. It runs on the
// leader only (controller-runtime Runnable).
type Pruner struct {
	reader client.Reader // uncached: runs, their TaskRuns and Pods, Namespaces, EventListeners
	client client.Client
	logs   *runlogs.Reader
	opts   Options
}

// New returns a Pruner reading with reader (uncached), deleting with c and reading logs with kube.
func New(reader client.Reader, c client.Client, kube kubernetes.Interface, opts Options) (*Pruner, error) {
	if !opts.Archive.Configured() {
		return nil, errors.New("retention: a log archive is required (runs are never deleted with their logs)")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Pruner{reader: reader, client: c, logs: &runlogs.Reader{Client: reader, Kube: kube}, opts: opts}, nil
}

// NeedLeaderElection: one executor replica prunes.
func (p *Pruner) NeedLeaderElection() bool { return true }

// Start prunes every Interval until ctx is done.
func (p *Pruner) Start(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if _, err := p.PruneOnce(ctx); err != nil && ctx.Err() == nil {
			p.opts.Logger.Error("retention", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scope is the runs one set of limits applies to: a namespace, or an EventListener's runs in it.
type scope struct{ namespace, eventListener string }

// PruneOnce archives and deletes what falls outside the limits now, and returns what it deleted
// (namespace/name).
func (p *Pruner) PruneOnce(ctx context.Context) ([]string, error) {
	var list pipelinev1.PipelineRunList
	opts := []client.ListOption{}
	if p.opts.Namespace != "" {
		opts = append(opts, client.InNamespace(p.opts.Namespace))
	}
	if err := p.reader.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("retention: list PipelineRuns: %w", err)
	}
	scopes := map[scope][]*pipelinev1.PipelineRun{}
	for i := range list.Items {
		pr := &list.Items[i]
		if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c == nil || c.Status == corev1.ConditionUnknown || pr.DeletionTimestamp != nil {
			continue
		}
		s := scope{namespace: pr.Namespace, eventListener: pr.Labels[triggersv1beta1.LabelEventListener]}
		scopes[s] = append(scopes[s], pr)
	}
	var deleted []string
	var errs []error
	for s, runs := range scopes {
		limits, err := p.limits(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pr := range expired(runs, limits, p.opts.Now()) {
			if err := p.remove(ctx, pr); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted = append(deleted, pr.Namespace+"/"+pr.Name)
		}
	}
	slices.Sort(deleted)
	return deleted, errors.Join(errs...)
}

// limits are the scope's: the executor's defaults, under the Namespace's annotations, under the
// EventListener's (in the same namespace).
func (p *Pruner) limits(ctx context.Context, s scope) (Limits, error) {
	l := p.opts.Defaults
	var ns corev1.Namespace
	if err := p.reader.Get(ctx, client.ObjectKey{Name: s.namespace}, &ns); err == nil {
		nl, err := Parse(ns.Annotations)
		if err != nil {
			return Limits{}, fmt.Errorf("namespace %s: %w", s.namespace, err)
		}
		l = l.Over(nl)
	} else if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return Limits{}, fmt.Errorf("retention: namespace %s: %w", s.namespace, err)
	}
	if s.eventListener != "" {
		var el triggersv1beta1.EventListener
		if err := p.reader.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.eventListener}, &el); err == nil {
			el, err := Parse(el.Annotations)
			if err != nil {
				return Limits{}, fmt.Errorf("EventListener %s/%s: %w", s.namespace, s.eventListener, err)
			}
			l = l.Over(el)
		} else if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return Limits{}, fmt.Errorf("retention: EventListener %s/%s: %w", s.namespace, s.eventListener, err)
		}
	}
	return l, nil
}

// expired returns the ended runs outside the limits: beyond the newest Succeeded successful or Failed
// failed ones (by completion), or completed longer than MaxAge ago.
func expired(runs []*pipelinev1.PipelineRun, l Limits, now time.Time) []*pipelinev1.PipelineRun {
	if !l.Set() {
		return nil
	}
	slices.SortFunc(runs, func(a, b *pipelinev1.PipelineRun) int { return completed(b).Compare(completed(a)) })
	var out []*pipelinev1.PipelineRun
	succeeded, failed := 0, 0
	for _, pr := range runs {
		ok := pr.Status.GetCondition(pipelinev1.ConditionSucceeded).Status == corev1.ConditionTrue
		var over bool
		if ok {
			succeeded++
			over = l.Succeeded != nil && succeeded > *l.Succeeded
		} else {
			failed++
			over = l.Failed != nil && failed > *l.Failed
		}
		if over || (l.MaxAge > 0 && now.Sub(completed(pr)) > l.MaxAge) {
			out = append(out, pr)
		}
	}
	return out
}

func completed(pr *pipelinev1.PipelineRun) time.Time {
	if pr.Status.CompletionTime != nil {
		return pr.Status.CompletionTime.Time
	}
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	return pr.CreationTimestamp.Time
}

// remove archives the run's logs, then deletes it (its TaskRuns and Pods go with it, by owner references).
func (p *Pruner) remove(ctx context.Context, pr *pipelinev1.PipelineRun) error {
	if err := p.opts.Archive.Save(ctx, p.logs, pr); err != nil {
		return fmt.Errorf("retention: keep %s/%s: %w", pr.Namespace, pr.Name, err)
	}
	err := p.client.Delete(ctx, pr, client.PropagationPolicy("Background"), client.Preconditions{UID: &pr.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("retention: delete %s/%s: %w", pr.Namespace, pr.Name, err)
	}
	p.opts.Logger.Info("retention: run archived and deleted", "namespace", pr.Namespace, "pipelinerun", pr.Name)
	return nil
}

// Setup adds a Pruner to mgr (leader only), reading runs uncached and logs with kube.
func Setup(mgr interface {
	GetAPIReader() client.Reader
	GetClient() client.Client
	Add(r manager.Runnable) error
}, kube kubernetes.Interface, opts Options) error {
	p, err := New(mgr.GetAPIReader(), mgr.GetClient(), kube, opts)
	if err != nil {
		return err
	}
	return mgr.Add(p)
}
