// Package listener serves /hooks: it verifies each webhook delivery, runs the EventListener's triggers
// (interceptors in-process, bindings, templates) and creates their resources, then answers with what
// happened. The answer waits for the outcome; a redelivery of the same event creates nothing new.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/runctl"
)

// Options configure a Server. Zero values take the defaults below.
type Options struct {
	Addr           string        // listen address; default ":8080"
	Namespace      string        // namespace of the EventListeners; default "default"
	EventListener  string        // the EventListener POST /hooks and POST / serve
	MaxBody        int64         // largest body accepted; default 25 MiB (GitHub's cap)
	HandlerTimeout time.Duration // bound on one delivery; default 8s (GitHub waits 10s)
	MaxInFlight    int           // deliveries processed at once; default 64
	Backlog        int           // deliveries waiting for a slot; default 4×MaxInFlight; beyond → 429
	// ShutdownTimeout bounds how long in-flight deliveries may finish after SIGTERM; default 15s.
	ShutdownTimeout   time.Duration
	ReadHeaderTimeout time.Duration // default 5s (slowloris)
	MaxHeaderBytes    int           // default 64 KiB
	CELCostLimit      uint64        // per-expression CEL cost budget; 0 = the interceptors default
	// BodyTimeout bounds the time a sender may take to send the body once its headers arrived; default
	// 5s, answered 408 (GitHub and GitLab send at once and wait 10s for the answer).
	BodyTimeout time.Duration
	// MaxBodyBytesInFlight bounds the memory that bodies and their decoded JSON hold at once, across
	// every delivery; default 128 MiB. A delivery that does not fit waits up to BudgetWait, then is
	// answered 429 with Retry-After. docs/reliability.md relates it to the pod's memory limit.
	MaxBodyBytesInFlight int64
	BudgetWait           time.Duration // default 1s
	// MaxJSONValues bounds the values (objects, arrays, keys, scalars) one body may decode into; default
	// 400,000 (a 2,048-commit GitHub push holds about 100,000). Beyond: 413, never decoded.
	MaxJSONValues int
	// ReplayWindow is how long identical authenticated bytes count as a replay of the first delivery
	// (answered duplicate, no new run); default 24h; negative: for as long as the first run exists.
	ReplayWindow time.Duration
	// RequireAuth refuses to serve triggers that accept unauthenticated posts (no provider interceptor
	// with a secretRef, no cel filter calling compareSecret): they fail as misconfigured, are listed on
	// /readyz and in the EventListener's status.
	RequireAuth bool
	// AnyPath answers a POST on every path for EventListener alone, as Tekton's el- sink does (an el-NAME
	// Pod: /hooks, / and whatever an Ingress forwards); no other EventListener is reachable.
	AnyPath bool
	// Impersonate makes the clients that create a trigger's resources as its ServiceAccount (the Trigger's,
	// else the EventListener's serviceAccountName): NewImpersonator. nil: such triggers fail, saying
	// impersonation is off.
	Impersonate Impersonation
	// Trace, when set, is told what each trigger that rendered resources made of a delivery (dry runs).
	Trace func(Trace)
	// NoDeliveryEvents turns off the Event each delivery leaves on its EventListener (history.go).
	NoDeliveryEvents bool
	// DeadLetter, when set, stores deliveries answered 503 because the Kubernetes API was unavailable, for
	// Server.RunDeadLetter to re-submit (deadletter.go).
	DeadLetter *DeadLetter
	// ForgeHTTPClient calls the forges for run control: a pull/merge request's changed files (path
	// filters) and the skipped status of a filtered-out event (runctl_forge.go). Default: a 5 s timeout.
	ForgeHTTPClient *http.Client
	// ChangedFilesCache bounds the pull/merge requests (per head SHA) whose changed files are remembered;
	// default 4096.
	ChangedFilesCache int
	Logger            *slog.Logger
}

