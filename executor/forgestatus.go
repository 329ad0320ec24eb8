package executor

// The forge status reporter: for PipelineRuns annotated hookrun.dev/status (see package forge), it sets a
// commit status on GitHub or GitLab when the run starts (pending when queued, running when started:
// GitHub shows both as "pending" and gets one) and when it ends (success, failure naming the failed task,
// error, cancelled), linking to the run.
//
// # Exactly once per (run, state)
//
// What was delivered is recorded on the run, not in memory, so a restarted executor or a new leader
// carries on where the last one stopped: hookrun.dev/status-reported lists the states delivered. Each
// delivery is three steps:
//
//  1. patch hookrun.dev/status-reporting=STATE onto the run, with its resourceVersion (optimistic
//     concurrency: a 409 means someone else changed the run, and the reconcile starts again from a fresh
//     read);
//  2. POST the status to the forge;
//  3. patch STATE into hookrun.dev/status-reported and drop status-reporting (retried on conflict: the
//     delivery is known to have happened).
//
// A crash before 1 leaves nothing: the next executor reports. A crash between 1 and 3 leaves
// status-reporting=STATE without STATE in status-reported: the POST may or may not have reached the forge.
// The next attempt, in this process or another, then first asks the forge (forge.Client.Find: the commit's
// statuses with the same context, state and description — the description names the run) and posts only
// when the status is not there. That costs one GET in the rare recovery case and keeps delivery exactly
// once, with one exception: a forge that applied a status but has not yet listed it (replication lag) can
// get it twice; a repeated commit status is harmless (same context, same state: the commit shows it once).
// Leader election makes one executor act at a time; the resourceVersion check in step 1 settles the
// brief overlap of two leaders.
//
// # Failures
//
// A forge that cannot be reached or answers 5xx/429 is retried with exponential backoff per (run, state)
// (client-go's flowcontrol.Backoff, Options.ForgeStatus.RetryInitial … RetryMax), waiting at least what the
// forge asked (Retry-After, X-RateLimit-Reset), at most MaxWait. While retrying the run carries the last
// reason in hookrun.dev/status-error. A refusal retrying cannot fix (401 bad token, 403, 404 unknown
// repository or commit, 422) is recorded once — hookrun.dev/status-failed lists the state,
// hookrun.dev/status-error says why, and a Warning Event StatusNotReported on the run says so — and is
// never retried; the next state is still tried once (a token fixed meanwhile works). So a wrong token
// costs one request per state. Tokens are read from the Secret for each delivery and appear in no log,
// Event, annotation or metric; error texts are the forge's messages and request URLs.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
)

// ForgeStatusOptions configure the forge status reporter (forgestatus.go).
type ForgeStatusOptions struct {
	// Disabled turns the reporter off.
	Disabled bool
	// DashboardURL is the dashboard's external URL: runs without hookrun.dev/status-url link to
	// DashboardURL/runs/NAMESPACE/pipelineruns/NAME. Empty: such statuses have no link.
	DashboardURL string
	// HTTPClient calls the forges (default: a 10 s timeout, 32 idle connections per host).
	HTTPClient *http.Client
	// RetryInitial and RetryMax bound the backoff between attempts (default 1 s and 5 min).
	RetryInitial, RetryMax time.Duration
	// MaxWait caps how long a Retry-After or rate-limit reset may delay a status (default 1 h).
	MaxWait time.Duration
	// Workers is the number of runs reported at once (default 16: each mostly waits on the API server and
	// the forge).
	Workers int
}

func (o ForgeStatusOptions) withDefaults() ForgeStatusOptions {
	if o.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	if o.RetryInitial <= 0 {
		o.RetryInitial = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	return o
}

// Event reason on a run whose status a forge refused.
const ReasonStatusNotReported = "StatusNotReported"

type forgeStatusReconciler struct {
	client    client.Client
	apiReader client.Reader
	opts      Options
	fo        ForgeStatusOptions
	log       *slog.Logger
	backoff   *flowcontrol.Backoff

	mu      sync.Mutex
	retryAt map[types.NamespacedName]retryEntry // the next attempt of a run's failed delivery
	tokens  map[types.NamespacedName]cachedToken
}

const tokenTTL = 10 * time.Second

type retryEntry struct {
	state forge.State
	at    time.Time
}

// errStale asks Reconcile to decide again on a fresh read from the API server.
var errStale = errors.New("stale")

// SetupForgeStatus registers the forge status reporter alone on mgr (Setup registers it with the rest of
// the executor unless Options.ForgeStatus.Disabled).
func SetupForgeStatus(mgr manager.Manager, opts Options) error {
	opts = opts.withDefaults()
	fo := opts.ForgeStatus.withDefaults()
	copts := controller.Options{MaxConcurrentReconciles: fo.Workers}
	if opts.SkipNameValidation {
		copts.SkipNameValidation = &opts.SkipNameValidation
	}
	r := &forgeStatusReconciler{
		client: mgr.GetClient(), apiReader: mgr.GetAPIReader(), opts: opts, fo: fo,
		log:     opts.Logger.With("controller", "forgestatus"),
		backoff: flowcontrol.NewBackOff(fo.RetryInitial, fo.RetryMax),
		retryAt: map[types.NamespacedName]retryEntry{},
		tokens:  map[types.NamespacedName]cachedToken{},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("forgestatus").
		For(&pipelinev1.PipelineRun{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return forge.Enabled(o.GetAnnotations())
		}), predicate.Funcs{UpdateFunc: statusRelevantUpdate})).
		WithOptions(copts).
		Complete(r)
}

