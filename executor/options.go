package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hookrun/hookrun/executor/runconfig"
)

// Default images.
const (
	// DefaultHookrunImage runs the prepare and hookrun-results containers (hookrun's own image).
	DefaultHookrunImage = "ghcr.io/hookrun/hookrun:latest"
	// DefaultKanikoImage replaces the archived upstream gcr.io/kaniko-project/executor image.
	DefaultKanikoImage = "ghcr.io/hookrun/kaniko:latest"
	// DefaultGitImage runs the clone step of v1beta1 git PipelineResources.
	DefaultGitImage = "alpine/git:latest"
	// UpstreamKanikoImage is the image name --kaniko-image replaces (any tag or digest).
	UpstreamKanikoImage = "gcr.io/kaniko-project/executor"
)

// Default timeouts (Tekton's).
const (
	DefaultTimeout = time.Hour
)

// Options configure the executor.
type Options struct {
	// Namespace limits the executor to one namespace ("" = all).
	Namespace string
	// MaxConcurrentRuns caps PipelineRuns running at once (0 = unlimited); the rest wait with reason Queued
	// and start oldest first.
	MaxConcurrentRuns int
	// MaxMatrixCombinations caps the TaskRuns one matrixed pipeline task fans out to (0 = Tekton's
	// default-max-matrix-combinations-count, 256); a matrix beyond it fails the run.
	MaxMatrixCombinations int
	// HookrunImage, KanikoImage and GitImage: see the Default… constants.
	HookrunImage string
	KanikoImage  string
	GitImage     string
	// Workers is the number of concurrent reconciles per controller (default 4).
	Workers int
	// Logger is used for reconcile logs (default slog.Default()).
	Logger *slog.Logger
	// Now returns the time (tests); default time.Now.
	Now func() time.Time
	// SkipNameValidation lets several managers in one process register the executor's controllers (tests
	// that restart the executor); controller-runtime otherwise refuses a second controller of a name.
	SkipNameValidation bool
	// HubURL and ArtifactHubURL are the hub resolver's APIs for type tekton and type artifact (defaults:
	// Tekton's, resolve.DefaultTektonHubURL and resolve.DefaultArtifactHubURL).
	HubURL, ArtifactHubURL string
	// ForgeStatus configures the commit statuses reported for runs annotated hookrun.dev/status
	// (forgestatus.go).
	ForgeStatus ForgeStatusOptions
	// SequentialSteps lays every Pod out with its steps as init containers run one after another (the
	// fallback layout, doc.go); by default steps are regular containers sequenced by their wrappers.
	SequentialSteps bool
	// NoEntrypointLookup never reads image configs from registries: a step that runs its image's own
	// entrypoint then makes its Pod sequential. EntrypointLookupTimeout bounds one read (default 5s).
	NoEntrypointLookup      bool
	EntrypointLookupTimeout time.Duration
	// ConfigNamespace is the namespace whose config-defaults and feature-flags ConfigMaps the executor
	// reads and watches (package runconfig; Tekton's live in tekton-pipelines); "" = Tekton's defaults.
	ConfigNamespace string
	// Config holds the configuration those ConfigMaps give (default: a new store, kept current by Setup
	// when ConfigNamespace is set).
	Config *runconfig.Store
}

// config is the executor's current configuration (config-defaults, feature-flags).
func (o Options) config() runconfig.Config {
	if o.Config == nil {
		return runconfig.Default()
	}
	return o.Config.Get()
}

func (o Options) withDefaults() Options {
	if o.HookrunImage == "" {
		o.HookrunImage = DefaultHookrunImage
	}
	if o.KanikoImage == "" {
		o.KanikoImage = DefaultKanikoImage
	}
	if o.GitImage == "" {
		o.GitImage = DefaultGitImage
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Config == nil {
		o.Config = runconfig.NewStore()
	}
	return o
}

// CacheOptions returns the manager cache settings the executor wants: Pods are cached only when the
// executor made them (they have the label tekton.dev/taskRun; not app.kubernetes.io/managed-by, whose value
// a user may set, as with Tekton), and everything is limited to
// opts.Namespace when set. Pass it as manager.Options.Cache; Setup works without it but then caches every
// Pod in the cluster.
func CacheOptions(opts Options) cache.Options {
	co := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: podSelector()},
		},
	}
	if opts.Namespace != "" {
		co.DefaultNamespaces = map[string]cache.Config{opts.Namespace: {}}
	}
	return co
}

// podSelector selects the Pods the executor made: those labelled tekton.dev/taskRun.
func podSelector() labels.Selector {
	req, err := labels.NewRequirement(LabelTaskRun, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid label key
	}
	return labels.NewSelector().Add(*req)
}

// watchConfig reads the config-defaults and feature-flags ConfigMaps of opts.ConfigNamespace into
// opts.Config now, then keeps it current with a watch while the manager runs.
func watchConfig(mgr manager.Manager, opts Options) error {
	if opts.ConfigNamespace == "" {
		return nil
	}
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	w := &runconfig.Watcher{
		Client: cs, Namespace: opts.ConfigNamespace, Store: opts.Config,
		Log: opts.Logger.With("component", "config"), Events: mgr.GetEventRecorderFor("hookrun-executor"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Load(ctx); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return mgr.Add(w)
}

// Setup registers the PipelineRun and TaskRun reconcilers on mgr. The manager's scheme must include
// api.NewScheme()'s kinds. It is what `hookrun executor` and `hookrun dev` call.
func Setup(mgr manager.Manager, opts Options) error {
	if mgr == nil {
		return errors.New("executor: nil manager")
	}
	opts = opts.withDefaults()
	if err := watchConfig(mgr, opts); err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	remote := newRemoteResolver(mgr.GetAPIReader(), opts)
	tr := &TaskRunReconciler{
		remote:    remote,
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		opts:      opts,
		log:       opts.Logger.With("controller", "taskrun"),
	}
	if !opts.SequentialSteps && !opts.NoEntrypointLookup {
		tr.entrypoints = newEntrypointCache(opts.EntrypointLookupTimeout)
	}
	copts := controller.Options{MaxConcurrentReconciles: opts.Workers}
	if opts.SkipNameValidation {
		copts.SkipNameValidation = &opts.SkipNameValidation
	}
	if err := tr.setup(mgr, copts); err != nil {
		return fmt.Errorf("executor: taskrun controller: %w", err)
	}
	pr := &PipelineRunReconciler{
		remote:    remote,
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		opts:      opts,
		log:       opts.Logger.With("controller", "pipelinerun"),
		queue:     newRunQueue(opts.MaxConcurrentRuns),
	}
	if err := pr.setup(mgr, copts); err != nil {
		return fmt.Errorf("executor: pipelinerun controller: %w", err)
	}
	if !opts.ForgeStatus.Disabled {
		if err := SetupForgeStatus(mgr, opts); err != nil {
			return fmt.Errorf("executor: forge status controller: %w", err)
		}
	}
	return nil
}
