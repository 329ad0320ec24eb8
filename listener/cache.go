package listener

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

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

// APIAccess is one HTTP client and one REST mapper remembering its mappings (MemoMapper), for the
// listener's cache and its client to share: one connection pool and one discovery.
type APIAccess struct {
	HTTPClient *http.Client
	Mapper     meta.RESTMapper
}

// NewAPIAccess builds the APIAccess of cfg.
func NewAPIAccess(cfg *rest.Config) (APIAccess, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return APIAccess{}, fmt.Errorf("kubernetes client: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return APIAccess{}, fmt.Errorf("kubernetes client: %w", err)
	}
	return APIAccess{HTTPClient: httpClient, Mapper: MemoMapper(mapper)}, nil
}

// NewCache returns an informer cache for the listener's configuration and Secrets, limited to namespaces
// when any are given (cluster-scoped kinds are always watched). Objects are handed out without deep copies:
// the listener never modifies what it reads.
func NewCache(cfg *rest.Config, scheme *runtime.Scheme, namespaces []string) (cache.Cache, error) {
	access, err := NewAPIAccess(cfg)
	if err != nil {
		return nil, fmt.Errorf("listener cache: %w", err)
	}
	return NewCacheWith(cfg, scheme, namespaces, access)
}

// NewCacheWith is NewCache over a given APIAccess.
func NewCacheWith(cfg *rest.Config, scheme *runtime.Scheme, namespaces []string, access APIAccess) (cache.Cache, error) {
	opts := cache.Options{Scheme: scheme, DefaultUnsafeDisableDeepCopy: ptr(true), HTTPClient: access.HTTPClient, Mapper: access.Mapper}
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

// memoMapper remembers the REST mappings its cache looked up. A namespace-limited cache asks its mapper
// for the scope of the kind on every Get (the dynamic mapper rebuilds a priority list of every known
// group each time: 4 % of the listener's CPU under TestListenerLoad, for the EventListener, bindings,
// template and Secret each delivery reads). The cache's informers keep the mapping they were started
// with for good, so remembering it changes nothing; failures (a kind not installed yet) are not
// remembered.
type memoMapper struct {
	meta.RESTMapper
	mu       sync.RWMutex
	mappings map[memoKey]*meta.RESTMapping
}

type memoKey struct {
	gk       schema.GroupKind
	versions string
}

// maxMemoMappings bounds the mappings remembered; the cache reads a handful of kinds.
const maxMemoMappings = 256

// MemoMapper returns m remembering the mappings it finds. The listener's client is given one too: the
// client keeps the mapping of each kind it has created for good (controller-runtime's per-kind REST
// resources), and without it the scope check of every create (confine) asks the dynamic mapper again.
func MemoMapper(m meta.RESTMapper) meta.RESTMapper {
	return &memoMapper{RESTMapper: m, mappings: map[memoKey]*meta.RESTMapping{}}
}

// RESTMapping implements meta.RESTMapper.
func (m *memoMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	key := memoKey{gk: gk, versions: strings.Join(versions, ",")}
	m.mu.RLock()
	rm, ok := m.mappings[key]
	m.mu.RUnlock()
	if ok {
		return rm, nil
	}
	rm, err := m.RESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if len(m.mappings) >= maxMemoMappings {
		m.mappings = map[memoKey]*meta.RESTMapping{}
	}
	m.mappings[key] = rm
	m.mu.Unlock()
	return rm, nil
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
