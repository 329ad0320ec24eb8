package elstatus

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// LeaseName is the Lease the listener replicas elect the status writer with.
const LeaseName = "hookrun-listener-status"

// RunElected runs w (as Run does) only while this replica holds the Lease LeaseName in namespace ns, so
// one replica of a Deployment writes status. id names the replica (empty: hostname_pid). It returns when
// ctx ends.
func RunElected(ctx context.Context, cfg *rest.Config, ns, id string, w *Writer, kick <-chan struct{}) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("leader election client: %w", err)
	}
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("leader election identity: %w", err)
		}
		id = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, LeaseName, cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			ReleaseOnCancel: true, Name: LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) { _ = w.Run(lctx, kick) },
				OnStoppedLeading: func() { w.opts.Logger.Info("eventlistener status: lease lost or released") },
			},
		})
	}
	return nil
}

// Changes returns a channel that receives (coalesced) whenever an EventListener in c is added or changed,
// so status follows edits without waiting for the next interval.
func Changes(ctx context.Context, c crcache.Cache) (<-chan struct{}, error) {
	inf, err := c.GetInformer(ctx, &triggersv1beta1.EventListener{})
	if err != nil {
		return nil, fmt.Errorf("eventlistener informer: %w", err)
	}
	ch := make(chan struct{}, 1)
	kick := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
	}); err != nil {
		return nil, fmt.Errorf("eventlistener informer: %w", err)
	}
	return ch, nil
}
