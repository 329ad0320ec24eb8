// Package elstatus writes the status of the EventListeners a shared hookrun listener serves, as Tekton's
// controller does for its per-listener Deployments: status.address.url (where to send webhooks) and the
// Available and Ready conditions (sorted by type, as Knative sorts them, so tools that read the first
// condition — `tkn eventlistener list` — show availability). One replica writes (a Lease elects it).
package elstatus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Condition types and reasons written on EventListeners.
const (
	ConditionAvailable = "Available"
	ConditionReady     = "Ready"

	ReasonServing      = "SharedListenerServing"
	ReasonNotReady     = "SharedListenerNotReady"
	ReasonNotServed    = "NamespaceNotServed"
	ReasonInvalidTrigs = "InvalidTriggers"
)

// Health is what the listener knows about itself: whether it serves (caches synced), and the triggers
// whose configuration it could not compile ("namespace/name: reason").
type Health func() (ready bool, problems []string)

// Options configure a Writer.
type Options struct {
	// URL is where the listener is reached from inside the cluster, e.g.
	// http://hookrun-listener.hookrun.svc.cluster.local:8080 (no trailing slash).
	URL string
	// Namespace is the namespace whose EventListeners the listener serves.
	Namespace string
	// Default is the EventListener served at /hooks (the others at /hooks/NAME).
	Default string
	// Interval between full passes (changes to EventListeners also trigger one); default 10s.
	Interval time.Duration
	Health   Health
	Logger   *slog.Logger
	Now      func() time.Time
	// Owns picks the EventListeners whose status this Writer writes; nil: all of them (`hookrun dev`,
	// which serves every EventListener in-process). The shared listener in a cluster passes
	// triggersv1beta1.SharedListener: the executor's EventListener reconciler (elreconciler) deploys
	// el-NAME for the others and writes their status, so the two never write the same EventListener.
	Owns func(*triggersv1beta1.EventListener) bool
}

// Writer writes EventListener status.
type Writer struct {
	r    client.Reader
	c    client.Client
	opts Options
}

// New returns a Writer that lists EventListeners through r (the listener's informer cache: the
// namespaces it watches) and writes their status through c.
func New(r client.Reader, c client.Client, opts Options) *Writer {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Health == nil {
		opts.Health = func() (bool, []string) { return true, nil }
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	return &Writer{r: r, c: c, opts: opts}
}

// Run writes status every Interval and whenever kick receives, until ctx ends.
func (w *Writer) Run(ctx context.Context, kick <-chan struct{}) error {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		if err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.opts.Logger.Warn("eventlistener status", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
		}
	}
}

// Pass writes the status of every EventListener (that Owns picks) the client can list: those of the served
// namespace get the listener's URL and health; others are told no listener serves their namespace.
func (w *Writer) Pass(ctx context.Context) error {
	var list triggersv1beta1.EventListenerList
	if err := w.r.List(ctx, &list); err != nil {
		return fmt.Errorf("list eventlisteners: %w", err)
	}
	ready, problems := w.opts.Health()
	var errs []error
	for i := range list.Items {
		if w.opts.Owns != nil && !w.opts.Owns(&list.Items[i]) {
			continue
		}
		el := list.Items[i].DeepCopy()
		want := w.desired(el, ready, problems)
		if el.Status.Equal(want) {
			continue
		}
		el.Status = want
		if err := w.c.Status().Update(ctx, el); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("eventlistener %s/%s: %w", el.Namespace, el.Name, err))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// URLFor is the address of an EventListener on the shared listener.
func (w *Writer) URLFor(el *triggersv1beta1.EventListener) string {
	if el.Name == w.opts.Default {
		return w.opts.URL + "/hooks"
	}
	return w.opts.URL + "/hooks/" + el.Name
}

func (w *Writer) desired(el *triggersv1beta1.EventListener, ready bool, problems []string) triggersv1beta1.EventListenerStatus {
	if el.Namespace != w.opts.Namespace {
		msg := fmt.Sprintf("no hookrun listener serves namespace %s (the shared listener serves %s): run one with --namespace %s", el.Namespace, w.opts.Namespace, el.Namespace)
		return w.status(el, nil, "False", ReasonNotServed, msg, "False", ReasonNotServed, msg)
	}
	url := w.URLFor(el)
	if !ready {
		msg := "the listener's caches have not synced yet"
		return w.status(el, &url, "False", ReasonNotReady, msg, "False", ReasonNotReady, msg)
	}
	var bad []string
	prefix := el.Namespace + "/"
	for _, p := range problems {
		if strings.HasPrefix(p, prefix) {
			bad = append(bad, strings.TrimPrefix(p, prefix))
		}
	}
	avail := "listening at " + url
	if len(bad) > 0 && w.mentions(el, bad) {
		return w.status(el, &url, "True", ReasonServing, avail, "False", ReasonInvalidTrigs, "invalid triggers: "+strings.Join(bad, "; "))
	}
	return w.status(el, &url, "True", ReasonServing, avail, "True", ReasonServing, avail)
}

// mentions reports whether a problem line names one of el's triggers.
func (w *Writer) mentions(el *triggersv1beta1.EventListener, bad []string) bool {
	names := map[string]bool{}
	for i, t := range el.Spec.Triggers {
		switch {
		case t.TriggerRef != "":
			names[t.TriggerRef] = true
		case t.Name != "":
			names[t.Name] = true
		default:
			names[fmt.Sprintf("%s-%d", el.Name, i)] = true
		}
	}
	for _, b := range bad {
		name, _, _ := strings.Cut(b, ":")
		if names[name] || len(el.Spec.TriggerGroups) > 0 || el.Spec.LabelSelector != nil || len(el.Spec.NamespaceSelector.MatchNames) > 0 {
			return true
		}
	}
	return false
}

func (w *Writer) status(el *triggersv1beta1.EventListener, url *string, availStatus, availReason, availMsg, readyStatus, readyReason, readyMsg string) triggersv1beta1.EventListenerStatus {
	var st triggersv1beta1.EventListenerStatus
	if url != nil {
		st.Address = &triggersv1beta1.Addressable{URL: *url}
	}
	now := metav1.NewTime(w.opts.Now().Truncate(time.Second))
	st.Conditions = triggersv1beta1.NewConditions(el.Status.Conditions, now,
		triggersv1beta1.Condition{Type: ConditionAvailable, Status: availStatus, Reason: availReason, Message: availMsg},
		triggersv1beta1.Condition{Type: ConditionReady, Status: readyStatus, Reason: readyReason, Message: readyMsg})
	return st
}
