package listener

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/forge"
)

// Missed-delivery recovery.
//
// Neither GitHub nor GitLab sends again by itself a delivery that failed for good, but both keep a hook's
// recent attempts: GitHub its deliveries (three days), GitLab 17.3+ a project hook's events (seven days,
// resend since 17.4). An EventListener annotated with the hook that posts to it and a token that may read
// the hook (recover_github.go: hookrun.dev/github-hook…, recover_gitlab.go: hookrun.dev/gitlab-hook…) has,
// on start-up and every RecoveryOptions.Interval, the hook's attempts since the last one seen listed, and
// the events whose newest attempt failed delivered again. Only the replica holding the Lease
// RecoveryLeaseName does it; where it got to is kept in the annotations of the Lease RecoveryCursorName, so
// a new leader continues. A redelivery of something that did reach hookrun creates nothing new
// (replay.go: GitHub keeps the bytes, GitLab the Idempotency-Key). Bitbucket has no such API.

const (
	// RecoveryLeaseName is the Lease electing the replica that recovers missed deliveries.
	RecoveryLeaseName = "hookrun-listener-recovery"
	// RecoveryCursorName is the Lease whose annotations remember, per hook, the newest delivery handled.
	RecoveryCursorName = "hookrun-listener-recovery-cursor"
	cursorPrefix       = "recovery.hookrun.dev/"
	maxPages           = 100
	maxTries           = 500 // event keys remembered per hook
)

// RecoveryOptions configure a Recoverer. Zero values take the defaults.
type RecoveryOptions struct {
	Namespace string        // the EventListeners' namespace (and the Leases'); default "default"
	Interval  time.Duration // between passes; default 5m
	// MaxPerPass bounds the redeliveries asked for in one pass, across hooks; default 50.
	MaxPerPass int
	// Every is the pause between two GitHub redelivery requests; default 500ms.
	Every time.Duration
	// GitLabEvery is the pause between two GitLab resends; default 12s (GitLab.com allows five resends a
	// minute for each hook and user).
	GitLabEvery time.Duration
	// MaxAttempts is how often one event is redelivered before recovery gives up on it; default 3.
	MaxAttempts int
	HTTPClient  *http.Client // for the forges' APIs; default one with a 30s timeout
	Logger      *slog.Logger
	Now         func() time.Time
}

