package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/forge"
	glforge "github.com/hookrun/hookrun/forge/gitlab"
)

// GitLab's side of missed-delivery recovery (recover.go): a project webhook's events (GitLab 17.3+ lists
// the last seven days; 17.4+ resends), grouped by Idempotency-Key (GitLab keeps it on its retries and on
// a resend; X-Gitlab-Event-UUID and X-Gitlab-Webhook-UUID are new on every attempt), resent with
// POST …/events/ID/resend. A resend re-encodes the stored payload, so its bytes may differ from the
// original's: the listener recognises it by the Idempotency-Key (replay.go). GitLab refuses to resend an
// event whose hook URL changed since, and limits resends (five a minute per hook and user on GitLab.com:
// RecoveryOptions.GitLabEvery paces them).

// Annotations on an EventListener that turn GitLab recovery on.
const (
	// AnnotationGitLabHook is the project webhook: "PROJECT/HOOK_ID", PROJECT the numeric project id or its
	// path (plain group/project or URL-encoded group%2Fproject).
	AnnotationGitLabHook = "hookrun.dev/gitlab-hook"
	// AnnotationGitLabTokenSecret names the Secret (in the EventListener's namespace) holding a token that
	// may read the hook's events and resend them (Maintainer, api scope).
	AnnotationGitLabTokenSecret = "hookrun.dev/gitlab-token-secret"
	// AnnotationGitLabTokenKey is the Secret's key (default "token").
	AnnotationGitLabTokenKey = "hookrun.dev/gitlab-token-key"
	// AnnotationGitLabAPI is the URL of a self-managed GitLab (https://HOST; default https://gitlab.com).
	AnnotationGitLabAPI = "hookrun.dev/gitlab-api"
)

// gitlabPerPage is the events page size: each event carries its payload.
const gitlabPerPage = 50

func wantsGitLabRecovery(a map[string]string) bool {
	return strings.TrimSpace(a[AnnotationGitLabHook]) != "" || strings.TrimSpace(a[AnnotationGitLabTokenSecret]) != ""
}

// gitlabTarget is what an EventListener's GitLab annotations ask for.
type gitlabTarget struct {
	hook              glforge.Hook
	secret, key, api  string
	listener, hookKey string
}

func parseGitLabRecovery(el *triggersv1beta1.EventListener) (gitlabTarget, error) {
	a := el.GetAnnotations()
	get := func(k string) string { return strings.TrimSpace(a[k]) }
	if get(AnnotationGitLabHook) == "" {
		return gitlabTarget{}, fmt.Errorf("%s is required with %s", AnnotationGitLabHook, AnnotationGitLabTokenSecret)
	}
	h, err := glforge.ParseHook(get(AnnotationGitLabHook))
	if err != nil {
		return gitlabTarget{}, fmt.Errorf("%s: %w", AnnotationGitLabHook, err)
	}
	t := gitlabTarget{hook: h, secret: get(AnnotationGitLabTokenSecret), key: get(AnnotationGitLabTokenKey),
		api: get(AnnotationGitLabAPI), listener: el.Namespace + "/" + el.Name}
	if t.secret == "" {
		return gitlabTarget{}, fmt.Errorf("%s is required with %s", AnnotationGitLabTokenSecret, AnnotationGitLabHook)
	}
	if t.key == "" {
		t.key = forge.DefaultSecretKey
	}
	if _, err := glforge.New(t.api, "", nil); err != nil {
		return gitlabTarget{}, fmt.Errorf("%s: %w", AnnotationGitLabAPI, err)
	}
	t.hookKey = hookCursorKey("gl-", t.listener, h.String(), t.api)
	return t, nil
}

// gitlabAttempt reads a GitLab hook event for planAttempts.
var gitlabAttempt = attemptOf[glforge.HookEvent]{
	id:     func(e glforge.HookEvent) int64 { return e.ID },
	key:    func(e glforge.HookEvent) string { return e.IdempotencyKey },
	failed: func(e glforge.HookEvent) bool { return e.Failed() },
}

