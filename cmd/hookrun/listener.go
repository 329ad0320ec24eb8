package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elstatus"
	"github.com/hookrun/hookrun/listener"
)

func listenerFlags(fs *flag.FlagSet, o *listener.Options) {
	fs.StringVar(&o.Addr, "addr", ":8080", "address to serve /hooks, /livez, /readyz and /metrics on")
	fs.StringVar(&o.Namespace, "namespace", "default", "namespace of the EventListeners")
	fs.StringVar(&o.EventListener, "eventlistener", "", "EventListener served at POST /hooks and POST / (POST /hooks/NAME serves any)")
	fs.Int64Var(&o.MaxBody, "max-body", 25<<20, "largest request body accepted, in bytes (413 beyond)")
	fs.DurationVar(&o.HandlerTimeout, "handler-timeout", 8e9, "bound on one delivery, answer included (GitHub and GitLab wait 10s)")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", 64, "deliveries processed at once; more wait in a backlog, then get 429 with Retry-After")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 15e9, "on SIGTERM, time given to in-flight deliveries to finish")
	fs.Uint64Var(&o.CELCostLimit, "cel-cost-limit", 0, "cost budget of one CEL evaluation (0 = default 1,000,000)")
	fs.DurationVar(&o.BodyTimeout, "body-timeout", 5e9, "time a sender may take to send the body after its headers (408 beyond); no in-flight slot is held meanwhile")
	fs.Int64Var(&o.MaxBodyBytesInFlight, "max-body-bytes-in-flight", 128<<20,
		"memory that bodies and their decoded JSON may hold at once, across all deliveries, in bytes (beyond: wait 1s, then 429 with Retry-After); keep it under the memory limit minus ~64 MiB (docs/reliability.md)")
	fs.IntVar(&o.MaxJSONValues, "max-json-values", 400_000, "JSON values (objects, arrays, keys, scalars) one body may decode into (413 beyond, never decoded)")
	o.ReplayWindow = 24 * time.Hour
	fs.Func("replay-window", "how long the same authenticated body counts as a replay (answered duplicate, no new run); 0: for as long as the first run exists (default 24h)",
		func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			if d <= 0 {
				d = -1
			}
			o.ReplayWindow = d
			return nil
		})
	fs.BoolVar(&o.AnyPath, "any-path", false, "answer a POST on every path for --eventlistener alone, as Tekton's el- sink (what el-NAME Pods run); /hooks/NAME then serves no other EventListener")
	fs.BoolFunc("delivery-events", "leave one Event per delivery on its EventListener (kubectl describe eventlistener; default true)",
		func(v string) error {
			b, err := strconv.ParseBool(v)
			o.NoDeliveryEvents = !b
			return err
		})
	fs.BoolVar(&o.RequireAuth, "require-auth", false, "refuse to serve triggers that accept unauthenticated posts (no github/gitlab/bitbucket interceptor with a secretRef, no cel compareSecret filter): they fail, and /readyz and the EventListener's status list them")
}

func runListener(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("listener", "listener [flags]", stderr)
	var o listener.Options
	listenerFlags(fs, &o)
	f := addListenerCmdFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	log := newLogger(stderr, slog.LevelInfo)
	o.Logger = log
	cfg, err := loadKubeConfig(*f.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(*f.qps), *f.burst
	scheme, err := api.NewScheme()
	if err != nil {
		return err
	}
	watch := f.watch
	if len(watch) > 0 && !contains(watch, o.Namespace) {
		watch = append(watch, o.Namespace)
	}
	access, err := listener.NewAPIAccess(cfg)
	if err != nil {
		return err
	}
	cache, err := listener.NewCacheWith(cfg, scheme, watch, access)
	if err != nil {
		return err
	}
	if err := listener.Warm(ctx, cache); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: access.HTTPClient, Mapper: access.Mapper})
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	// Triggers naming a ServiceAccount create their resources as it (Tekton's semantics).
	o.Impersonate = listener.NewImpersonator(cfg, client.Options{Scheme: scheme, Mapper: c.RESTMapper()})
	if *f.deadLetter != "" {
		if o.DeadLetter, err = listener.OpenDeadLetter(*f.deadLetter, *f.deadFiles, *f.deadBytes, log.With("component", "dead-letter")); err != nil {
			return err
		}
	}
	return f.serve(ctx, cfg, cache, c, o)
}

// listenerCmdFlags are `hookrun listener`'s flags beyond the listener's own Options.
type listenerCmdFlags struct {
	kubeconfig, publicURL, metricsAddr, tlsCert, tlsKey, deadLetter *string
	qps                                                             *float64
	burst, recoverMax, deadFiles                                    *int
	deadBytes                                                       *int64
	writeStatus, onlyShared                                         *bool
	recoverEvery, recoverGitLabPace, deadRetry                      *time.Duration
	watch                                                           stringList
}

