package listener

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	ghforge "github.com/hookrun/hookrun/forge/github"
)

// Missed-delivery recovery.
//
// GitHub never redelivers a failed delivery by itself, but keeps every hook's deliveries for three days. An
// EventListener annotated with the hook that posts to it (AnnotationGitHubHook) and a token that may read
// the hook (AnnotationGitHubTokenSecret) has, on start-up and every RecoveryOptions.Interval, the hook's
// deliveries since the last one seen listed, and those whose newest attempt failed redelivered. Only the
// replica holding the Lease RecoveryLeaseName does it; where it got to is kept in the annotations of the
// Lease RecoveryCursorName, so a new leader continues. A redelivery of something that did reach hookrun
// creates nothing new (replay.go). GitLab has no deliveries API: a GitLab delivery lost while hookrun was
// down stays lost (GitLab retries some failures itself, then disables the hook).

// Annotations on an EventListener that turn recovery on.
const (
	// AnnotationGitHubHook is the webhook: "OWNER/REPO/HOOK_ID" (repository) or "org/ORG/HOOK_ID".
	AnnotationGitHubHook = "hookrun.dev/github-hook"
	// AnnotationGitHubAppHook "true" asks for the GitHub App's webhook: refused (it needs an App JWT).
	AnnotationGitHubAppHook = "hookrun.dev/github-app-hook"
	// AnnotationGitHubTokenSecret names the Secret (in the EventListener's namespace) holding a token that
	// may read the hook's deliveries and redeliver (repository or organization admin:…_hook).
	AnnotationGitHubTokenSecret = "hookrun.dev/github-token-secret"
	// AnnotationGitHubTokenKey is the Secret's key (default "token").
	AnnotationGitHubTokenKey = "hookrun.dev/github-token-key"
	// AnnotationGitHubAPI is the API URL of GitHub Enterprise Server (https://HOST or https://HOST/api/v3/).
	AnnotationGitHubAPI = "hookrun.dev/github-api"
)

const (
	// RecoveryLeaseName is the Lease electing the replica that recovers missed deliveries.
	RecoveryLeaseName = "hookrun-listener-recovery"
	// RecoveryCursorName is the Lease whose annotations remember, per hook, the newest delivery handled.
	RecoveryCursorName = "hookrun-listener-recovery-cursor"
	cursorPrefix       = "recovery.hookrun.dev/"
	// githubKeeps is how long GitHub keeps deliveries.
	githubKeeps = 72 * time.Hour
	maxPages    = 100
	maxTries    = 500 // GUIDs remembered per hook
)

// RecoveryOptions configure a Recoverer. Zero values take the defaults.
type RecoveryOptions struct {
	Namespace string        // the EventListeners' namespace (and the Leases'); default "default"
	Interval  time.Duration // between passes; default 5m
	// MaxPerPass bounds the redeliveries asked for in one pass, across hooks; default 50.
	MaxPerPass int
	// Every is the pause between two redelivery requests; default 500ms.
	Every time.Duration
	// MaxAttempts is how often one event (GUID) is redelivered before recovery gives up on it; default 3.
	MaxAttempts int
	HTTPClient  *http.Client // for the GitHub API; default one with a 30s timeout
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

// Recoverer asks GitHub to redeliver what failed to reach the listener.
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
	Listed      int // deliveries listed since the cursors
	Redelivered int // redeliveries GitHub accepted
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

// Pass handles every annotated EventListener of the namespace once.
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
		if strings.TrimSpace(a[AnnotationGitHubHook]) == "" && strings.TrimSpace(a[AnnotationGitHubAppHook]) == "" {
			continue
		}
		res.Hooks++
		log := rc.opts.Logger.With("eventlistener", el.Namespace+"/"+el.Name, "hook", a[AnnotationGitHubHook])
		if err := rc.recoverHook(ctx, el, &budget, &res, log); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Errors++
			log.Error("delivery recovery", "error", err)
		}
	}
	return res, nil
}

// recoveryTarget is what an EventListener's annotations ask for.
type recoveryTarget struct {
	hook              ghforge.Hook
	secret, key, api  string
	listener, hookKey string
}

