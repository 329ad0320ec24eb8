// Package dashboard is hookrun's web UI: the runs of the watched namespaces, one run's task graph, steps and
// live step logs, the deliveries each EventListener recorded as Events, and (when allowed) cancel and
// re-run. Pages are rendered on the server with html/template from embedded assets; a little plain
// JavaScript swaps in fresh fragments when the server says something changed (server-sent events fed by
// the informers' watches, no polling) and streams step logs read through the API server's pods/log.
//
// `hookrun dashboard` serves it against a cluster; `hookrun dev` serves it beside the listener.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/runlogs"
)

// DefaultAddr is where `hookrun dashboard` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:9097"

// Options configure a Server. Cache, Client and Kube are required.
type Options struct {
	// Addr is the listen address (default DefaultAddr); Start serves on it unless Listener is set.
	Addr string
	// Listener, if set, is where Start serves (Addr is then ignored).
	Listener net.Listener
	// Cache is an informer cache (a manager's GetCache()): PipelineRuns, TaskRuns and EventListeners are
	// read from it, and its watches drive the live updates.
	Cache cache.Cache
	// Client writes the actions (cancel, re-run).
	Client client.Client
	// APIReader reads one run's full spec for its page (default Client). With a manager, pass
	// GetAPIReader(): the cache Watch fills may hold runs without their specs (see CacheOptions).
	APIReader client.Reader
	// Kube reads pods/log and the EventListeners' Events.
	Kube kubernetes.Interface
	// Namespaces limits what is shown (empty: every namespace).
	Namespaces []string
	// AllowActions enables cancel and re-run; without it they are refused with 403.
	AllowActions bool
	// PageSize is the number of runs per page (default 50).
	PageSize int
	// Logger receives the dashboard's logs (default slog.Default()).
	Logger *slog.Logger
	// Ready, if set, receives the listen address once the server accepts connections.
	Ready func(addr string)
	// Archive, if set, serves the logs of PipelineRuns that retention deleted (archive.go).
	Archive *runlogs.Archive
}

//go:embed templates/*.html static/*
var assets embed.FS

// Server is the dashboard. It implements manager.Runnable.
type Server struct {
	opts   Options
	log    *slog.Logger
	pages  map[string]*template.Template
	store  *store
	hub    *hub
	events *eventStore
	static http.Handler
	synced chan struct{}
	once   sync.Once
}

// New checks the options and parses the templates; Start registers the watches and serves.
func New(o Options) (*Server, error) {
	if o.Cache == nil || o.Client == nil || o.Kube == nil {
		return nil, errors.New("dashboard: Cache, Client and Kube are required")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.APIReader == nil {
		o.APIReader = o.Client
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	return &Server{opts: o, log: o.Logger, pages: pages, store: newStore(), hub: newHub(), events: newEventStore(),
		static: http.StripPrefix("/static/", http.FileServer(http.FS(sub))), synced: make(chan struct{})}, nil
}

// NeedLeaderElection: every replica serves the dashboard.
func (s *Server) NeedLeaderElection() bool { return false }

// watched reports whether namespace ns is shown.
func (s *Server) watched(ns string) bool {
	return len(s.opts.Namespaces) == 0 || slices.Contains(s.opts.Namespaces, ns)
}

// Watch registers the informer handlers that feed the runs index and the live updates, and starts the
// Events informers; it returns once they have synced. Start calls it; tests and benchmarks may call it
// and serve Handler themselves.
func (s *Server) Watch(ctx context.Context) error {
	var err error
	s.once.Do(func() { err = s.watch(ctx) })
	return err
}

func (s *Server) watch(ctx context.Context) error {
	prInf, err := s.opts.Cache.GetInformer(ctx, &pipelinev1.PipelineRun{})
	if err != nil {
		return fmt.Errorf("dashboard: PipelineRun informer: %w", err)
	}
	trInf, err := s.opts.Cache.GetInformer(ctx, &pipelinev1.TaskRun{})
	if err != nil {
		return fmt.Errorf("dashboard: TaskRun informer: %w", err)
	}
	prReg, err := prInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onPipelineRun(o, false) },
		UpdateFunc: func(_, o any) { s.onPipelineRun(o, false) },
		DeleteFunc: func(o any) { s.onPipelineRun(o, true) },
	})
	if err != nil {
		return fmt.Errorf("dashboard: PipelineRun handler: %w", err)
	}
	trReg, err := trInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onTaskRun(o, false) },
		UpdateFunc: func(_, o any) { s.onTaskRun(o, false) },
		DeleteFunc: func(o any) { s.onTaskRun(o, true) },
	})
	if err != nil {
		return fmt.Errorf("dashboard: TaskRun handler: %w", err)
	}
	namespaces := s.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var syncs []toolscache.InformerSynced
	for _, ns := range namespaces {
		lw := toolscache.NewFilteredListWatchFromClient(s.opts.Kube.CoreV1().RESTClient(), "events", ns, func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("involvedObject.kind", "EventListener").String()
		})
		inf := toolscache.NewSharedIndexInformer(lw, &corev1.Event{}, 0, toolscache.Indexers{})
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.onEvent(o, false) },
			UpdateFunc: func(_, o any) { s.onEvent(o, false) },
			DeleteFunc: func(o any) { s.onEvent(o, true) },
		}); err != nil {
			return fmt.Errorf("dashboard: Event handler: %w", err)
		}
		go inf.Run(ctx.Done())
		syncs = append(syncs, inf.HasSynced)
	}
	syncs = append(syncs, prReg.HasSynced, trReg.HasSynced)
	if !toolscache.WaitForCacheSync(ctx.Done(), syncs...) {
		return fmt.Errorf("dashboard: informers did not sync: %w", ctx.Err())
	}
	close(s.synced)
	return nil
}

