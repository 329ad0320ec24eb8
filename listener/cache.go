package listener

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// watched are the kinds the listener reads through its informer cache.
func watched() []client.Object {
	return []client.Object{
		&triggersv1beta1.EventListener{}, &triggersv1beta1.Trigger{}, &triggersv1beta1.TriggerBinding{},
		&triggersv1beta1.ClusterTriggerBinding{}, &triggersv1beta1.TriggerTemplate{},
		&triggersv1beta1.ClusterInterceptor{}, &triggersv1beta1.Interceptor{}, &corev1.Secret{},
		&pacv1alpha1.Repository{},
	}
}

// NewCache returns an informer cache for the listener's configuration and Secrets, limited to namespaces
// when any are given (cluster-scoped kinds are always watched). Objects are handed out without deep copies:
// the listener never modifies what it reads.
func NewCache(cfg *rest.Config, scheme *runtime.Scheme, namespaces []string) (cache.Cache, error) {
	opts := cache.Options{Scheme: scheme, DefaultUnsafeDisableDeepCopy: ptr(true)}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("listener cache: %w", err)
	}
	if len(namespaces) > 0 {
		return &scopedCache{Cache: c, namespaces: append([]string(nil), namespaces...)}, nil
	}
	return c, nil
}

// scopedCache is a cache limited to some namespaces, saying which: a namespaceSelector naming another
// namespace is a configuration error the listener can name, not an API failure.
type scopedCache struct {
	cache.Cache
	namespaces []string
}

// WatchedNamespaces implements namespaceScoped.
func (c *scopedCache) WatchedNamespaces() []string { return c.namespaces }

// namespaceScoped is a reader that sees only some namespaces.
type namespaceScoped interface {
	WatchedNamespaces() []string
}

// watchedNamespaces returns the namespaces r sees, nil when it sees every namespace.
func watchedNamespaces(r client.Reader) []string {
	if s, ok := r.(namespaceScoped); ok {
		return s.WatchedNamespaces()
	}
	return nil
}

// Warm registers the informers the listener needs, so they sync at start rather than on the first delivery.
func Warm(ctx context.Context, c cache.Cache) error {
	for _, o := range watched() {
		if _, err := c.GetInformer(ctx, o); err != nil {
			return fmt.Errorf("informer for %T: %w", o, err)
		}
	}
	return nil
}