func (o *RecoveryOptions) defaults() {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Minute
	}
	if o.MaxPerPass <= 0 {
		o.MaxPerPass = 50
	}
	if o.Every <= 0 {
		o.Every = 500 * time.Millisecond
	}
	if o.GitLabEvery <= 0 {
		o.GitLabEvery = 12 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Recoverer asks the forges to deliver again what failed to reach the listener.
type Recoverer struct {
	r    client.Reader // EventListeners and Secrets (the listener's cache)
	c    client.Client // the cursor Lease
	opts RecoveryOptions
}

// NewRecoverer returns a Recoverer reading EventListeners and Secrets through r and keeping its cursor
// through c.
func NewRecoverer(r client.Reader, c client.Client, opts RecoveryOptions) *Recoverer {
	opts.defaults()
	return &Recoverer{r: r, c: c, opts: opts}
}

// PassResult counts what one pass did.
type PassResult struct {
	Hooks       int // hooks looked at
	Listed      int // deliveries (GitLab: events) listed since the cursors
	Redelivered int // redeliveries (GitLab: resends) the forge accepted
	GaveUp      int // events failed MaxAttempts times after redelivery
	Errors      int // hooks that could not be handled completely
}

// Run makes a pass now and then every Interval until ctx ends.
func (rc *Recoverer) Run(ctx context.Context) error {
	t := time.NewTicker(rc.opts.Interval)
	defer t.Stop()
	for {
		res, err := rc.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			rc.opts.Logger.Error("delivery recovery pass failed", "error", err)
		} else if res.Redelivered > 0 || res.Errors > 0 || res.GaveUp > 0 {
			rc.opts.Logger.Info("delivery recovery pass", "hooks", res.Hooks, "listed", res.Listed,
				"redelivered", res.Redelivered, "gaveUp", res.GaveUp, "errors", res.Errors)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// hookRecovery is one forge's recovery of one annotated EventListener's hook.
type hookRecovery func(ctx context.Context, el *triggersv1beta1.EventListener, budget *int, res *PassResult, log *slog.Logger) error

// Pass handles every annotated EventListener of the namespace once: its GitHub hook, then its GitLab hook.
func (rc *Recoverer) Pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	var els triggersv1beta1.EventListenerList
	if err := rc.r.List(ctx, &els, client.InNamespace(rc.opts.Namespace)); err != nil {
		return res, fmt.Errorf("list EventListeners: %w", err)
	}
	sort.Slice(els.Items, func(i, j int) bool { return els.Items[i].Name < els.Items[j].Name })
	budget := rc.opts.MaxPerPass
	for i := range els.Items {
		el := &els.Items[i]
		a := el.GetAnnotations()
		for _, f := range []struct {
			on         bool
			annotation string // the hook's, named in log lines
			recover    hookRecovery
		}{
			{wantsGitHubRecovery(a), AnnotationGitHubHook, rc.recoverGitHubHook},
			{wantsGitLabRecovery(a), AnnotationGitLabHook, rc.recoverGitLabHook},
		} {
			if !f.on {
				continue
			}
			res.Hooks++
			log := rc.opts.Logger.With("eventlistener", el.Namespace+"/"+el.Name, "hook", a[f.annotation])
			if err := f.recover(ctx, el, &budget, &res, log); err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				res.Errors++
				log.Error("delivery recovery", "error", err)
			}
		}
	}
	return res, nil
}

// hookCursorKey is the cursor Lease's annotation for one forge's hook of one EventListener.
func hookCursorKey(prefix, listener, hook, api string) string {
	sum := sha256.Sum256([]byte(listener + "\x00" + hook + "\x00" + api))
	return cursorPrefix + prefix + hex.EncodeToString(sum[:8])
}

func (rc *Recoverer) token(ctx context.Context, ns, secret, key string) (string, error) {
	var s corev1.Secret
	if err := rc.r.Get(ctx, client.ObjectKey{Namespace: ns, Name: secret}, &s); err != nil {
		return "", fmt.Errorf("token Secret %s/%s: %w", ns, secret, err)
	}
	tok := strings.TrimSpace(string(s.Data[key]))
	if tok == "" {
		return "", fmt.Errorf("token Secret %s/%s has no key %q", ns, secret, key)
	}
	return tok, nil
}

// plan is what to do with the attempts listed since the cursor.
type plan[T any] struct {
	redeliver []T             // the newest failed attempt of each event to deliver again, oldest first
	gaveUp    []T             // events delivered again maxAttempts times that still fail
	resolved  map[string]bool // event keys whose newest attempt succeeded
	newest    int64           // the highest attempt id listed
	seen      map[string]int64
}

// attemptOf says what recovery needs to know of one forge's attempt.
type attemptOf[T any] struct {
	id     func(T) int64
	key    func(T) string // what all attempts of one event share (GitHub's GUID, GitLab's Idempotency-Key)
	failed func(T) bool
}

// planAttempts groups listed attempts by event key: an event whose newest attempt succeeded is done; one
// whose newest attempt failed is delivered again, unless recovery already did so maxAttempts times
// (tries). Attempts without a key cannot be told apart from their redeliveries and are left alone.
func planAttempts[T any](listed []T, a attemptOf[T], tries map[string]int, maxAttempts int) plan[T] {
	p := plan[T]{resolved: map[string]bool{}, seen: map[string]int64{}}
	newest := map[string]T{}
	for _, d := range listed {
		id, key := a.id(d), a.key(d)
		p.newest = max(p.newest, id)
		if n, ok := newest[key]; !ok || id > a.id(n) {
			newest[key] = d
			p.seen[key] = id
		}
	}
	for key, d := range newest {
		switch {
		case !a.failed(d):
			p.resolved[key] = true
		case key == "":
		case tries[key] >= maxAttempts:
			p.gaveUp = append(p.gaveUp, d)
		default:
			p.redeliver = append(p.redeliver, d)
		}
	}
	sort.Slice(p.redeliver, func(i, j int) bool { return a.id(p.redeliver[i]) < a.id(p.redeliver[j]) })
	sort.Slice(p.gaveUp, func(i, j int) bool { return a.id(p.gaveUp[i]) < a.id(p.gaveUp[j]) })
	return p
}

// sender delivers planned attempts again through one forge.
type sender[T any] struct {
	attemptOf[T]
	every  time.Duration
	forge  string                         // for messages: "GitHub", "GitLab"
	send   func(context.Context, T) error // ask the forge to deliver the event again
	fields func(T) []any                  // what a log line says of an attempt (never a token)
}

// redeliverPlanned asks the forge to deliver each planned attempt again, oldest first, within budget and
// paced by s.every. A permanent refusal skips the attempt; another error (rate limit, forge unreachable)
// ends the hook's pass. next's LastID stops before the first attempt not handled, and its Tries count
// what was asked for. It returns the error that ended the pass early, if any.
func redeliverPlanned[T any](ctx context.Context, s sender[T], todo []T, budget *int, res *PassResult, next *cursor, log *slog.Logger) error {
	for i, d := range todo {
		if *budget <= 0 {
			next.LastID = min(next.LastID, s.id(d)-1)
			log.Info("delivery recovery: per-pass limit reached, the rest waits for the next pass", "left", len(todo)-i)
			return nil
		}
		if i > 0 {
			if err := sleep(ctx, s.every); err != nil {
				return err
			}
		}
		if err := s.send(ctx, d); err != nil {
			if forge.IsPermanent(err) {
				log.Warn("delivery recovery: "+s.forge+" refused to deliver again; skipping it", append(s.fields(d), "error", err)...)
				continue
			}
			next.LastID = min(next.LastID, s.id(d)-1)
			return err
		}
		*budget--
		res.Redelivered++
		next.Tries[s.key(d)]++
		log.Info("delivery redelivered", s.fields(d)...)
	}
	return nil
}

// cursor is where recovery got to on one hook.
type cursor struct {
	Listener string         `json:"listener,omitempty"`
	Hook     string         `json:"hook,omitempty"`
	LastID   int64          `json:"lastID"`
	LastAt   time.Time      `json:"lastAt"`
	Tries    map[string]int `json:"tries,omitempty"` // event key → redeliveries asked for, until one succeeds
}

// advance is the cursor after a pass that listed up to newest at now (tries kept).
func (c cursor) advance(newest int64, now time.Time) cursor {
	next := cursor{LastID: max(newest, c.LastID), LastAt: now, Tries: c.Tries}
	if next.Tries == nil {
		next.Tries = map[string]int{}
	}
	return next
}

// prune forgets the tries of events that got through, and the oldest beyond maxTries (seen: the newest
// attempt id listed per event key).
func (c *cursor) prune(seen map[string]int64, resolved map[string]bool) {
	for g := range resolved {
		delete(c.Tries, g)
	}
	if len(c.Tries) <= maxTries {
		return
	}
	keys := make([]string, 0, len(c.Tries))
	for g := range c.Tries {
		keys = append(keys, g)
	}
	sort.Slice(keys, func(i, j int) bool { return seen[keys[i]] > seen[keys[j]] })
	for _, g := range keys[maxTries:] {
		delete(c.Tries, g)
	}
}

func (rc *Recoverer) loadCursor(ctx context.Context, key string) (cursor, error) {
	var l coordinationv1.Lease
	err := rc.c.Get(ctx, client.ObjectKey{Namespace: rc.opts.Namespace, Name: RecoveryCursorName}, &l)
	if apierrors.IsNotFound(err) {
		return cursor{}, nil
	}
	if err != nil {
		return cursor{}, fmt.Errorf("read recovery cursor: %w", err)
	}
	var c cursor
	if v := l.Annotations[key]; v != "" {
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			rc.opts.Logger.Warn("recovery cursor unreadable; starting from what the forge keeps", "key", key, "error", err)
			return cursor{}, nil
		}
	}
	return c, nil
}

