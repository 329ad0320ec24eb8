package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/go-logr/logr"

	"github.com/hookrun/hookrun/api"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elreconciler"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/resolve"
)

// executorFlags are `hookrun executor`'s flags.
type executorFlags struct {
	kubeconfig, namespace, leNamespace            *string
	leaderElect, eventListeners, forgeStatus      *bool
	sequentialSteps, entrypointLookup             *bool
	maxRuns, workers, burst                       *int
	qps                                           *float64
	kaniko, gitImage, hookrunImage, listenerImage *string
	metricsAddr, healthAddr, dashboardURL         *string
	hubURL, artifactHubURL, configNamespace       *string
	keep                                          *retentionFlags
}

func addExecutorFlags(fs *flag.FlagSet) *executorFlags {
	return &executorFlags{
		kubeconfig:    fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file (default $KUBECONFIG, then in-cluster)"),
		namespace:     fs.String("namespace", "", "only run PipelineRuns and TaskRuns in this namespace (default all)"),
		leaderElect:   fs.Bool("leader-elect", true, "elect a leader so only one executor replica acts"),
		leNamespace:   fs.String("leader-election-namespace", "", "namespace of the leader-election Lease (default: the Pod's namespace in-cluster, else default)"),
		maxRuns:       fs.Int("max-concurrent-runs", 0, "PipelineRuns running at once (0 = unlimited); the rest wait with reason Queued, oldest first"),
		kaniko:        fs.String("kaniko-image", executor.DefaultKanikoImage, "image for steps that name gcr.io/kaniko-project/executor (a Task's BUILDER_IMAGE param given by the run wins)"),
		gitImage:      fs.String("git-image", executor.DefaultGitImage, "image that clones v1beta1 git PipelineResources"),
		hookrunImage:  fs.String("hookrun-image", executor.DefaultHookrunImage, "hookrun's own image (prepare and results containers)"),
		listenerImage: fs.String("listener-image", "", "image of the el-NAME Deployments that run hookrun listener per EventListener (default: --hookrun-image)"),
		eventListeners: fs.Bool("eventlisteners", true, "run the EventListener reconciler: an el-NAME Deployment and Service per EventListener not annotated "+
			triggersv1beta1.AnnotationListener+": "+triggersv1beta1.ListenerShared+", as Tekton Triggers"),
		metricsAddr:      fs.String("metrics-addr", ":9090", "Prometheus metrics address (0 = off)"),
		healthAddr:       fs.String("health-addr", ":8081", "health probe address (/healthz, /readyz; empty = off)"),
		workers:          fs.Int("workers", 4, "concurrent reconciles per controller"),
		qps:              fs.Float64("kube-api-qps", 200, "API server requests per second the executor may make"),
		burst:            fs.Int("kube-api-burst", 400, "API server request burst"),
		forgeStatus:      fs.Bool("forge-status", true, "report commit statuses to GitHub/GitLab for runs annotated hookrun.dev/status (see README)"),
		dashboardURL:     fs.String("dashboard-url", "", "the dashboard's external URL: commit statuses link to its page of the run unless hookrun.dev/status-url says otherwise"),
		hubURL:           fs.String("hub-url", resolve.DefaultTektonHubURL, "Tekton Hub API of the hub resolver (type tekton)"),
		artifactHubURL:   fs.String("artifact-hub-url", resolve.DefaultArtifactHubURL, "Artifact Hub API of the hub resolver (type artifact, the default type)"),
		sequentialSteps:  fs.Bool("sequential-steps", false, "run steps as init containers one after another (the fallback layout) instead of regular containers sequenced by their wrappers"),
		entrypointLookup: fs.Bool("entrypoint-lookup", true, "read the entrypoint of images whose steps give no command from their registry (with the Pod's pull secrets), so those steps can be regular containers too"),
		keep:             addRetentionFlags(fs),
		configNamespace: fs.String("config-namespace", "", "namespace of the config-defaults and feature-flags ConfigMaps the executor reads and watches, "+
			"as Tekton's in tekton-pipelines (empty = Tekton's defaults; see README)"),
	}
}