// statusRelevantUpdate drops the update events that cannot change what to report: those where neither
// the Succeeded condition (status, reason) nor the user's status annotations changed — notably the
// reporter's own record patches and the executor's progress writes. Retries do not depend on events
// (RequeueAfter), and a restarted executor lists every run.
func statusRelevantUpdate(e event.UpdateEvent) bool {
	oldPR, ok1 := e.ObjectOld.(*pipelinev1.PipelineRun)
	newPR, ok2 := e.ObjectNew.(*pipelinev1.PipelineRun)
	if !ok1 || !ok2 {
		return true
	}
	oc, nc := oldPR.Status.GetCondition(pipelinev1.ConditionSucceeded), newPR.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if (oc == nil) != (nc == nil) || (oc != nil && (oc.Status != nc.Status || oc.Reason != nc.Reason)) {
		return true
	}
	for _, k := range []string{forge.AnnotationStatus, forge.AnnotationSecret, forge.AnnotationSecretKey, forge.AnnotationRepo,
		forge.AnnotationSHA, forge.AnnotationRef, forge.AnnotationContext, forge.AnnotationURL, forge.AnnotationAPI} {
		if oldPR.Annotations[k] != newPR.Annotations[k] {
			return true
		}
	}
	return false
}

// Reconcile reports the run's state if it has not been reported yet.
func (r *forgeStatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pr pipelinev1.PipelineRun
	if err := r.client.Get(ctx, req.NamespacedName, &pr); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.retryAt, req.NamespacedName)
			r.mu.Unlock()
			r.backoff.GC()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.opts.Namespace != "" && pr.Namespace != r.opts.Namespace {
		return ctrl.Result{}, nil
	}
	fresh := false
	for attempt := 0; ; attempt++ {
		res, err := r.reconcile(ctx, &pr, fresh)
		if !apierrors.IsConflict(err) && !errors.Is(err, errStale) {
			return res, err
		}
		if attempt == 2 {
			return ctrl.Result{Requeue: true}, nil
		}
		// The cached copy was stale (the executor wrote the status, or our own last write is not in the
		// cache yet): decide again on a fresh read.
		if err := r.apiReader.Get(ctx, req.NamespacedName, &pr); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		fresh = true
	}
}

// waiting is how long the run's failed delivery of s must still wait (0: go).
func (r *forgeStatusReconciler) waiting(key types.NamespacedName, s forge.State) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.retryAt[key]
	if !ok || e.state != s {
		return 0
	}
	return time.Until(e.at)
}

func (r *forgeStatusReconciler) setRetry(key types.NamespacedName, s forge.State, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at.IsZero() {
		delete(r.retryAt, key)
		return
	}
	r.retryAt[key] = retryEntry{state: s, at: at}
}

func (r *forgeStatusReconciler) reconcile(ctx context.Context, pr *pipelinev1.PipelineRun, fresh bool) (ctrl.Result, error) {
	if !forge.Enabled(pr.Annotations) {
		return ctrl.Result{}, nil
	}
	target, err := forge.ParseTarget(pr.Annotations)
	if err != nil {
		return ctrl.Result{}, r.giveUp(ctx, pr, "", fmt.Sprintf("status not reported: %v", err))
	}
	rec := readRecord(pr.Annotations)
	state := nextState(pr, target.Provider, rec)
	if state == "" {
		return ctrl.Result{}, nil
	}
	st := forge.Status{
		Repo: target.Repo, SHA: target.SHA, Ref: target.Ref, Context: r.contextName(pr, target),
		State: state, Description: r.describe(ctx, pr, state), TargetURL: r.targetURL(pr, target),
	}
	nn := client.ObjectKeyFromObject(pr)
	if rec.reporting == state {
		if wait := r.waiting(nn, state); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil // woken by a watch event before the retry is due
		}
		if !fresh {
			return ctrl.Result{}, errStale // the cache may not hold our own last write yet
		}
	}
	fc, err := r.forgeClient(ctx, pr, target)
	if err != nil {
		if apierrors.IsNotFound(err) || errors.Is(err, errNoToken) || errors.Is(err, errBadAPI) {
			return ctrl.Result{}, r.giveUp(ctx, pr, state, err.Error())
		}
		return ctrl.Result{}, err
	}
	key := nn.String() + "/" + string(state)
	if rec.reporting == state {
		// An attempt whose outcome is not known (this process failed to reach the forge, or another
		// process stopped mid-way): ask the forge before posting again.
		found, err := fc.Find(ctx, st)
		if err != nil {
			return r.failed(ctx, pr, state, key, err)
		}
		if found {
			r.log.Info("forge status found already delivered", "namespace", pr.Namespace, "pipelineRun", pr.Name, "state", state)
			return ctrl.Result{}, r.markReported(ctx, pr, state, key)
		}
	} else if err := r.patch(ctx, pr, map[string]*string{forge.AnnotationReporting: ptr.To(string(state))}); err != nil {
		return ctrl.Result{}, err
	}
	if err := fc.Post(ctx, st); err != nil {
		return r.failed(ctx, pr, state, key, err)
	}
	r.log.Info("forge status reported", "namespace", pr.Namespace, "pipelineRun", pr.Name, "provider", target.Provider,
		"repo", target.Repo, "sha", target.SHA, "context", st.Context, "state", state)
	return ctrl.Result{}, r.markReported(ctx, pr, state, key)
}

var (
	errNoToken = errors.New("no token")
	errBadAPI  = errors.New("bad API URL")
)
