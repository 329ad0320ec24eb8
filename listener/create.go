package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// errUnavailable marks a failure to reach the API server (or an answer asking to come back later): the
// delivery is rolled back and answered 503 so the sender retries.
var errUnavailable = errors.New("kubernetes API unavailable")

// isUnavailable tells transport failures and overload answers from the API server apart from refusals
// that a retry would not change.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch status.Status().Code {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// Anything else without an API status (connection refused, reset, EOF) is transport trouble.
	return true
}

// createdObj is an object a delivery created, and the client (identity) that created it: the same
// identity deletes it if the delivery is rolled back.
type createdObj struct {
	obj    *unstructured.Unstructured
	client client.Client
}

// clientFor returns the client that creates t's resources: the trigger's ServiceAccount impersonated
// (identityOf), or the listener's own client with objs confined to the trigger's namespace.
func (s *Server) clientFor(ctx context.Context, el elIdentity, t *trigger, objs []*unstructured.Unstructured) (client.Client, error) {
	id := identityOf(el, t)
	if id.none() {
		return s.client, confine(ctx, s.client, t, objs)
	}
	if s.opts.Impersonate == nil {
		return nil, fmt.Errorf("%w: %s names ServiceAccount %s, but this listener was started without impersonation "+
			"(hookrun listener always impersonates; an embedding program must set Options.Impersonate)", errConfig, id.from, id.ServiceAccount)
	}
	c, err := s.opts.Impersonate.As(id.Namespace, id.ServiceAccount)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// createAll creates the rendered objects of one trigger, with strict field validation. An object that already exists with this
// delivery's event id is a redelivery: it counts as created and the result is marked duplicate. Objects
// this call created are appended to *made so the whole delivery can be rolled back.
func (s *Server) createAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, eventID string, made *[]createdObj) ([]Resource, bool, error) {
	var out []Resource
	dup := false
	for i, obj := range objs {
		// Strict: a field the API server's schema does not know (pruned, or a typo) refuses the create with
		// the field's path, instead of a warning nobody reads and a run without it.
		err := c.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict))
		if err == nil {
			*made = append(*made, createdObj{obj: obj, client: c})
			s.metrics.resourcesCreated.WithLabelValues(obj.GetKind()).Inc()
			s.metrics.tekton.resources.WithLabelValues(obj.GetKind()).Inc()
			out = append(out, resourceOf(obj))
			continue
		}
		if apierrors.IsAlreadyExists(err) && obj.GetName() != "" {
			existing := &unstructured.Unstructured{}
			existing.SetGroupVersionKind(obj.GroupVersionKind())
			gerr := c.Get(ctx, client.ObjectKeyFromObject(obj), existing)
			if apierrors.IsForbidden(gerr) && c != s.client {
				// The ServiceAccount may create but not read (Tekton's roles grant create only): tell a
				// redelivery from a name clash with the listener's own read access where it has it.
				gerr = s.client.Get(ctx, client.ObjectKeyFromObject(obj), existing)
			}
			if gerr != nil {
				if isUnavailable(gerr) {
					return out, dup, fmt.Errorf("%w: %v", errUnavailable, gerr)
				}
				return out, dup, fmt.Errorf("resourcetemplates[%d]: %s %s already exists: %w", i, obj.GetKind(), obj.GetName(), err)
			}
			if existing.GetLabels()[triggersv1beta1.LabelEventID] == eventID {
				dup = true
				out = append(out, resourceOf(existing))
				continue
			}
			return out, dup, fmt.Errorf("resourcetemplates[%d]: %s %s/%s already exists and was not made by this delivery", i, obj.GetKind(), obj.GetNamespace(), obj.GetName())
		}
		if isUnavailable(err) {
			return out, dup, fmt.Errorf("%w: create %s: %v", errUnavailable, obj.GetKind(), err)
		}
		return out, dup, fmt.Errorf("resourcetemplates[%d]: create %s: %w", i, obj.GetKind(), err)
	}
	return out, dup, nil
}

// rollback deletes what a delivery created, newest first, so a failed delivery leaves nothing half-made.
// It runs on its own short deadline: the request's may be spent.
func (s *Server) rollback(made []createdObj) error {
	if len(made) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	prop := metav1.DeletePropagationBackground
	for i := len(made) - 1; i >= 0; i-- {
		obj := made[i].obj
		for attempt := 0; ; attempt++ {
			opts := &client.DeleteOptions{PropagationPolicy: &prop, Preconditions: &metav1.Preconditions{UID: ptr(obj.GetUID())}}
			err := made[i].client.Delete(ctx, obj, opts)
			if apierrors.IsForbidden(err) && made[i].client != s.client {
				err = s.client.Delete(ctx, obj, opts) // the ServiceAccount may create but not delete
			}
			if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				break
			}
			if attempt >= 3 || ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("delete %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err))
				break
			}
			time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

func resourceOf(obj *unstructured.Unstructured) Resource {
	return Resource{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

func ptr[T any](v T) *T { return &v }