func parseRecovery(el *triggersv1beta1.EventListener) (recoveryTarget, error) {
	a := el.GetAnnotations()
	get := func(k string) string { return strings.TrimSpace(a[k]) }
	if strings.EqualFold(get(AnnotationGitHubAppHook), "true") {
		return recoveryTarget{}, fmt.Errorf("%s: %w", AnnotationGitHubAppHook, ghforge.ErrAppHook)
	}
	h, err := ghforge.ParseHook(get(AnnotationGitHubHook))
	if err != nil {
		return recoveryTarget{}, fmt.Errorf("%s: %w", AnnotationGitHubHook, err)
	}
	t := recoveryTarget{hook: h, secret: get(AnnotationGitHubTokenSecret), key: get(AnnotationGitHubTokenKey),
		api: get(AnnotationGitHubAPI), listener: el.Namespace + "/" + el.Name}
	if t.secret == "" {
		return recoveryTarget{}, fmt.Errorf("%s is required with %s", AnnotationGitHubTokenSecret, AnnotationGitHubHook)
	}
	if t.key == "" {
		t.key = forge.DefaultSecretKey
	}
	sum := sha256.Sum256([]byte(t.listener + "\x00" + h.String() + "\x00" + t.api))
	t.hookKey = cursorPrefix + "h-" + hex.EncodeToString(sum[:8])
	return t, nil
}

// recoverHook lists one hook's deliveries since its cursor and redelivers the failed ones, within budget.
func (rc *Recoverer) recoverHook(ctx context.Context, el *triggersv1beta1.EventListener, budget *int, res *PassResult, log *slog.Logger) error {
	t, err := parseRecovery(el)
	if err != nil {
		return err
	}
	token, err := rc.token(ctx, el.Namespace, t)
	if err != nil {
		return err
	}
	gh, err := ghforge.New(t.api, token, rc.opts.HTTPClient)
	if err != nil {
		return err
	}
	cur, err := rc.loadCursor(ctx, t.hookKey)
	if err != nil {
		return err
	}
	now := rc.opts.Now()
	since := now.Add(-githubKeeps)
	listed, err := rc.list(ctx, gh, t.hook, cur.LastID, since)
	res.Listed += len(listed)
	if err != nil {
		return err
	}
	p := planRecovery(listed, cur.Tries, rc.opts.MaxAttempts)
	for _, g := range p.gaveUp {
		res.GaveUp++
		log.Warn("delivery recovery gave up: redelivered and failed again too often", "guid", g.GUID, "deliveryID", g.ID,
			"event", g.Event, "status", g.Status, "statusCode", g.StatusCode, "attempts", rc.opts.MaxAttempts)
	}
	next := cursor{LastID: p.newest, LastAt: now, Tries: cur.Tries}
	if next.LastID < cur.LastID {
		next.LastID = cur.LastID
	}
	if next.Tries == nil {
		next.Tries = map[string]int{}
	}
	var stopErr error
	for i, d := range p.redeliver {
		if *budget <= 0 {
			next.LastID = d.ID - 1
			log.Info("delivery recovery: per-pass limit reached, the rest waits for the next pass", "left", len(p.redeliver)-i)
			break
		}
		if i > 0 {
			if err := sleep(ctx, rc.opts.Every); err != nil {
				return err
			}
		}
		if err := gh.Redeliver(ctx, t.hook, d.ID); err != nil {
			if forge.IsPermanent(err) {
				log.Warn("delivery recovery: GitHub refused a redelivery; skipping it", "guid", d.GUID, "deliveryID", d.ID, "error", err)
				continue
			}
			next.LastID, stopErr = d.ID-1, err
			break
		}
		*budget--
		res.Redelivered++
		next.Tries[d.GUID]++
		log.Info("delivery redelivered", "guid", d.GUID, "deliveryID", d.ID, "event", d.Event, "failedWith", d.StatusCode)
	}
	next.prune(listed, p.resolved)
	if err := rc.saveCursor(ctx, t, next); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

func (rc *Recoverer) token(ctx context.Context, ns string, t recoveryTarget) (string, error) {
	var s corev1.Secret
	if err := rc.r.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.secret}, &s); err != nil {
		return "", fmt.Errorf("token Secret %s/%s: %w", ns, t.secret, err)
	}
	tok := strings.TrimSpace(string(s.Data[t.key]))
	if tok == "" {
		return "", fmt.Errorf("token Secret %s/%s has no key %q", ns, t.secret, t.key)
	}
	return tok, nil
}

