package elreconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Options configure the reconciler.
type Options struct {
	// Image is hookrun's image; el- Pods run it as `hookrun listener`. Required.
	Image string
	// Namespace limits the reconciler to one namespace ("" = all).
	Namespace string
	Workers   int // concurrent reconciles; default 2
	Logger    *slog.Logger
	Now       func() time.Time
	// SkipNameValidation lets tests register the controller on several managers in one process.
	SkipNameValidation bool
}

// CacheOptions adds what the reconciler caches to co: only the Deployments and Services it manages
// (selected by label), not every Deployment and Service of the cluster.
func CacheOptions(co cache.Options) cache.Options {
	if co.ByObject == nil {
		co.ByObject = map[client.Object]cache.ByObject{}
	}
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue})
	co.ByObject[&appsv1.Deployment{}] = cache.ByObject{Label: sel}
	co.ByObject[&corev1.Service{}] = cache.ByObject{Label: sel}
	return co
}

// Reconciler makes and updates EventListeners' el-NAME Deployments and Services and writes their status.
type Reconciler struct {
	c    client.Client
	opts Options
	log  *slog.Logger
}

// Setup registers the reconciler on mgr (whose cache must come from CacheOptions).
func Setup(mgr manager.Manager, opts Options) error {
	if opts.Image == "" {
		return errors.New("eventlistener reconciler: no listener image")
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reconciler{c: mgr.GetClient(), opts: opts, log: opts.Logger}
	copts := controller.Options{MaxConcurrentReconciles: opts.Workers}
	if opts.SkipNameValidation {
		copts.SkipNameValidation = ptrTo(true)
	}
	inNS := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return opts.Namespace == "" || o.GetNamespace() == opts.Namespace
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named("eventlistener").
		For(&triggersv1beta1.EventListener{}, builder.WithPredicates(inNS)).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		WithOptions(copts).
		Complete(r)
	if err != nil {
		return fmt.Errorf("eventlistener reconciler: %w", err)
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

// Reconcile brings one EventListener's Deployment, Service and status to what it asks for.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var el triggersv1beta1.EventListener
	if err := r.c.Get(ctx, req.NamespacedName, &el); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !el.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // the garbage collector deletes what it owns
	}
	if triggersv1beta1.SharedListener(&el) {
		// Served by the shared listener (elstatus writes its status): nothing of ours may remain.
		return reconcile.Result{}, r.removeOwned(ctx, &el)
	}
	st := newStatus(&el, r.opts.Now())
	if el.Spec.Resources.CustomResource != nil && len(el.Spec.Resources.CustomResource.Raw) > 0 {
		st.unsupported(ReasonCustomResource, "resources.customResource (a Knative Service) is not supported by hookrun: "+
			"use resources.kubernetesResource, or the annotation "+triggersv1beta1.AnnotationListener+": "+triggersv1beta1.ListenerShared)
		err := r.removeOwned(ctx, &el)
		return reconcile.Result{}, errors.Join(err, r.writeStatus(ctx, &el, st))
	}
	s, err := derive(&el)
	if err != nil {
		st.unsupported(ReasonInvalidResource, err.Error())
		return reconcile.Result{}, r.writeStatus(ctx, &el, st)
	}
	st.address = s.address(&el)
	dep, derr := r.applyDeployment(ctx, &el, deployment(&el, s, r.opts.Image))
	st.exists(ConditionDeployment, derr)
	if dep != nil {
		st.deployment(dep)
	}
	_, serr := r.applyService(ctx, &el, service(&el, s))
	st.exists(ConditionService, serr)
	st.ready()
	werr := r.writeStatus(ctx, &el, st)
	return reconcile.Result{}, errors.Join(derr, serr, werr)
}

// hashOf hashes what the reconciler writes into an object, so unchanged EventListeners cause no update.
func hashOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// ownedBy reports whether o is controlled by el.
func ownedBy(o metav1.Object, el *triggersv1beta1.EventListener) bool {
	ref := metav1.GetControllerOf(o)
	return ref != nil && ref.UID == el.UID
}

var errForeign = errors.New("exists and is not controlled by this EventListener: rename or delete it")

func (r *Reconciler) applyDeployment(ctx context.Context, el *triggersv1beta1.EventListener, want *appsv1.Deployment) (*appsv1.Deployment, error) {
	h, err := hashOf(struct {
		M metav1.ObjectMeta
		S appsv1.DeploymentSpec
	}{want.ObjectMeta, want.Spec})
	if err != nil {
		return nil, err
	}
	setAnnotation(want, AnnotationSpecHash, h)
	var cur appsv1.Deployment
	err = r.c.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.c.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Not in the cache, which holds only objects labelled as ours (or not yet: the next
				// reconcile sees it).
				return nil, fmt.Errorf("deployment %s %w", want.Name, errForeign)
			}
			return nil, fmt.Errorf("create deployment %s: %w", want.Name, err)
		}
		r.log.Info("eventlistener deployment created", "namespace", want.Namespace, "name", want.Name)
		return want, nil
	case err != nil:
		return nil, fmt.Errorf("get deployment %s: %w", want.Name, err)
	case !ownedBy(&cur, el):
		return nil, fmt.Errorf("deployment %s %w", want.Name, errForeign)
	case cur.Annotations[AnnotationSpecHash] == h:
		return &cur, nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Annotations, upd.OwnerReferences = want.Labels, want.Annotations, want.OwnerReferences
	for k, v := range cur.Annotations {
		if strings.HasPrefix(k, "deployment.kubernetes.io/") {
			upd.Annotations[k] = v // the Deployment controller's (revision)
		}
	}
	replicas := upd.Spec.Replicas
	upd.Spec = want.Spec
	if upd.Spec.Replicas == nil {
		upd.Spec.Replicas = replicas // replicas not asked for: keep what is there (an autoscaler's choice)
	}
	if err := r.c.Update(ctx, upd); err != nil {
		return nil, fmt.Errorf("update deployment %s: %w", want.Name, err)
	}
	r.log.Info("eventlistener deployment updated", "namespace", want.Namespace, "name", want.Name)
	return upd, nil
}