func (o *Options) defaults() {
	if o.Addr == "" {
		o.Addr = ":8080"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 25 << 20
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 8 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.Backlog <= 0 {
		o.Backlog = 4 * o.MaxInFlight
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 15 * time.Second
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 5 * time.Second
	}
	if o.MaxBodyBytesInFlight <= 0 {
		o.MaxBodyBytesInFlight = 128 << 20
	}
	if o.BudgetWait <= 0 {
		o.BudgetWait = time.Second
	}
	if o.MaxJSONValues <= 0 {
		o.MaxJSONValues = 400_000
	}
	if o.ReplayWindow == 0 {
		o.ReplayWindow = 24 * time.Hour
	}
	if o.ForgeHTTPClient == nil {
		o.ForgeHTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.ChangedFilesCache <= 0 {
		o.ChangedFilesCache = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Syncer is what the listener waits on before it reports ready (a controller-runtime cache).
type Syncer interface {
	WaitForCacheSync(ctx context.Context) bool
}

// Server is the EventListener HTTP server.
type Server struct {
	opts    Options
	reader  client.Reader // informer cache: configuration and secrets
	client  client.Client // writes go straight to the API server
	syncer  Syncer
	config  *config
	metrics *metrics
	log     *slog.Logger
	ready   atomic.Bool
	budget  *budget
	slots   *slots
	// prFiles remembers pull/merge requests' changed files per head SHA (runctl_forge.go).
	prFiles *runctl.FilesCache
	// recorder records Events on EventListeners while Serve runs (nil before and after).
	recorder atomic.Pointer[record.EventRecorder]
	// events drops, before they are formatted, the Events the recorder's rate limit would drop.
	events eventGate
}

// New returns a Server reading configuration through reader (an informer cache) and creating resources
// with c. syncer, if not nil, gates /readyz until the cache has synced.
func New(reader client.Reader, c client.Client, syncer Syncer, opts Options) *Server {
	opts.defaults()
	s := &Server{opts: opts, reader: reader, client: c, syncer: syncer, metrics: newMetrics(), log: opts.Logger,
		budget:  newBudget(opts.MaxBodyBytesInFlight, opts.BudgetWait),
		slots:   newSlots(opts.MaxInFlight, opts.Backlog, opts.HandlerTimeout),
		prFiles: runctl.NewFilesCache(opts.ChangedFilesCache)}
	s.config = newConfig(reader, interceptors.Options{CELCostLimit: opts.CELCostLimit}, opts.RequireAuth)
	if syncer == nil {
		s.ready.Store(true)
	}
	return s
}

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.observe)
	r.Get("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Get("/readyz", s.handleReady)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	// No throttle middleware: handleHook takes its in-flight slot once the body is in memory.
	def := func(w http.ResponseWriter, r *http.Request) { s.handleHook(w, r, s.opts.EventListener) }
	r.Post("/hooks", def)
	r.Post(PACPath, s.handlePAC) // Pipelines-as-Code Repositories (pac.go); wins over /hooks/{name}
	r.Post("/", def)
	if s.opts.AnyPath {
		r.Post("/*", def)
	} else {
		r.Post("/hooks/{name}", func(w http.ResponseWriter, r *http.Request) { s.handleHook(w, r, chi.URLParam(r, "name")) })
	}
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here: webhooks are POSTed", r.Method))
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: POST webhooks to /hooks or /hooks/EVENTLISTENER")
	})
	return r
}

// observe records hookrun_http_request_duration_seconds per route.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "other"
		}
		s.metrics.requestDuration.WithLabelValues(route, strconv.Itoa(ww.Status())).Observe(time.Since(start).Seconds())
	})
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "informer caches not synced yet", http.StatusServiceUnavailable)
		return
	}
	var b strings.Builder
	b.WriteString("ok\n")
	for _, p := range s.config.problems() {
		b.WriteString("invalid trigger " + p + "\n")
	}
	for _, t := range s.config.openTriggers() {
		b.WriteString("open trigger " + t + ": accepts unauthenticated posts\n")
	}
	_, _ = w.Write([]byte(b.String()))
}

// NeedLeaderElection says every listener replica serves (controller-runtime Runnable).
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves on opts.Addr until ctx is done (controller-runtime Runnable).
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.opts.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then stops accepting and lets in-flight deliveries finish within
// ShutdownTimeout: a delivery is either answered with its outcome or not answered at all.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.syncer != nil {
		go func() {
			if s.syncer.WaitForCacheSync(ctx) {
				s.ready.Store(true)
			}
		}()
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.HandlerTimeout + 30*time.Second,
		WriteTimeout:      s.opts.HandlerTimeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.client != nil {
		// Per EventListener and Event type (eventgate.go, which applies the same limit first).
		events := record.NewBroadcaster(record.WithCorrelatorOptions(record.CorrelatorOptions{BurstSize: eventBurst, QPS: eventQPS, MaxEvents: eventBurst}))
		events.StartRecordingToSink(&eventSink{c: s.client})
		var rec record.EventRecorder = events.NewRecorder(s.client.Scheme(), corev1.EventSource{Component: "hookrun-listener"})
		s.recorder.Store(&rec)
		defer func() {
			s.recorder.Store(nil)
			events.Shutdown()
		}()
	}
	go s.checkLoop(ctx, 5*time.Second)
	if s.client != nil && s.opts.Trace == nil {
		go s.scheduleLoop(ctx, time.Second)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listener serving", "addr", ln.Addr().String(), "namespace", s.opts.Namespace, "eventlistener", s.opts.EventListener)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