// list returns the hook's deliveries newer than afterID and delivered since since, newest first.
func (rc *Recoverer) list(ctx context.Context, gh *ghforge.Client, hook ghforge.Hook, afterID int64, since time.Time) ([]ghforge.Delivery, error) {
	var out []ghforge.Delivery
	next := ""
	for page := 0; page < maxPages; page++ {
		p, err := gh.ListDeliveries(ctx, hook, next, 100)
		if err != nil {
			return out, err
		}
		for _, d := range p.Deliveries {
			if d.ID <= afterID || (!d.DeliveredAt.IsZero() && d.DeliveredAt.Before(since)) {
				return out, nil
			}
			out = append(out, d)
		}
		if p.Next == "" || len(p.Deliveries) == 0 {
			return out, nil
		}
		next = p.Next
	}
	rc.opts.Logger.Warn("delivery recovery: more deliveries than one pass lists; the oldest are left", "hook", hook.String(), "listed", len(out))
	return out, nil
}

// plan is what to do with the deliveries listed since the cursor.
type plan struct {
	redeliver []ghforge.Delivery // the newest failed attempt of each event to redeliver, oldest first
	gaveUp    []ghforge.Delivery
	resolved  map[string]bool // GUIDs whose newest attempt succeeded
	newest    int64           // the highest delivery id listed
}

// planRecovery groups listed deliveries by GUID: an event whose newest attempt succeeded is done; one whose
// newest attempt failed is redelivered, unless recovery already redelivered it maxAttempts times (tries).
func planRecovery(listed []ghforge.Delivery, tries map[string]int, maxAttempts int) plan {
	p := plan{resolved: map[string]bool{}}
	newest := map[string]ghforge.Delivery{}
	for _, d := range listed {
		if d.ID > p.newest {
			p.newest = d.ID
		}
		if n, ok := newest[d.GUID]; !ok || d.ID > n.ID {
			newest[d.GUID] = d
		}
	}
	for guid, d := range newest {
		switch {
		case !d.Failed():
			p.resolved[guid] = true
		case guid == "":
		case tries[guid] >= maxAttempts:
			p.gaveUp = append(p.gaveUp, d)
		default:
			p.redeliver = append(p.redeliver, d)
		}
	}
	sort.Slice(p.redeliver, func(i, j int) bool { return p.redeliver[i].ID < p.redeliver[j].ID })
	sort.Slice(p.gaveUp, func(i, j int) bool { return p.gaveUp[i].ID < p.gaveUp[j].ID })
	return p
}

// cursor is where recovery got to on one hook.
type cursor struct {
	Listener string         `json:"listener,omitempty"`
	Hook     string         `json:"hook,omitempty"`
	LastID   int64          `json:"lastID"`
	LastAt   time.Time      `json:"lastAt"`
	Tries    map[string]int `json:"tries,omitempty"` // GUID → redeliveries asked for, until one succeeds
}

// prune forgets the tries of events that got through, and the oldest beyond maxTries.
func (c *cursor) prune(listed []ghforge.Delivery, resolved map[string]bool) {
	for g := range resolved {
		delete(c.Tries, g)
	}
	if len(c.Tries) <= maxTries {
		return
	}
	// Keep the GUIDs seen most recently.
	seen := map[string]int64{}
	for _, d := range listed {
		if d.ID > seen[d.GUID] {
			seen[d.GUID] = d.ID
		}
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
			rc.opts.Logger.Warn("recovery cursor unreadable; starting from GitHub's three days", "key", key, "error", err)
			return cursor{}, nil
		}
	}
	return c, nil
}

func (rc *Recoverer) saveCursor(ctx context.Context, t recoveryTarget, c cursor) error {
	c.Listener, c.Hook = t.listener, t.hook.String()
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
			l.Annotations = map[string]string{t.hookKey: string(data)}
			return rc.c.Create(ctx, &l)
		}
		if err != nil {
			return err
		}
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[t.hookKey] = string(data)
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
// replica of a Deployment talks to GitHub. id names the replica (empty: hostname_pid). It returns when
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