func (s *Server) onPipelineRun(o any, deleted bool) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o, deleted = d.Obj, true
	}
	pr, ok := o.(*pipelinev1.PipelineRun)
	if !ok || !s.watched(pr.Namespace) {
		return
	}
	if deleted {
		s.store.remove(kindPipelineRun, pr.Namespace, pr.Name)
	} else {
		s.store.put(pipelineRunSummary(pr))
	}
	s.hub.publish(change{Kind: kindPipelineRun, Namespace: pr.Namespace, Name: pr.Name})
}

func (s *Server) onTaskRun(o any, deleted bool) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o, deleted = d.Obj, true
	}
	tr, ok := o.(*pipelinev1.TaskRun)
	if !ok || !s.watched(tr.Namespace) {
		return
	}
	if deleted {
		s.store.remove(kindTaskRun, tr.Namespace, tr.Name)
	} else {
		s.store.put(taskRunSummary(tr))
	}
	s.hub.publish(change{Kind: kindTaskRun, Namespace: tr.Namespace, Name: tr.Name, Parent: tr.Labels[labelPipelineRun]})
}

func (s *Server) onEvent(o any, deleted bool) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o, deleted = d.Obj, true
	}
	ev, ok := o.(*corev1.Event)
	if !ok || !s.watched(ev.Namespace) {
		return
	}
	s.events.put(ev, deleted)
	s.hub.publish(change{Kind: "events", Namespace: ev.InvolvedObject.Namespace, Name: ev.InvolvedObject.Name})
}

// Start serves the dashboard on Options.Addr until ctx is done.
func (s *Server) Start(ctx context.Context) error {
	ln := s.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.opts.Addr); err != nil {
			return fmt.Errorf("dashboard: listen %s: %w", s.opts.Addr, err)
		}
	}
	return s.Serve(ctx, ln)
}

// Serve serves the dashboard on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := s.Watch(ctx); err != nil {
		_ = srv.Close()
		return err
	}
	s.log.Info("dashboard serving", "addr", ln.Addr().String(), "actions", s.opts.AllowActions)
	if s.opts.Ready != nil {
		s.opts.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// Handler serves every page. Until the informers have synced, pages answer 503.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/runs", http.StatusFound) })
	mux.HandleFunc("GET /runs", s.whenSynced(s.runsPage))
	mux.HandleFunc("GET /runs/{ns}/{kind}/{name}", s.whenSynced(s.runPage))
	mux.HandleFunc("GET /deliveries", s.whenSynced(s.deliveriesIndex))
	mux.HandleFunc("GET /deliveries/{ns}/{name}", s.whenSynced(s.deliveriesPage))
	mux.HandleFunc("GET /live", s.whenSynced(s.live))
	mux.HandleFunc("GET /logs/{ns}/{taskrun}/{step}", s.whenSynced(s.logs))
	mux.HandleFunc("GET /archive/{ns}/{name}", s.archived)
	mux.HandleFunc("POST /actions/{action}/{ns}/{kind}/{name}", s.whenSynced(s.action))
	return securityHeaders(mux)
}

func (s *Server) whenSynced(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.synced:
			h(w, r)
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			http.Error(w, "the dashboard is still reading the cluster; try again in a moment", http.StatusServiceUnavailable)
		}
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// CacheOptions are the informer-cache settings `hookrun dashboard` uses: only the watched namespaces
// (all when empty), and runs kept without their specs (see slim): pass the manager's GetAPIReader() as
// Options.APIReader.
func CacheOptions(namespaces []string) cache.Options {
	o := cache.Options{DefaultTransform: slim}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// slim keeps in the cache only what the runs list, the live updates and the step logs read: metadata
// (without managedFields and kubectl's last-applied annotation), params, conditions, times, results,
// skipped tasks and step states. Specs (a run's Pipeline and Tasks, the bulk of its size) are read from
// the API server when a run's page is shown.
func slim(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a[lastApplied] != "" {
			delete(a, lastApplied)
			m.SetAnnotations(a)
		}
	}
	switch r := o.(type) {
	case *pipelinev1.PipelineRun:
		r.Spec = pipelinev1.PipelineRunSpec{PipelineRef: r.Spec.PipelineRef, Params: r.Spec.Params, Status: r.Spec.Status}
		r.Status.PipelineSpec, r.Status.ChildReferences, r.Status.TaskRuns, r.Status.Provenance = nil, nil, nil, nil
	case *pipelinev1.TaskRun:
		r.Spec = pipelinev1.TaskRunSpec{TaskRef: r.Spec.TaskRef, Params: r.Spec.Params, Status: r.Spec.Status}
		r.Status.TaskSpec, r.Status.RetriesStatus, r.Status.Sidecars, r.Status.Provenance = nil, nil, nil, nil
	}
	return o, nil
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
