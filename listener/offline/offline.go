// Package offline runs a webhook delivery through the listener's own handler against manifests held in
// memory (`hookrun test`): no cluster, nothing sent, nothing created.
package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api/load"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/listener"
)

// Input is one dry run.
type Input struct {
	Objects       []load.Object
	Namespace     string   // for objects that name none
	EventListener string   // empty: the only one among Objects
	Secrets       []string // NAMESPACE/NAME/KEY=VALUE, added to (or overriding) the Secrets among Objects
	// Delivery is the webhook; its Secret is filled from the Secret the EventListener's provider
	// interceptor names when empty.
	Delivery listener.Outgoing
	Header   http.Header // extra request headers
}

// Result is what the listener made of the delivery.
type Result struct {
	Namespace, EventListener string
	Signing                  string // how the delivery was signed, for the reader
	Code                     int
	Response                 listener.Response
	Traces                   []listener.Trace
	// ConfigError is set when the answer says the configuration, not the payload, is at fault
	// (500: a trigger that cannot be compiled; 404: no such EventListener).
	ConfigError bool
}

// ErrInput marks a problem with the input itself (no EventListener, a malformed --secret).
var ErrInput = errors.New("dry run input")

// Run evaluates in with the listener's handler.
func Run(ctx context.Context, scheme *runtime.Scheme, in Input) (*Result, error) {
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	objs, err := objects(scheme, in.Objects, in.Namespace)
	if err != nil {
		return nil, err
	}
	if objs, err = addSecrets(objs, in.Secrets); err != nil {
		return nil, err
	}
	el, err := pickListener(objs, in.EventListener)
	if err != nil {
		return nil, err
	}
	res := &Result{Namespace: el.Namespace, EventListener: el.Name}
	out := in.Delivery
	if out.Secret == "" {
		name, key, value, found := signingSecret(objs, el, out.Provider)
		switch {
		case found:
			out.Secret = value
			res.Signing = fmt.Sprintf("signed with Secret %s/%s key %s", el.Namespace, name, key)
		case name != "":
			res.Signing = fmt.Sprintf("sent unsigned: the %s interceptor names Secret %s/%s key %s, which is not in the files (give it with --secret %s/%s/%s=VALUE)",
				out.Provider, el.Namespace, name, key, el.Namespace, name, key)
		default:
			res.Signing = fmt.Sprintf("sent unsigned: no %s interceptor with a secretRef in EventListener %s", out.Provider, el.Name)
		}
	} else {
		res.Signing = "signed with the secret given"
	}
	req, err := out.Request(ctx, "http://hookrun.invalid/hooks/"+el.Name)
	if err != nil {
		return nil, err
	}
	for k, vs := range in.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	code, body, traces, err := listener.DryRun(ctx, scheme, objs, req, listener.Options{Namespace: el.Namespace})
	if err != nil {
		return nil, err
	}
	res.Code, res.Traces = code, traces
	if err := json.Unmarshal(body, &res.Response); err != nil {
		return nil, fmt.Errorf("the listener's answer is not JSON (%d): %s", code, body)
	}
	res.ConfigError = code == http.StatusInternalServerError || code == http.StatusNotFound
	return res, nil
}