// recoverGitLabHook lists one hook's events since its cursor and resends the failed ones, within budget.
func (rc *Recoverer) recoverGitLabHook(ctx context.Context, el *triggersv1beta1.EventListener, budget *int, res *PassResult, log *slog.Logger) error {
	t, err := parseGitLabRecovery(el)
	if err != nil {
		return err
	}
	token, err := rc.token(ctx, el.Namespace, t.secret, t.key)
	if err != nil {
		return err
	}
	gl, err := glforge.New(t.api, token, rc.opts.HTTPClient)
	if err != nil {
		return fmt.Errorf("%s: %w", AnnotationGitLabAPI, err)
	}
	cur, err := rc.loadCursor(ctx, t.hookKey)
	if err != nil {
		return err
	}
	now := rc.opts.Now()
	listed, err := rc.listGitLab(ctx, gl, t.hook, cur.LastID, now.Add(-glforge.HookKeeps))
	res.Listed += len(listed)
	if err != nil {
		return err
	}
	p := planAttempts(listed, gitlabAttempt, cur.Tries, rc.opts.MaxAttempts)
	rc.reportGitLabPlan(listed, p, res, log)
	next := cur.advance(p.newest, now)
	s := sender[glforge.HookEvent]{attemptOf: gitlabAttempt, every: rc.opts.GitLabEvery, forge: "GitLab",
		send: func(ctx context.Context, e glforge.HookEvent) error {
			status, failed, err := gl.Resend(ctx, t.hook, e.ID)
			if err == nil && failed {
				log.Warn("delivery recovery: the resend reached GitLab but failed again; tried again at the next pass",
					"idempotencyKey", e.IdempotencyKey, "hookEventID", e.ID, "status", status)
			}
			return err
		},
		fields: func(e glforge.HookEvent) []any {
			return []any{"idempotencyKey", e.IdempotencyKey, "hookEventID", e.ID, "event", e.Event, "failedWith", e.Status}
		}}
	stopErr := redeliverPlanned(ctx, s, p.redeliver, budget, res, &next, log)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	next.prune(p.seen, p.resolved)
	if err := rc.saveCursor(ctx, t.hookKey, t.listener, t.hook.String(), next); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

// reportGitLabPlan counts and logs the events given up on, and those that cannot be resent safely.
func (rc *Recoverer) reportGitLabPlan(listed []glforge.HookEvent, p plan[glforge.HookEvent], res *PassResult, log *slog.Logger) {
	for _, g := range p.gaveUp {
		res.GaveUp++
		log.Warn("delivery recovery gave up: resent and failed again too often", "idempotencyKey", g.IdempotencyKey,
			"hookEventID", g.ID, "event", g.Event, "status", g.Status, "attempts", rc.opts.MaxAttempts)
	}
	unkeyed := 0
	for _, e := range listed {
		if e.IdempotencyKey == "" && e.Failed() {
			unkeyed++
		}
	}
	if unkeyed > 0 {
		log.Warn("delivery recovery: failed GitLab events without Idempotency-Key are not resent (a resend could not be told from the original)",
			"events", unkeyed)
	}
}

// listGitLab returns the hook's events newer than afterID and created since since. GitLab lists them
// newest first: a page holding only older events ends the listing.
func (rc *Recoverer) listGitLab(ctx context.Context, gl *glforge.Client, hook glforge.Hook, afterID int64, since time.Time) ([]glforge.HookEvent, error) {
	var out []glforge.HookEvent
	for page, n := 1, 0; n < maxPages; n++ {
		p, err := gl.ListHookEvents(ctx, hook, page, gitlabPerPage)
		if err != nil {
			return out, err
		}
		older := 0
		for _, e := range p.Events {
			if e.ID <= afterID || (!e.CreatedAt.IsZero() && e.CreatedAt.Before(since)) {
				older++
				continue
			}
			out = append(out, e)
		}
		descending := len(p.Events) > 0 && p.Events[0].ID >= p.Events[len(p.Events)-1].ID
		if p.NextPage == 0 || len(p.Events) == 0 || (descending && older > 0) {
			return out, nil
		}
		page = p.NextPage
	}
	rc.opts.Logger.Warn("delivery recovery: more GitLab events than one pass lists; the oldest are left", "hook", hook.String(), "listed", len(out))
	return out, nil
}
