package listener

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// identity is who creates a trigger's resources: a ServiceAccount the listener impersonates, or (zero
// value) the listener itself, confined to the trigger's namespace.
type identity struct {
	Namespace, ServiceAccount string
	from                      string // which field named it, for messages
}

func (id identity) none() bool { return id.ServiceAccount == "" }

// User is the Kubernetes user name of the ServiceAccount.
func (id identity) User() string {
	return "system:serviceaccount:" + id.Namespace + ":" + id.ServiceAccount
}

// identityOf applies Tekton's precedence: the Trigger's serviceAccountName (a Trigger object's spec, or an
// EventListener trigger's own field), else the EventListener's serviceAccountName (in its namespace).
func identityOf(el elIdentity, t *trigger) identity {
	if sa := t.Spec.ServiceAccountName; sa != "" {
		return identity{Namespace: t.Namespace, ServiceAccount: sa, from: "Trigger " + t.Namespace + "/" + t.Name + " spec.serviceAccountName"}
	}
	if el.ServiceAccount != "" {
		return identity{Namespace: el.Namespace, ServiceAccount: el.ServiceAccount, from: "EventListener " + el.Namespace + "/" + el.Name + " spec.serviceAccountName"}
	}
	return identity{}
}

// elIdentity is what identityOf needs of the EventListener.
type elIdentity struct{ Namespace, Name, ServiceAccount string }

// confine checks that objects created with the listener's own identity stay in the trigger's namespace
// and are namespaced: without a ServiceAccount to impersonate, RBAC cannot tell one tenant's trigger
// from another's, so the listener enforces the boundary itself.
func confine(ctx context.Context, c client.Client, t *trigger, objs []*unstructured.Unstructured) error {
	for i, obj := range objs {
		namespaced, err := isNamespaced(ctx, c, obj)
		switch {
		case meta.IsNoMatchError(err):
			return fmt.Errorf("%w: resourcetemplates[%d]: %s: %v", errConfig, i, obj.GetObjectKind().GroupVersionKind(), err)
		case err != nil:
			// Discovery could not be asked (API server unreachable): the sender should retry.
			return fmt.Errorf("%w: resourcetemplates[%d]: scope of %s: %v", errUnavailable, i, obj.GetObjectKind().GroupVersionKind(), err)
		}
		if !namespaced {
			return fmt.Errorf("%w: resourcetemplates[%d]: %s %s is cluster-scoped: a trigger without serviceAccountName may only "+
				"create namespaced resources in its own namespace (%s); set serviceAccountName to a ServiceAccount allowed to create it",
				errConfig, i, obj.GetKind(), obj.GetName(), t.Namespace)
		}
		if ns := obj.GetNamespace(); ns != t.Namespace {
			return fmt.Errorf("%w: resourcetemplates[%d]: %s metadata.namespace %q is not the trigger's namespace %s: a trigger "+
				"without serviceAccountName may only create resources in its own namespace; set serviceAccountName to a "+
				"ServiceAccount allowed to create them there", errConfig, i, obj.GetKind(), ns, t.Namespace)
		}
	}
	return nil
}

// isNamespaced asks c's REST mapper for obj's scope within ctx: a mapping not cached yet costs a
// discovery call that takes no context, so it runs aside and an unreachable API server cannot hold
// the delivery past its deadline.
func isNamespaced(ctx context.Context, c client.Client, obj *unstructured.Unstructured) (bool, error) {
	type answer struct {
		namespaced bool
		err        error
	}
	ch := make(chan answer, 1)
	go func() {
		n, err := c.IsObjectNamespaced(obj)
		ch <- answer{n, err}
	}()
	select {
	case a := <-ch:
		return a.namespaced, a.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Impersonation hands out the client that acts as a ServiceAccount.
type Impersonation interface {
	As(namespace, serviceAccount string) (client.Client, error)
}

// Impersonator hands out one client per ServiceAccount, each acting as that ServiceAccount through
// Kubernetes impersonation. Clients share the base client's REST mapper and are cached for the life of
// the listener, so a delivery costs no client construction.
type Impersonator struct {
	base *rest.Config
	opts client.Options

	mu      sync.Mutex
	clients map[string]client.Client
}

// NewImpersonator returns an Impersonator building on cfg (the listener's own credentials, which need the
// `impersonate` verb on serviceaccounts) with opts (scheme, and the mapper to share).
func NewImpersonator(cfg *rest.Config, opts client.Options) *Impersonator {
	return &Impersonator{base: rest.CopyConfig(cfg), opts: opts, clients: map[string]client.Client{}}
}

// As returns the client acting as ServiceAccount namespace/serviceAccount.
func (im *Impersonator) As(namespace, serviceAccount string) (client.Client, error) {
	user := identity{Namespace: namespace, ServiceAccount: serviceAccount}.User()
	im.mu.Lock()
	defer im.mu.Unlock()
	if c, ok := im.clients[user]; ok {
		return c, nil
	}
	cfg := rest.CopyConfig(im.base)
	// The API server adds the system:serviceaccounts groups itself when a ServiceAccount is impersonated.
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, im.opts)
	if err != nil {
		return nil, fmt.Errorf("client impersonating %s: %w", user, err)
	}
	if len(im.clients) >= 1024 { // ServiceAccounts come from configuration; bound the cache all the same
		im.clients = map[string]client.Client{}
	}
	im.clients[user] = c
	return c, nil
}
