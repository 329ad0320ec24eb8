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
	ghforge "github.com/hookrun/hookrun/forge/github"
)

// GitHub's side of missed-delivery recovery (recover.go): a repository or organization webhook's
// deliveries (GitHub keeps three days), grouped by GUID (a redelivery keeps it), redelivered with
// POST …/deliveries/ID/attempts; GitHub then posts the same bytes and headers again.

// Annotations on an EventListener that turn GitHub recovery on.
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

// githubKeeps is how long GitHub keeps deliveries.
const githubKeeps = 72 * time.Hour

func wantsGitHubRecovery(a map[string]string) bool {
	return strings.TrimSpace(a[AnnotationGitHubHook]) != "" || strings.TrimSpace(a[AnnotationGitHubAppHook]) != ""
}

// githubTarget is what an EventListener's GitHub annotations ask for.
type githubTarget struct {
	hook              ghforge.Hook
	secret, key, api  string
	listener, hookKey string
}

func parseGitHubRecovery(el *triggersv1beta1.EventListener) (githubTarget, error) {
	a := el.GetAnnotations()
	get := func(k string) string { return strings.TrimSpace(a[k]) }
	if strings.EqualFold(get(AnnotationGitHubAppHook), "true") {
		return githubTarget{}, fmt.Errorf("%s: %w", AnnotationGitHubAppHook, ghforge.ErrAppHook)
	}
	h, err := ghforge.ParseHook(get(AnnotationGitHubHook))
	if err != nil {
		return githubTarget{}, fmt.Errorf("%s: %w", AnnotationGitHubHook, err)
	}
	t := githubTarget{hook: h, secret: get(AnnotationGitHubTokenSecret), key: get(AnnotationGitHubTokenKey),
		api: get(AnnotationGitHubAPI), listener: el.Namespace + "/" + el.Name}
	if t.secret == "" {
		return githubTarget{}, fmt.Errorf("%s is required with %s", AnnotationGitHubTokenSecret, AnnotationGitHubHook)
	}
	if t.key == "" {
		t.key = forge.DefaultSecretKey
	}
	t.hookKey = hookCursorKey("h-", t.listener, h.String(), t.api)
	return t, nil
}

// githubAttempt reads a GitHub delivery for planAttempts.
var githubAttempt = attemptOf[ghforge.Delivery]{
	id:     func(d ghforge.Delivery) int64 { return d.ID },
	key:    func(d ghforge.Delivery) string { return d.GUID },
	failed: func(d ghforge.Delivery) bool { return d.Failed() },
}

// planRecovery plans GitHub deliveries (planAttempts by GUID).
func planRecovery(listed []ghforge.Delivery, tries map[string]int, maxAttempts int) plan[ghforge.Delivery] {
	return planAttempts(listed, githubAttempt, tries, maxAttempts)
}

// recoverGitHubHook lists one hook's deliveries since its cursor and redelivers the failed ones, within budget.
func (rc *Recoverer) recoverGitHubHook(ctx context.Context, el *triggersv1beta1.EventListener, budget *int, res *PassResult, log *slog.Logger) error {
	t, err := parseGitHubRecovery(el)
	if err != nil {
		return err
	}
	token, err := rc.token(ctx, el.Namespace, t.secret, t.key)
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
	listed, err := rc.listGitHub(ctx, gh, t.hook, cur.LastID, now.Add(-githubKeeps))
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
	next := cur.advance(p.newest, now)
	s := sender[ghforge.Delivery]{attemptOf: githubAttempt, every: rc.opts.Every, forge: "GitHub",
		send: func(ctx context.Context, d ghforge.Delivery) error { return gh.Redeliver(ctx, t.hook, d.ID) },
		fields: func(d ghforge.Delivery) []any {
			return []any{"guid", d.GUID, "deliveryID", d.ID, "event", d.Event, "failedWith", d.StatusCode}
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

// listGitHub returns the hook's deliveries newer than afterID and delivered since since, newest first.
func (rc *Recoverer) listGitHub(ctx context.Context, gh *ghforge.Client, hook ghforge.Hook, afterID int64, since time.Time) ([]ghforge.Delivery, error) {
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
