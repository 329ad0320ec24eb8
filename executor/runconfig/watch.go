package runconfig

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Watcher keeps a Store current with the two ConfigMaps of one namespace, through a watch. It is a
// controller-runtime Runnable (mgr.Add); it does not need leader election.
type Watcher struct {
	Client    kubernetes.Interface
	Namespace string
	Store     *Store
	Log       *slog.Logger
	// Events, when set, gets a Warning Event on the ConfigMap for each key not taken.
	Events record.EventRecorder

	mu       sync.Mutex
	data     map[string]*corev1.ConfigMap // by name; absent = the ConfigMap does not exist
	reported map[string]string            // problem text → ConfigMap resourceVersion it was reported for
}

// NeedLeaderElection is false: every executor replica reads the configuration.
func (w *Watcher) NeedLeaderElection() bool { return false }

// Load reads the two ConfigMaps once into the Store (call it before Start so the first runs see them).
func (w *Watcher) Load(ctx context.Context) error {
	w.init()
	for _, name := range []string{DefaultsName, FeaturesName} {
		cm, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("read configmap %s/%s: %w", w.Namespace, name, err)
		}
		w.changed(cm, false)
	}
	return nil
}

func (w *Watcher) init() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.data == nil {
		w.data = map[string]*corev1.ConfigMap{}
		w.reported = map[string]string{}
	}
}

// Start watches until ctx ends.
func (w *Watcher) Start(ctx context.Context) error {
	w.init()
	lw := toolscache.NewListWatchFromClient(w.Client.CoreV1().RESTClient(), "configmaps", w.Namespace, fields.Everything())
	inf := toolscache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 0, toolscache.Indexers{})
	_, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.changed(obj, false) },
		UpdateFunc: func(_, obj any) { w.changed(obj, false) },
		DeleteFunc: func(obj any) { w.changed(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("watch configmaps of %s: %w", w.Namespace, err)
	}
	go inf.Run(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	<-ctx.Done()
	return nil
}

// changed records one ConfigMap event and recomputes the configuration.
func (w *Watcher) changed(obj any, deleted bool) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || (cm.Name != DefaultsName && cm.Name != FeaturesName) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if deleted {
		delete(w.data, cm.Name)
	} else {
		w.data[cm.Name] = cm
	}
	var defaults, features map[string]string
	if d := w.data[DefaultsName]; d != nil {
		defaults = d.Data
	}
	if f := w.data[FeaturesName]; f != nil {
		features = f.Data
	}
	cfg, problems := Parse(defaults, features)
	w.Store.Set(cfg)
	w.log().Info("executor configuration read", "namespace", w.Namespace, "configmap", cm.Name,
		"defaultTimeout", cfg.Timeout.String(), "defaultServiceAccount", cfg.ServiceAccount, "coschedule", cfg.Coschedule,
		"defaultPodTemplate", cfg.PodTemplate != nil, "defaultWorkspaceBinding", cfg.WorkspaceBinding != nil)
	for _, p := range problems {
		w.report(p)
	}
}

// report logs a problem and records an Event on its ConfigMap, once per version of the ConfigMap.
func (w *Watcher) report(p Problem) {
	cm := w.data[p.ConfigMap]
	if cm == nil || w.reported[p.String()] == cm.ResourceVersion {
		return
	}
	w.reported[p.String()] = cm.ResourceVersion
	w.log().Warn("executor configuration key not taken", "namespace", w.Namespace, "configmap", p.ConfigMap, "key", p.Key, "problem", p.Message)
	if w.Events != nil {
		w.Events.Eventf(cm, corev1.EventTypeWarning, "ConfigKeyNotHonoured", "key %q %s", p.Key, p.Message)
	}
}

func (w *Watcher) log() *slog.Logger {
	if w.Log == nil {
		return slog.Default()
	}
	return w.Log
}
