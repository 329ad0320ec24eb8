// Package pac runs the PipelineRuns a repository keeps in its `.tekton/` folder, as Pipelines-as-Code
// does: a Repository (pipelinesascode.tekton.dev/v1alpha1) names the repository; on a push or a
// pull/merge request the folder is read through the forge API at the event's head, the PipelineRuns whose
// on-event / on-target-branch / on-cel-expression / on-path-changed(-ignore) annotations match (package
// pac/match) are kept, the Pipelines and Tasks other `.tekton/` files define are inlined, {{variables}}
// are substituted, and the runs are validated and created in the Repository's namespace under names
// derived from the delivery (a redelivery creates nothing new). Comment commands (/retest, /test NAME,
// /cancel [NAME], /ok-to-test) are in comments.go.
//
// The listener verifies the delivery against the Repository's webhook secret and calls Runner.Handle
// (listener/pac.go); pac never reaches back into the listener or the executor.
package pac

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
)

// Labels and annotations pac sets on the runs it creates (Pipelines-as-Code's names).
const (
	LabelRepository   = "pipelinesascode.tekton.dev/repository"
	LabelEventType    = "pipelinesascode.tekton.dev/event-type"
	LabelSHA          = "pipelinesascode.tekton.dev/sha"
	LabelSender       = "pipelinesascode.tekton.dev/sender"
	LabelProvider     = "pipelinesascode.tekton.dev/git-provider"
	LabelOriginalName = "pipelinesascode.tekton.dev/original-prname"
	LabelPullRequest  = "pipelinesascode.tekton.dev/pull-request"
	LabelURLOrg       = "pipelinesascode.tekton.dev/url-org"
	LabelURLRepo      = "pipelinesascode.tekton.dev/url-repository"
	AnnotationRepoURL = "pipelinesascode.tekton.dev/repo-url"
	AnnotationBranch  = "pipelinesascode.tekton.dev/branch"
	AnnotationSource  = "pipelinesascode.tekton.dev/source-branch"
	AnnotationTitle   = "pipelinesascode.tekton.dev/sha-title"
	// AnnotationDelivery is a hash of what made the run (delivery, Repository, PipelineRun): a create that
	// meets a run of the same name and hash is a redelivery.
	AnnotationDelivery = "hookrun.dev/pac-delivery"
)

// TektonDir is the folder read.
const TektonDir = ".tekton"

// Default Secret keys of a Repository's git_provider (Pipelines-as-Code's).
const (
	DefaultTokenKey   = "provider.token"
	DefaultWebhookKey = "webhook.secret"
)

// Forge is what pac needs of a forge: reading the repository, talking on pull requests, statuses.
type Forge interface {
	forge.Repo
	forge.Client
}

// Runner handles Repository deliveries.
type Runner struct {
	// Reader reads Secrets (the listener's informer cache).
	Reader client.Reader
	// Client creates and cancels PipelineRuns.
	Client client.Client
	// NewForge makes a forge client; nil: forge/github and forge/gitlab.
	NewForge func(provider, api, token string) (Forge, error)
	// HTTPClient is given to the forge clients (nil: a client with a 10 s timeout).
	HTTPClient *http.Client
	Log        *slog.Logger
	Now        func() time.Time
}

// Result is what became of one PipelineRun of `.tekton/` (or of a command).
type Result struct {
	// Name is the PipelineRun's name in `.tekton/` (or the command, e.g. "/cancel").
	Name      string
	Namespace string
	Status    string // StatusCreated, StatusSkipped, StatusFailed
	Reason    string
	// Runs are the PipelineRuns created (or found created by an earlier delivery), or cancelled.
	Runs        []Run
	Duplicate   bool
	Cancelled   []string
	Unavailable bool // the Kubernetes API or the forge could not be reached: the sender may retry
}

// Run names one PipelineRun.
type Run struct {
	APIVersion, Namespace, Name string
}

// Outcomes.
const (
	StatusCreated = "created"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// NormalizeURL is a repository URL compared case-insensitively on host, without ".git", trailing "/"
// or credentials.
func NormalizeURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "/"), ".git")
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	return strings.ToLower(u.Host) + p
}

// Matches reports whether repo is the Repository of ev's repository.
func Matches(repo *pacv1alpha1.Repository, ev *Event) bool {
	return ev.RepoURL != "" && NormalizeURL(repo.Spec.URL) == NormalizeURL(ev.RepoURL)
}

// ProviderOf is the Repository's provider: spec.git_provider.type, else the delivery's.
func ProviderOf(repo *pacv1alpha1.Repository, delivered string) string {
	if gp := repo.Spec.GitProvider; gp != nil && gp.Type != "" {
		return gp.Type
	}
	return delivered
}

// WebhookSecret is the Secret and key deliveries of repo are verified with (ok false: none configured).
func WebhookSecret(repo *pacv1alpha1.Repository) (name, key string, ok bool) {
	gp := repo.Spec.GitProvider
	if gp == nil || gp.WebhookSecret == nil || gp.WebhookSecret.Name == "" {
		return "", "", false
	}
	key = gp.WebhookSecret.Key
	if key == "" {
		key = DefaultWebhookKey
	}
	return gp.WebhookSecret.Name, key, true
}

// secretValue reads one key of a Secret in ns.
func (r *Runner) secretValue(ctx context.Context, ns, name, key string) (string, error) {
	var s corev1.Secret
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		return "", fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	v, ok := s.Data[key]
	if !ok {
		return "", fmt.Errorf("secret %s/%s has no key %q", ns, name, key)
	}
	return strings.TrimSpace(string(v)), nil
}