// options are the executor's options from the flags.
func (f *executorFlags) options(logger *slog.Logger) executor.Options {
	return executor.Options{
		Namespace: *f.namespace, MaxConcurrentRuns: *f.maxRuns,
		HookrunImage: *f.hookrunImage, KanikoImage: *f.kaniko, GitImage: *f.gitImage,
		Workers: *f.workers, Logger: logger,
		ForgeStatus:     executor.ForgeStatusOptions{Disabled: !*f.forgeStatus, DashboardURL: *f.dashboardURL},
		SequentialSteps: *f.sequentialSteps, NoEntrypointLookup: !*f.entrypointLookup,
		HubURL: *f.hubURL, ArtifactHubURL: *f.artifactHubURL, ConfigNamespace: *f.configNamespace,
	}
}

// runExecutor runs the PipelineRun and TaskRun controllers until ctx ends.
func runExecutor(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("executor", "executor [flags]", stderr)
	f := addExecutorFlags(fs)
	if err := fs.Parse(args); err != nil {
		return stepFlagErr(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookrun executor: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	retain, retainOn, err := f.keep.options(*f.namespace)
	if err != nil {
		fmt.Fprintln(stderr, "hookrun executor:", err)
		return errUsage
	}
	if *f.listenerImage == "" {
		*f.listenerImage = *f.hookrunImage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	log.SetLogger(logr.FromSlogHandler(logger.Handler()))
	klog.SetLogger(logr.FromSlogHandler(logger.Handler())) // leader election logs through klog

	cfg, err := loadKubeConfig(*f.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(*f.qps), *f.burst
	opts := f.options(logger)
	mgr, err := f.manager(cfg, opts)
	if err != nil {
		return err
	}
	if err := executor.Setup(mgr, opts); err != nil {
		return err
	}
	if retainOn {
		if err := checkArchive(ctx, retain.Archive); err != nil {
			return fmt.Errorf("log archive: %w", err)
		}
		if err := setupRetention(mgr, cfg, retain, logger); err != nil {
			return err
		}
	}
	if *f.eventListeners {
		if err := elreconciler.Setup(mgr, elreconciler.Options{Image: *f.listenerImage, Namespace: *f.namespace,
			Logger: logger.With("controller", "eventlistener")}); err != nil {
			return err
		}
	}
	logger.Info("executor starting", "namespace", *f.namespace, "leaderElect", *f.leaderElect, "maxConcurrentRuns", *f.maxRuns,
		"kanikoImage", *f.kaniko, "gitImage", *f.gitImage, "hookrunImage", *f.hookrunImage, "eventlisteners", *f.eventListeners, "listenerImage", *f.listenerImage)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	return nil
}

// manager is the controller-runtime manager the executor's controllers run on: its cache, metrics,
// health probes and leader election.
func (f *executorFlags) manager(cfg *rest.Config, opts executor.Options) (manager.Manager, error) {
	scheme, err := api.NewScheme()
	if err != nil {
		return nil, err
	}
	cacheOpts := executor.CacheOptions(opts)
	if *f.eventListeners {
		cacheOpts = elreconciler.CacheOptions(cacheOpts)
	}
	leNS := *f.leNamespace
	if *f.leaderElect && leNS == "" {
		if _, err := rest.InClusterConfig(); err != nil {
			leNS = "default" // out of cluster: controller-runtime cannot guess it
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: *f.metricsAddr},
		HealthProbeBindAddress:  *f.healthAddr,
		LeaderElection:          *f.leaderElect,
		LeaderElectionID:        "hookrun-executor",
		LeaderElectionNamespace: leNS,
		// A replica stopped with SIGTERM hands over at once instead of making the next wait out the lease.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	if *f.healthAddr != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}
