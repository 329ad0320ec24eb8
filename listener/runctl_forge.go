package listener

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/bitbucket"
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
	"github.com/hookrun/hookrun/runctl"
)

// Run control's forge calls: the changed files of a pull/merge request whose payload lists none (for the
// path filters), read through the forge API once per head SHA, and the skipped status of a filtered-out
// event whose run would have reported one (so a required check never waits for a run that never comes).
// Both use the credentials of the trigger's status reporting (package forge's annotations on what its
// template renders) unless the trigger names its own (runctl.AnnotationForge…). Tokens are read from the
// Secret for each call and appear in no answer or log line.

// forgeCallTimeout bounds one forge call: the whole delivery has Options.HandlerTimeout.
const forgeCallTimeout = 4 * time.Second

// errNoCredentials: neither the trigger nor its status reporting names a token for the event's forge.
var errNoCredentials = errors.New("no forge credentials")

// statusTarget is the status reporting configured on what a trigger rendered: the first resource
// annotated hookrun.dev/status, its namespace and the pipeline it runs (for the default status name).
func statusTarget(objs []*unstructured.Unstructured, ns string) (t forge.Target, runNS, pipeline string, ok bool, err error) {
	for _, o := range objs {
		if !forge.Enabled(o.GetAnnotations()) {
			continue
		}
		if t, err = forge.ParseTarget(o.GetAnnotations()); err != nil {
			return t, "", "", false, err
		}
		runNS = o.GetNamespace()
		if runNS == "" {
			runNS = ns
		}
		pipeline, _, _ = unstructured.NestedString(o.Object, "spec", "pipelineRef", "name")
		if pipeline == "" {
			pipeline = o.GetLabels()["tekton.dev/pipeline"]
		}
		if pipeline == "" {
			pipeline = strings.TrimSuffix(o.GetGenerateName(), "-")
		}
		return t, runNS, pipeline, true, nil
	}
	return t, "", "", false, nil
}

// token reads key of Secret ns/name.
func (s *Server) token(ctx context.Context, ns, name, key string) (string, error) {
	v, err := s.config.secrets.GetSecretKey(ctx, ns, name, key)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(v)), nil
}

// filesLister lists a pull/merge request's changed files.
type filesLister interface {
	ChangedFiles(ctx context.Context, repo string, number int) ([]string, error)
}

// lister makes the client that reads pr's files, with the trigger's forge annotations, else the status
// reporting's credentials when it reports to pr's forge. It returns the API URL it uses (for the cache).
func (s *Server) lister(ctx context.Context, ns string, p *runctl.Policy, pr runctl.PullRequest, objs []*unstructured.Unstructured) (filesLister, string, error) {
	acc := p.Forge
	if acc.Secret == "" && acc.API == "" {
		if t, runNS, _, ok, _ := statusTarget(objs, ns); ok && t.Provider == pr.Provider {
			acc, ns = runctl.ForgeAccess{Secret: t.Secret, SecretKey: t.SecretKey, API: t.API}, runNS
		}
	}
	var token string
	if acc.Secret != "" {
		var err error
		if token, err = s.token(ctx, ns, acc.Secret, acc.SecretKey); err != nil {
			return nil, "", err
		}
	}
	hc := s.opts.ForgeHTTPClient
	switch {
	case pr.Provider == bitbucket.Provider: // public repositories need no token
		c, err := bitbucket.New(acc.API, token, hc)
		return c, acc.API, err
	case token == "":
		return nil, "", fmt.Errorf("%w: annotate the trigger %s, or report its status (%s)", errNoCredentials, runctl.AnnotationForgeSecret, forge.AnnotationStatus)
	case pr.Provider == forge.GitHub:
		c, err := github.New(acc.API, token, hc)
		return c, acc.API, err
	case pr.Provider == forge.GitLab:
		c, err := gitlab.New(acc.API, token, hc)
		return c, acc.API, err
	}
	return nil, "", fmt.Errorf("changed files of %s pull requests cannot be read", pr.Provider)
}

// pullRequestFiles returns the files the pull/merge request of the event changes, from the cache or the
// forge API.
func (s *Server) pullRequestFiles(ctx context.Context, ns string, p *runctl.Policy, pr runctl.PullRequest, objs []*unstructured.Unstructured) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, forgeCallTimeout)
	defer cancel()
	l, api, err := s.lister(ctx, ns, p, pr, objs)
	if err != nil {
		return nil, err
	}
	files, cached, err := s.prFiles.Get(ctx, runctl.FilesKey(api, pr), func(ctx context.Context) ([]string, error) {
		return l.ChangedFiles(ctx, pr.Repo, pr.Number)
	})
	if err == nil && !cached {
		s.log.Info("changed files read from the forge", "provider", pr.Provider, "repo", pr.Repo, "number", pr.Number,
			"head", pr.HeadSHA, "files", len(files))
	}
	return files, err
}

// reportSkipped sets the skipped status on the commit of a filtered-out event when what the trigger
// rendered reports its status. It returns what to add to the answer ("" when nothing reports).
func (s *Server) reportSkipped(ctx context.Context, ns string, objs []*unstructured.Unstructured, why string) string {
	t, runNS, pipeline, ok, err := statusTarget(objs, ns)
	if err != nil {
		return "skipped status not reported: " + err.Error()
	}
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, forgeCallTimeout)
	defer cancel()
	st := forge.Status{Repo: t.Repo, SHA: t.SHA, Ref: t.Ref, Context: forge.DefaultContext(t, pipeline),
		State: forge.StateSkipped, Description: "skipped: " + why, TargetURL: t.URL}
	if err := s.postStatus(ctx, runNS, t, st); err != nil {
		s.log.Warn("skipped status not reported", "provider", t.Provider, "repo", t.Repo, "sha", t.SHA, "context", st.Context, "error", err)
		return "skipped status not reported: " + err.Error()
	}
	s.log.Info("skipped status reported", "provider", t.Provider, "repo", t.Repo, "sha", t.SHA, "context", st.Context)
	return fmt.Sprintf("skipped status %q reported to %s", st.Context, t.Provider)
}

func (s *Server) postStatus(ctx context.Context, ns string, t forge.Target, st forge.Status) error {
	token, err := s.token(ctx, ns, t.Secret, t.SecretKey)
	if err != nil {
		return fmt.Errorf("%s: %w", forge.AnnotationSecret, err)
	}
	var c forge.Client
	switch t.Provider {
	case forge.GitHub:
		c, err = github.New(t.API, token, s.opts.ForgeHTTPClient)
	case forge.GitLab:
		c, err = gitlab.New(t.API, token, s.opts.ForgeHTTPClient)
	default:
		err = fmt.Errorf("%s: unknown provider %q", forge.AnnotationStatus, t.Provider)
	}
	if err != nil {
		return err
	}
	return c.Post(ctx, st)
}
