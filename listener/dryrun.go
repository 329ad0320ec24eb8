package listener

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// Trace is what one trigger made of a delivery, reported by a dry run: the params its bindings resolved
// and the resources its template rendered, as they would be created, and who would create them.
type Trace struct {
	Trigger, Namespace string
	Params             map[string]string
	Resources          []*unstructured.Unstructured
	// ServiceAccount is namespace/name of the ServiceAccount the resources would be created as; empty
	// when the listener's own identity (confined to the trigger's namespace) would create them.
	ServiceAccount string
}

// DryRun serves one delivery through the same handler as POST /hooks, against objs held in memory (the
// manifests a user is about to apply: EventListeners, Triggers, bindings, templates, Secrets) instead
// of an API server. Nothing leaves the process: "created" resources land in the in-memory store. It
// returns the HTTP status and answer /hooks would give, and a Trace per trigger that got as far as
// rendering.
func DryRun(ctx context.Context, scheme *runtime.Scheme, objs []client.Object, req *http.Request, opts Options) (int, []byte, []Trace, error) {
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range scheme.AllKnownTypes() {
		scope := meta.RESTScopeNamespace
		switch gvk.Kind {
		case "Namespace", "ClusterTriggerBinding", "ClusterInterceptor", "ClusterRole", "ClusterRoleBinding",
			"CustomResourceDefinition", "PersistentVolume", "Node", "StorageClass", "ClusterTask":
			scope = meta.RESTScopeRoot
		}
		mapper.Add(gvk, scope)
	}
	store := fake.NewClientBuilder().WithScheme(scheme).WithRESTMapper(mapper).WithObjects(objs...).Build()
	var (
		mu     sync.Mutex
		traces []Trace
	)
	opts.Trace = func(t Trace) {
		mu.Lock()
		defer mu.Unlock()
		traces = append(traces, t)
	}
	opts.Impersonate = sameClient{store}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := New(store, store, nil, opts)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req.WithContext(ctx))
	if rec.Code == 0 {
		return 0, nil, nil, fmt.Errorf("dry run: the handler wrote no answer")
	}
	return rec.Code, rec.Body.Bytes(), traces, nil
}

// sameClient "impersonates" by handing out the in-memory store: a dry run reports the identity in the
// Trace, RBAC is the API server's to judge.
type sameClient struct{ c client.Client }

func (s sameClient) As(string, string) (client.Client, error) { return s.c, nil }

// trace reports what t rendered, before anything is created.
func (s *Server) trace(el elIdentity, t *trigger, values map[string]string, objs []*unstructured.Unstructured) {
	tr := Trace{Trigger: t.Name, Namespace: t.Namespace, Params: make(map[string]string, len(values))}
	for k, v := range values {
		tr.Params[k] = v
	}
	for _, o := range objs {
		tr.Resources = append(tr.Resources, o.DeepCopy())
	}
	if id := identityOf(el, t); !id.none() {
		tr.ServiceAccount = id.Namespace + "/" + id.ServiceAccount
	}
	s.opts.Trace(tr)
}