func addListenerCmdFlags(fs *flag.FlagSet) *listenerCmdFlags {
	f := &listenerCmdFlags{
		kubeconfig: fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)"),
		publicURL: fs.String("public-url", "", "URL the listener is reached at, written to each EventListener's status.address.url "+
			"(default in-cluster: http://hookrun-listener.NAMESPACE.svc.cluster.local:PORT, else http://localhost:PORT)"),
		qps:         fs.Float64("kube-api-qps", 200, "client-side rate limit of Kubernetes API requests per second"),
		burst:       fs.Int("kube-api-burst", 400, "burst of Kubernetes API requests above --kube-api-qps"),
		metricsAddr: fs.String("metrics-addr", "", "also serve /metrics on this address (el-NAME Pods: :9000, as Tekton's)"),
		writeStatus: fs.Bool("write-status", true, "write EventListeners' status (one replica, elected by the Lease "+elstatus.LeaseName+"); el-NAME Pods do not: the executor's EventListener reconciler does"),
		onlyShared: fs.Bool("status-only-shared", true, "write the status of EventListeners annotated "+triggersv1beta1.AnnotationListener+": "+triggersv1beta1.ListenerShared+
			" only (the executor's EventListener reconciler writes the others'); false: of every EventListener (no reconciler runs)"),
		tlsCert: fs.String("tls-cert", "", "serve HTTPS with this certificate file (with --tls-key; Tekton's TLS_CERT)"),
		tlsKey:  fs.String("tls-key", "", "private key file of --tls-cert (Tekton's TLS_KEY)"),
		recoverEvery: fs.Duration("recover-interval", 5*time.Minute, "how often one replica (the holder of the Lease "+listener.RecoveryLeaseName+
			") asks GitHub to redeliver, and GitLab to resend, the failed deliveries of the hooks EventListeners name in "+listener.AnnotationGitHubHook+
			" and "+listener.AnnotationGitLabHook+" (also at start-up); 0: never. el-NAME Pods (--any-path) do not: the shared listener does"),
		recoverMax:        fs.Int("recover-max", 50, "redeliveries (GitLab: resends) asked for in one recovery pass, at most (the rest waits for the next pass)"),
		recoverGitLabPace: fs.Duration("recover-gitlab-pace", 12*time.Second, "pause between two GitLab resends (gitlab.com allows five a minute for each hook and user; a self-managed GitLab without that limit can go faster)"),
		deadLetter:        fs.String("dead-letter", "", "directory for deliveries answered 503 because the Kubernetes API was unavailable; they are re-submitted when it is back (hookrun deliveries lists them); empty: off"),
		deadFiles:         fs.Int("dead-letter-max-files", 1000, "dead letters kept at most (the oldest are dropped, logged)"),
		deadBytes:         fs.Int64("dead-letter-max-bytes", 256<<20, "bytes of dead letters kept at most (the oldest are dropped, logged)"),
		deadRetry:         fs.Duration("dead-letter-retry", 10*time.Second, "how often dead letters are re-submitted"),
	}
	fs.Var(&f.watch, "watch-namespace", "namespace whose Triggers, bindings, templates and Secrets are read (repeatable; default: all)")
	return f
}

// serve runs the listener and what goes with it — its cache, metrics, dead letters, delivery recovery and
// EventListener status (the last two on the Lease holder only) — until ctx ends or one of them fails.
func (f *listenerCmdFlags) serve(ctx context.Context, cfg *rest.Config, cache ctrlcache.Cache, c client.Client, o listener.Options) error {
	log := o.Logger
	srv := listener.New(cache, c, cache, o)
	kick, err := elstatus.Changes(ctx, cache)
	if err != nil {
		return err
	}
	sopts := elstatus.Options{URL: listenerURL(*f.publicURL, o.Addr, o.Namespace), Namespace: o.Namespace,
		Default: o.EventListener, Health: srv.Health, Logger: log.With("component", "eventlistener-status")}
	if *f.onlyShared {
		sopts.Owns = triggersv1beta1.SharedListener
	}
	status := elstatus.New(cache, c, sopts)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return cache.Start(gctx) })
	g.Go(func() error { return serveListener(gctx, srv, o.Addr, *f.tlsCert, *f.tlsKey) })
	if *f.metricsAddr != "" {
		g.Go(func() error { return serveMetrics(gctx, *f.metricsAddr, srv.MetricsHandler()) })
	}
	if o.DeadLetter != nil {
		g.Go(func() error { return srv.RunDeadLetter(gctx, *f.deadRetry) })
	}
	if *f.recoverEvery > 0 && !o.AnyPath {
		// One replica (the Lease holder) asks GitHub and GitLab to deliver again what failed while hookrun was down.
		rc := listener.NewRecoverer(cache, c, listener.RecoveryOptions{Namespace: o.Namespace, Interval: *f.recoverEvery,
			MaxPerPass: *f.recoverMax, GitLabEvery: *f.recoverGitLabPace, Logger: log.With("component", "delivery-recovery")})
		g.Go(func() error { return listener.RunRecoveryElected(gctx, cfg, o.Namespace, "", rc) })
	}
	if *f.writeStatus {
		// One replica (the Lease holder) writes the EventListeners' status.address.url and conditions.
		g.Go(func() error { return elstatus.RunElected(gctx, cfg, o.Namespace, "", status, kick) })
	}
	return g.Wait()
}

// listenerURL is the base URL EventListener status advertises: --public-url, else the in-cluster Service
// name (deploy/ names it hookrun-listener), else localhost, with the port of addr.
func listenerURL(public, addr, ns string) string {
	if public != "" {
		return strings.TrimRight(public, "/")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return "http://hookrun-listener." + ns + ".svc.cluster.local:" + port
	}
	return "http://localhost:" + port
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