// forgeFor makes the forge client of repo, with its token when git_provider.secret is set.
func (r *Runner) forgeFor(ctx context.Context, repo *pacv1alpha1.Repository, provider string) (Forge, string, error) {
	var api, token string
	if gp := repo.Spec.GitProvider; gp != nil {
		api = gp.URL
		if gp.Secret != nil && gp.Secret.Name != "" {
			key := gp.Secret.Key
			if key == "" {
				key = DefaultTokenKey
			}
			t, err := r.secretValue(ctx, repo.Namespace, gp.Secret.Name, key)
			if err != nil {
				return nil, "", fmt.Errorf("git_provider.secret: %w", err)
			}
			token = t
		}
	}
	if r.NewForge != nil {
		f, err := r.NewForge(provider, api, token)
		return f, token, err
	}
	hc := r.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	switch provider {
	case forge.GitHub:
		c, err := github.New(api, token, hc)
		return c, token, err
	case forge.GitLab:
		if api == "" {
			if u, err := url.Parse(repo.Spec.URL); err == nil && u.Host != "" && u.Host != "gitlab.com" {
				api = u.Scheme + "://" + u.Host
			}
		}
		c, err := gitlab.New(api, token, hc)
		return c, token, err
	}
	return nil, "", fmt.Errorf("git provider %q is not supported (github, gitlab)", provider)
}

// Handle runs what ev asks of repo (already verified against repo's webhook secret). deliveryID names
// the delivery (the same on a redelivery): the runs' names derive from it.
func (r *Runner) Handle(ctx context.Context, repo *pacv1alpha1.Repository, ev *Event, deliveryID string) []Result {
	fc, token, err := r.forgeFor(ctx, repo, ProviderOf(repo, ev.Provider))
	if err != nil {
		return []Result{{Name: repo.Name, Namespace: repo.Namespace, Status: StatusFailed, Reason: err.Error()}}
	}
	rc := &call{Runner: r, repo: repo, ev: ev, fc: fc, hasToken: token != "", token: token, delivery: deliveryID}
	switch ev.Kind {
	case KindPush:
		if ev.Deleted {
			return []Result{rc.skip(repo.Name, "the push deletes %s", ev.SourceBranch)}
		}
		ref := ev.SHA
		if s := repo.Spec.Settings; s != nil && s.PipelineRunProvenance == "default_branch" && ev.DefaultBranch != "" {
			ref = ev.DefaultBranch
		}
		return rc.run(ctx, KindPush, ref, nil)
	case KindPullRequest:
		return rc.pullRequest(ctx)
	case KindComment:
		return rc.comment(ctx)
	case KindClosed:
		return []Result{rc.cancelOnClose(ctx)}
	}
	return []Result{rc.skip(repo.Name, "event kind %q runs nothing", ev.Kind)}
}

// call is one delivery's work for one Repository.
type call struct {
	*Runner
	repo     *pacv1alpha1.Repository
	ev       *Event
	fc       Forge
	hasToken bool
	token    string
	delivery string
	// params are the Repository's params that apply to this event (vars), CEL variables of on-cel-expression.
	params map[string]string
}

func (c *call) skip(name, format string, args ...any) Result {
	return Result{Name: name, Namespace: c.repo.Namespace, Status: StatusSkipped, Reason: fmt.Sprintf(format, args...)}
}

func (c *call) fail(name string, err error) Result {
	return Result{Name: name, Namespace: c.repo.Namespace, Status: StatusFailed, Reason: err.Error(), Unavailable: transient(err)}
}

// transient: the forge was unreachable or answered 5xx/429 (not a refusal).
func transient(err error) bool {
	var fe *forge.Error
	return errors.As(err, &fe) && !fe.Permanent
}

// pullRequest runs a pull/merge request's pipelines. A PR from a fork whose author may not push waits
// for /ok-to-test: a pending status says so and nothing runs.
func (c *call) pullRequest(ctx context.Context) []Result {
	if c.ev.Fork {
		ok, err := c.allowed(ctx, c.ev.Author, c.ev.Author)
		if err != nil {
			return []Result{c.fail(c.repo.Name, fmt.Errorf("is the author allowed: %w", err))}
		}
		if !ok {
			res := c.skip(c.repo.Name, "pull request from a fork by %s, who has no write access: waiting for /ok-to-test from a collaborator", c.ev.Sender)
			if err := c.pendingOKToTest(ctx); err != nil {
				res.Reason += " (the pending status could not be set: " + err.Error() + ")"
			}
			return []Result{res}
		}
	}
	return c.run(ctx, KindPullRequest, c.ev.SHA, nil)
}

// OKToTestContext is the status context of a pull request waiting for /ok-to-test.
const OKToTestContext = "hookrun/ok-to-test"

func (c *call) pendingOKToTest(ctx context.Context) error {
	if !c.hasToken {
		return errors.New("the Repository has no git_provider.secret")
	}
	return c.fc.Post(ctx, forge.Status{Repo: c.ev.Repo, SHA: c.ev.SHA, Ref: c.ev.SourceBranch, Context: OKToTestContext,
		State: forge.StatePending, Description: "waiting for a collaborator to comment /ok-to-test"})
}

// seed names what one delivery makes of one PipelineRun.
func (c *call) seed(name string) string {
	id := c.delivery
	if id == "" {
		id = c.ev.Provider + "/" + c.ev.Repo + "/" + c.ev.Kind + "/" + c.ev.SHA
	}
	return id + "/" + c.repo.Namespace + "/" + c.repo.Name + "/" + name
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:20]
}