func (r *Reconciler) applyService(ctx context.Context, el *triggersv1beta1.EventListener, want *corev1.Service) (*corev1.Service, error) {
	h, err := hashOf(struct {
		M metav1.ObjectMeta
		S corev1.ServiceSpec
	}{want.ObjectMeta, want.Spec})
	if err != nil {
		return nil, err
	}
	setAnnotation(want, AnnotationSpecHash, h)
	var cur corev1.Service
	err = r.c.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.c.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Not in the cache, which holds only objects labelled as ours (or not yet: the next
				// reconcile sees it).
				return nil, fmt.Errorf("service %s %w", want.Name, errForeign)
			}
			return nil, fmt.Errorf("create service %s: %w", want.Name, err)
		}
		r.log.Info("eventlistener service created", "namespace", want.Namespace, "name", want.Name)
		return want, nil
	case err != nil:
		return nil, fmt.Errorf("get service %s: %w", want.Name, err)
	case !ownedBy(&cur, el):
		return nil, fmt.Errorf("service %s %w", want.Name, errForeign)
	case cur.Annotations[AnnotationSpecHash] == h:
		return &cur, nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Annotations, upd.OwnerReferences = want.Labels, want.Annotations, want.OwnerReferences
	upd.Spec.Selector, upd.Spec.Type = want.Spec.Selector, want.Spec.Type
	// Keep the node ports the API server allocated (unless one is asked for) while the type has them.
	old := map[string]int32{}
	for _, p := range cur.Spec.Ports {
		old[p.Name] = p.NodePort
	}
	upd.Spec.Ports = want.Spec.Ports
	if want.Spec.Type == corev1.ServiceTypeNodePort || want.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for i := range upd.Spec.Ports {
			if upd.Spec.Ports[i].NodePort == 0 {
				upd.Spec.Ports[i].NodePort = old[upd.Spec.Ports[i].Name]
			}
		}
	}
	if want.Spec.Type != corev1.ServiceTypeLoadBalancer {
		upd.Spec.LoadBalancerClass = nil
	} else if upd.Spec.LoadBalancerClass == nil {
		upd.Spec.LoadBalancerClass = want.Spec.LoadBalancerClass // immutable once set
	}
	if err := r.c.Update(ctx, upd); err != nil {
		return nil, fmt.Errorf("update service %s: %w", want.Name, err)
	}
	r.log.Info("eventlistener service updated", "namespace", want.Namespace, "name", want.Name)
	return upd, nil
}

func setAnnotation(o metav1.Object, k, v string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	o.SetAnnotations(a)
}

// removeOwned deletes el's el-NAME Deployment and Service if el controls them (an EventListener switched
// to the shared listener or to an unsupported customResource).
func (r *Reconciler) removeOwned(ctx context.Context, el *triggersv1beta1.EventListener) error {
	key := client.ObjectKey{Namespace: el.Namespace, Name: triggersv1beta1.GeneratedName(el)}
	var errs []error
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		if err := r.c.Get(ctx, key, o); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("get %s: %w", key.Name, err))
			}
			continue
		}
		if !ownedBy(o, el) {
			continue
		}
		if err := r.c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete %T %s: %w", o, key.Name, err))
		} else {
			r.log.Info("eventlistener resource removed", "namespace", el.Namespace, "name", key.Name, "kind", fmt.Sprintf("%T", o))
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) writeStatus(ctx context.Context, el *triggersv1beta1.EventListener, st *status) error {
	want := st.build()
	if el.Status.Equal(want) {
		return nil
	}
	upd := el.DeepCopy()
	upd.Status = want
	if err := r.c.Status().Update(ctx, upd); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // a newer version is queued already
		}
		return fmt.Errorf("eventlistener %s/%s status: %w", el.Namespace, el.Name, err)
	}
	return nil
}
