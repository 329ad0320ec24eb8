package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api"
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
}

func runListener(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("listener", "listener [flags]", stderr)
	var o listener.Options
	listenerFlags(fs, &o)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	qps := fs.Float64("kube-api-qps", 200, "client-side rate limit of Kubernetes API requests per second")
	burst := fs.Int("kube-api-burst", 400, "burst of Kubernetes API requests above --kube-api-qps")
	var watch stringList
	fs.Var(&watch, "watch-namespace", "namespace whose Triggers, bindings, templates and Secrets are read (repeatable; default: all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	log := newLogger(stderr, slog.LevelInfo)
	o.Logger = log
	cfg, err := loadKubeConfig(*kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	scheme, err := api.NewScheme()
	if err != nil {
		return err
	}
	if len(watch) > 0 && !contains(watch, o.Namespace) {
		watch = append(watch, o.Namespace)
	}
	cache, err := listener.NewCache(cfg, scheme, watch)
	if err != nil {
		return err
	}
	if err := listener.Warm(ctx, cache); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	// Triggers naming a ServiceAccount create their resources as it (Tekton's semantics).
	o.Impersonate = listener.NewImpersonator(cfg, client.Options{Scheme: scheme, Mapper: c.RESTMapper()})
	srv := listener.New(cache, c, cache, o)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return cache.Start(gctx) })
	g.Go(func() error { return srv.Start(gctx) })
	return g.Wait()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
