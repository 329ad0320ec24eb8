package executor

// Forge clients for the reporter, with their tokens read from the run's Secret (cached briefly).

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
)

// cachedToken is a Secret's token, kept tokenTTL so a burst of runs does not read the Secret per status.
type cachedToken struct {
	key, token string
	at         time.Time
}

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
