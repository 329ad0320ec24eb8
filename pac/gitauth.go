package pac

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/forge"
)

// gitAuthPattern finds {{git_auth_secret}} in `.tekton/` text.
var gitAuthPattern = regexp.MustCompile(`\{\{\s*git_auth_secret\s*\}\}`)

// gitAuthName is {{git_auth_secret}}: one Secret per delivery (and Repository), named from it.
func (c *call) gitAuthName() string { return "pac-gitauth-" + shortHash(c.seed("git-auth"))[:12] }

// gitAuth is the Secret {{git_auth_secret}} names, created for this delivery (created false: it existed).
type gitAuth struct {
	secret  *corev1.Secret
	created bool
}

// ensureGitAuth creates the basic-auth Secret a git-clone Task mounts for {{git_auth_secret}}, as
// Pipelines-as-Code does: .git-credentials with the Repository's token for the repository's host,
// .gitconfig using it, and git-provider-token.
func (c *call) ensureGitAuth(ctx context.Context, name string) (*gitAuth, error) {
	if c.token == "" {
		return nil, fmt.Errorf("{{git_auth_secret}} is used but the Repository has no git_provider.secret holding a token")
	}
	u, err := url.Parse(c.ev.RepoURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("{{git_auth_secret}}: repository URL %q: no host", c.ev.RepoURL)
	}
	user := "git"
	if c.ev.Provider == forge.GitLab {
		user = "oauth2"
	}
	base := u.Scheme + "://" + u.Host
	cred := &url.URL{Scheme: u.Scheme, Host: u.Host, User: url.UserPassword(user, c.token)}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.repo.Namespace,
			Labels:      map[string]string{LabelRepository: labelValue(c.repo.Name), "app.kubernetes.io/managed-by": "hookrun"},
			Annotations: map[string]string{AnnotationRepoURL: c.ev.RepoURL}},
		Type: corev1.SecretTypeOpaque,
		StringData: map[string]string{
			".gitconfig":         fmt.Sprintf("[credential %q]\n  helper = store\n", base),
			".git-credentials":   cred.String() + "\n",
			"git-provider-token": c.token,
		},
	}
	err = c.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		return &gitAuth{secret: s}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create the {{git_auth_secret}} Secret: %w", err)
	}
	return &gitAuth{secret: s, created: true}, nil
}

// ownGitAuth makes the runs created own the Secret (it goes when they go); a Secret this call created
// for no run is deleted.
func (c *call) ownGitAuth(ctx context.Context, a *gitAuth, results []Result) {
	var owners []metav1.OwnerReference
	for _, r := range results {
		for _, run := range r.Runs {
			if r.Status != StatusCreated || r.Duplicate {
				continue
			}
			var pr metav1.PartialObjectMetadata
			pr.SetGroupVersionKind(schemaOf(run.APIVersion))
			if err := c.Client.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: run.Name}, &pr); err != nil {
				continue
			}
			owners = append(owners, metav1.OwnerReference{APIVersion: run.APIVersion, Kind: "PipelineRun", Name: run.Name, UID: pr.UID})
		}
	}
	if len(owners) == 0 {
		if a.created {
			_ = c.Client.Delete(ctx, a.secret)
		}
		return
	}
	patch := client.MergeFrom(a.secret.DeepCopy())
	a.secret.OwnerReferences = append(a.secret.OwnerReferences, owners...)
	if err := c.Client.Patch(ctx, a.secret, patch); err != nil {
		c.log().Warn("pac: git auth Secret not owned by its runs", "secret", a.secret.Namespace+"/"+a.secret.Name, "error", err)
	}
}

func schemaOf(apiVersion string) schema.GroupVersionKind {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return gv.WithKind("PipelineRun")
}