// objects turns loaded manifests into typed objects the listener reads: namespaces defaulted,
// triggers.tekton.dev/v1alpha1 read as v1beta1 (the same schema, as the API serves them).
func objects(scheme *runtime.Scheme, loaded []load.Object, ns string) ([]client.Object, error) {
	var out []client.Object
	for _, o := range loaded {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(o.JSON); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		gvk := u.GroupVersionKind()
		if gvk.Group == triggersv1beta1.GroupVersion.Group && gvk.Version == "v1alpha1" {
			gvk.Version = triggersv1beta1.GroupVersion.Version
			u.SetGroupVersionKind(gvk)
		}
		if !scheme.Recognizes(gvk) {
			continue // RBAC, Deployments…: nothing the listener reads
		}
		if u.GetNamespace() == "" && !clusterScoped(gvk) {
			u.SetNamespace(ns)
		}
		typed, err := scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		obj, ok := typed.(client.Object)
		if !ok {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		if sec, ok := obj.(*corev1.Secret); ok {
			// The API server folds stringData into data; so does a dry run.
			for k, v := range sec.StringData {
				if sec.Data == nil {
					sec.Data = map[string][]byte{}
				}
				sec.Data[k] = []byte(v)
			}
			sec.StringData = nil
		}
		out = append(out, obj)
	}
	return out, nil
}

func clusterScoped(gvk schema.GroupVersionKind) bool {
	switch gvk.Kind {
	case "Namespace", "ClusterTriggerBinding", "ClusterInterceptor", "ClusterRole", "ClusterRoleBinding", "ClusterTask":
		return true
	}
	return false
}

// addSecrets adds NAMESPACE/NAME/KEY=VALUE values to the Secrets among objs (a new Secret when absent).
func addSecrets(objs []client.Object, specs []string) ([]client.Object, error) {
	for _, s := range specs {
		ref, value, ok := strings.Cut(s, "=")
		parts := strings.Split(ref, "/")
		if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("%w: --secret %q: want NAMESPACE/NAME/KEY=VALUE", ErrInput, strings.SplitN(s, "=", 2)[0]+"=…")
		}
		var sec *corev1.Secret
		for _, o := range objs {
			if x, ok := o.(*corev1.Secret); ok && x.Namespace == parts[0] && x.Name == parts[1] {
				sec = x
			}
		}
		if sec == nil {
			sec = &corev1.Secret{}
			sec.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
			sec.Namespace, sec.Name = parts[0], parts[1]
			objs = append(objs, sec)
		}
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[parts[2]] = []byte(value)
	}
	return objs, nil
}

func pickListener(objs []client.Object, name string) (*triggersv1beta1.EventListener, error) {
	var found []*triggersv1beta1.EventListener
	for _, o := range objs {
		if el, ok := o.(*triggersv1beta1.EventListener); ok && (name == "" || el.Name == name) {
			found = append(found, el)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && name != "":
		return nil, fmt.Errorf("%w: no EventListener %q in the files", ErrInput, name)
	case len(found) == 0:
		return nil, fmt.Errorf("%w: no EventListener in the files", ErrInput)
	}
	names := make([]string, len(found))
	for i, el := range found {
		names[i] = el.Name
	}
	return nil, fmt.Errorf("%w: %d EventListeners in the files (%s): choose one with --eventlistener", ErrInput, len(found), strings.Join(names, ", "))
}

// signingSecret finds the first interceptor of provider (in the EventListener's triggers, in order) that
// names a secretRef, and that Secret's value among objs.
func signingSecret(objs []client.Object, el *triggersv1beta1.EventListener, provider string) (name, key, value string, found bool) {
	triggers := map[string]*triggersv1beta1.Trigger{}
	for _, o := range objs {
		if t, ok := o.(*triggersv1beta1.Trigger); ok && t.Namespace == el.Namespace {
			triggers[t.Name] = t
		}
	}
	var chain []*triggersv1beta1.TriggerInterceptor
	for _, g := range el.Spec.TriggerGroups {
		chain = append(chain, g.Interceptors...)
	}
	for _, et := range el.Spec.Triggers {
		if t := triggers[et.TriggerRef]; t != nil {
			chain = append(chain, t.Spec.Interceptors...)
		}
		chain = append(chain, et.Interceptors...)
	}
	names := make([]string, 0, len(triggers))
	for n := range triggers {
		names = append(names, n)
	}
	sort.Strings(names) // Triggers selected by label or namespace, after the ones named
	for _, n := range names {
		chain = append(chain, triggers[n].Spec.Interceptors...)
	}
	for _, ti := range chain {
		if ti == nil {
			continue
		}
		r, err := ti.Resolve()
		if err != nil || r.Name != provider {
			continue
		}
		var ref struct {
			SecretName string `json:"secretName"`
			SecretKey  string `json:"secretKey"`
		}
		if json.Unmarshal(r.Params["secretRef"], &ref) != nil || ref.SecretName == "" {
			continue
		}
		for _, o := range objs {
			if sec, ok := o.(*corev1.Secret); ok && sec.Namespace == el.Namespace && sec.Name == ref.SecretName {
				if v, ok := sec.Data[ref.SecretKey]; ok {
					return ref.SecretName, ref.SecretKey, string(v), true
				}
			}
		}
		return ref.SecretName, ref.SecretKey, "", false
	}
	return "", "", "", false
}
