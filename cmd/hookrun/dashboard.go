package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/dashboard"
)

// runDashboard serves the web dashboard against a cluster until ctx ends.
func runDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dashboard", "dashboard [--addr HOST:PORT] [--kubeconfig FILE] [--namespace NS]... [--allow-actions]", stderr)
	addr := fs.String("addr", dashboard.DefaultAddr, "listen address (loopback by default: the dashboard has no login of its own; put it behind your cluster's auth proxy to share it)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then in-cluster, then ~/.kube/config)")
	var namespaces stringList
	fs.Var(&namespaces, "namespace", "show runs, EventListeners and deliveries of this `NS` only (repeatable; default all)")
	fs.Var(&namespaces, "n", "short for --namespace")
	allow := fs.Bool("allow-actions", false, "enable Cancel and Re-run (needs patch/create on PipelineRuns and TaskRuns: deploy/overlays/dashboard-actions)")
	pageSize := fs.Int("page-size", 50, "runs per page")
	archiveFlags := addArchiveFlags(fs, "directory of archived run logs, served under /archive (the executor's --log-archive)")
	if err := fs.Parse(args); err != nil {
		return stepFlagErr(err)
	}
	archive, err := archiveFlags.archive()
	if err != nil {
		fmt.Fprintln(stderr, "hookrun dashboard:", err)
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookrun dashboard: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	logger := newLogger(stderr, slog.LevelInfo)
	log.SetLogger(logr.FromSlogHandler(logger.Handler()))
	klog.SetLogger(logr.FromSlogHandler(logger.Handler()))

	if archive != nil {
		if err := checkArchive(ctx, archive); err != nil {
			return fmt.Errorf("log archive: %w", err)
		}
	}
	cfg, err := loadKubeConfig(*kubeconfig)
	if err != nil {
		return err
	}
	scheme, err := api.NewScheme()
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  dashboard.CacheOptions(namespaces),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 logr.FromSlogHandler(logger.Handler()),
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	srv, err := dashboard.New(dashboard.Options{
		Addr: *addr, Cache: mgr.GetCache(), Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Kube: kube,
		Namespaces: namespaces, AllowActions: *allow, PageSize: *pageSize, Logger: logger, Archive: archive,
		Ready: func(a string) { fmt.Fprintf(stdout, "dashboard: http://%s/\n", a) },
	})
	if err != nil {
		return err
	}
	if err := mgr.Add(srv); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
