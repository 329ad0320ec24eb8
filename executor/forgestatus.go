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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/retry"
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
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
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

// cachedToken is a Secret's token, kept tokenTTL so a burst of runs does not read the Secret per status.
type cachedToken struct {
	key, token string
	at         time.Time
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

// nextState is the state to report now, "" when there is nothing to report.
func nextState(pr *pipelinev1.PipelineRun, provider string, rec statusRecord) forge.State {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	if c == nil {
		return "" // the executor has not seen the run yet; its first status write wakes us
	}
	var s forge.State
	switch c.Status {
	case corev1.ConditionTrue:
		s = forge.StateSuccess
	case corev1.ConditionFalse:
		switch c.Reason {
		case ReasonCancelled, ReasonTaskRunCancelled:
			s = forge.StateCancelled
		case ReasonFailed, ReasonPipelineRunTimeout:
			s = forge.StateFailure
		default:
			s = forge.StateError
		}
	default:
		s = forge.StateRunning
		if c.Reason == ReasonQueued || c.Reason == ReasonPipelineRunPending {
			s = forge.StatePending
		}
	}
	for _, d := range rec.settled() {
		switch {
		case d == s, d.Final():
			return ""
		case !s.Final() && (d == forge.StateRunning || forge.ProviderState(provider, d) == forge.ProviderState(provider, s)):
			return "" // GitHub: queued and running are both "pending"; never go back from running
		}
	}
	return s
}

var (
	errNoToken = errors.New("no token")
	errBadAPI  = errors.New("bad API URL")
)

// forgeClient reads the token from the run's Secret and makes the provider's client.
func (r *forgeStatusReconciler) forgeClient(ctx context.Context, pr *pipelinev1.PipelineRun, t forge.Target) (forge.Client, error) {
	token, err := r.token(ctx, types.NamespacedName{Namespace: pr.Namespace, Name: t.Secret}, t.SecretKey)
	if err != nil {
		return nil, err
	}
	var c forge.Client
	switch t.Provider {
	case forge.GitHub:
		c, err = github.New(t.API, token, r.fo.HTTPClient)
	case forge.GitLab:
		c, err = gitlab.New(t.API, token, r.fo.HTTPClient)
	default:
		err = fmt.Errorf("unknown provider %q", t.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", forge.AnnotationAPI, errBadAPI, err)
	}
	return c, nil
}

// token reads the token from the Secret (uncached by the manager: the executor never lists Secrets), or
// from the last read of it under tokenTTL ago.
func (r *forgeStatusReconciler) token(ctx context.Context, nn types.NamespacedName, key string) (string, error) {
	r.mu.Lock()
	c, ok := r.tokens[nn]
	r.mu.Unlock()
	if ok && c.key == key && time.Since(c.at) < tokenTTL {
		return c.token, nil
	}
	var sec corev1.Secret
	if err := r.apiReader.Get(ctx, nn, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("Secret %s (%s) not found: %w", nn, forge.AnnotationSecret, err)
		}
		return "", fmt.Errorf("read Secret %s: %w", nn, err)
	}
	token := strings.TrimSpace(string(sec.Data[key]))
	if token == "" {
		return "", fmt.Errorf("Secret %s has no key %q (%s): %w", nn, key, forge.AnnotationSecretKey, errNoToken)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tokens) > 1000 {
		clear(r.tokens)
	}
	r.tokens[nn] = cachedToken{key: key, token: token, at: time.Now()}
	return token, nil
}

// forgetToken drops a cached token the forge refused (a fixed Secret is read at the next status).
func (r *forgeStatusReconciler) forgetToken(ns, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tokens, types.NamespacedName{Namespace: ns, Name: name})
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

// contextName is the status's name: the annotation, else hookrun/PIPELINE.
func (r *forgeStatusReconciler) contextName(pr *pipelinev1.PipelineRun, t forge.Target) string {
	if t.Context != "" {
		return t.Context
	}
	name := pr.Labels[LabelPipeline]
	if pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" {
		name = pr.Spec.PipelineRef.Name
	}
	if name == "" {
		name = strings.TrimSuffix(pr.GenerateName, "-")
	}
	if name == "" {
		return "hookrun"
	}
	return "hookrun/" + name
}

func (r *forgeStatusReconciler) targetURL(pr *pipelinev1.PipelineRun, t forge.Target) string {
	if t.URL != "" {
		return t.URL
	}
	if r.fo.DashboardURL == "" {
		return ""
	}
	return strings.TrimSuffix(r.fo.DashboardURL, "/") + "/runs/" + url.PathEscape(pr.Namespace) + "/pipelineruns/" + url.PathEscape(pr.Name)
}

// describe is the status's description. It starts with the run's name (which is also how Find recognises
// this run's status among others on the same commit) and must be the same whenever it is computed for
// the same state.
func (r *forgeStatusReconciler) describe(ctx context.Context, pr *pipelinev1.PipelineRun, s forge.State) string {
	c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
	took := ""
	if pr.Status.StartTime != nil && pr.Status.CompletionTime != nil {
		took = pr.Status.CompletionTime.Sub(pr.Status.StartTime.Time).Round(time.Second).String()
	}
	var d string
	switch s {
	case forge.StatePending:
		d = pr.Name + " is waiting to start"
		if c != nil && c.Reason == ReasonQueued {
			d = pr.Name + " is queued"
		}
	case forge.StateRunning:
		d = pr.Name + " is running"
	case forge.StateSuccess:
		d = pr.Name + " succeeded in " + took
	case forge.StateCancelled:
		d = pr.Name + " was cancelled after " + took
	case forge.StateFailure:
		if c != nil && c.Reason == ReasonPipelineRunTimeout {
			d = pr.Name + " timed out after " + took
			break
		}
		d = pr.Name + " failed after " + took
		if failed := r.failedTasks(ctx, pr); failed != "" {
			d += ": " + failed
		}
	default:
		d = pr.Name + " could not run"
		if c != nil {
			d += ": " + c.Reason
			if c.Message != "" {
				d += ": " + c.Message
			}
		}
	}
	return forge.Truncate(d, forge.MaxDescription)
}

// failedTasks names the run's failed tasks, the first with its TaskRun's reason ("task unit-test failed:
// "step-test" exited with code 1"), in the order of status.childReferences.
func (r *forgeStatusReconciler) failedTasks(ctx context.Context, pr *pipelinev1.PipelineRun) string {
	var names []string
	first := ""
	for _, ref := range pr.Status.ChildReferences {
		if ref.Kind != "" && ref.Kind != "TaskRun" {
			continue
		}
		var tr pipelinev1.TaskRun
		if err := r.client.Get(ctx, types.NamespacedName{Namespace: pr.Namespace, Name: ref.Name}, &tr); err != nil {
			continue
		}
		c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason == ReasonTaskRunCancelled {
			continue
		}
		names = append(names, ref.PipelineTaskName)
		if first == "" {
			first = c.Message
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		s := "task " + names[0] + " failed"
		if first != "" {
			s += ": " + first
		}
		return s
	}
	return "tasks " + strings.Join(names, ", ") + " failed"
}
