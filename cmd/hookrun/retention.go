package main

import (
	"errors"
	"flag"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/hookrun/hookrun/retention"
)

// retentionFlags are the executor's retention flags (package retention).
type retentionFlags struct {
	archive           *archiveFlags
	succeeded, failed int
	maxAge, interval  time.Duration
}

func addRetentionFlags(fs *flag.FlagSet) *retentionFlags {
	f := &retentionFlags{archive: addArchiveFlags(fs, "directory where the logs of runs deleted by retention are kept (retention needs it or an S3 archive; hookrun logs and the dashboard read it)")}
	fs.IntVar(&f.succeeded, "retain-succeeded", -1, "keep this many successful PipelineRuns per namespace or EventListener (-1 = all; annotation "+retention.AnnotationSucceeded+" overrides)")
	fs.IntVar(&f.failed, "retain-failed", -1, "keep this many failed PipelineRuns per namespace or EventListener (-1 = all; annotation "+retention.AnnotationFailed+" overrides)")
	fs.DurationVar(&f.maxAge, "retain-max-age", 0, "delete PipelineRuns that ended longer ago (0 = no limit; annotation "+retention.AnnotationMaxAge+" overrides)")
	fs.DurationVar(&f.interval, "retention-interval", time.Minute, "how often retention looks for runs to delete")
	return f
}

// options returns the Pruner's options; ok is false when retention is off (no archive). Limits without
// an archive are refused: runs are never deleted with their logs.
func (f *retentionFlags) options(namespace string) (retention.Options, bool, error) {
	l := retention.Limits{MaxAge: f.maxAge}
	if f.succeeded >= 0 {
		l.Succeeded = &f.succeeded
	}
	if f.failed >= 0 {
		l.Failed = &f.failed
	}
	archive, err := f.archive.archive()
	if err != nil {
		return retention.Options{}, false, err
	}
	if archive == nil {
		if l.Set() {
			return retention.Options{}, false, errors.New("--retain-succeeded, --retain-failed and --retain-max-age need --log-archive or --log-archive-s3-…: runs are never deleted with their logs")
		}
		return retention.Options{}, false, nil
	}
	return retention.Options{Archive: archive, Defaults: l, Namespace: namespace, Interval: f.interval}, true, nil
}

func setupRetention(mgr manager.Manager, cfg *rest.Config, o retention.Options, logger *slog.Logger) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	o.Logger = logger.With("controller", "retention")
	return retention.Setup(mgr, kube, o)
}