// saveCursor keeps c under the cursor Lease's annotation hookKey.
func (rc *Recoverer) saveCursor(ctx context.Context, hookKey, listener, hook string, c cursor) error {
	c.Listener, c.Hook = listener, hook
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: rc.opts.Namespace, Name: RecoveryCursorName}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var l coordinationv1.Lease
		err := rc.c.Get(ctx, key, &l)
		if apierrors.IsNotFound(err) {
			l.Name, l.Namespace = key.Name, key.Namespace
			l.Annotations = map[string]string{hookKey: string(data)}
			return rc.c.Create(ctx, &l)
		}
		if err != nil {
			return err
		}
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[hookKey] = string(data)
		return rc.c.Update(ctx, &l)
	})
	if err != nil {
		return fmt.Errorf("save recovery cursor: %w", err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RunRecoveryElected runs rc only while this replica holds the Lease RecoveryLeaseName in ns, so one
// replica of a Deployment talks to the forges. id names the replica (empty: hostname_pid). It returns when
// ctx ends.
func RunRecoveryElected(ctx context.Context, cfg *rest.Config, ns, id string, rc *Recoverer) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("leader election client: %w", err)
	}
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("leader election identity: %w", err)
		}
		id = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, RecoveryLeaseName, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			ReleaseOnCancel: true, Name: RecoveryLeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) { _ = rc.Run(lctx) },
				OnStoppedLeading: func() { rc.opts.Logger.Info("delivery recovery: lease lost or released") },
			},
		})
	}
	return nil
}
