package validate

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/hookrun/hookrun/api/load"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
)

// openReason is the warning for a trigger that accepts unauthenticated posts.
const openReason = "trigger %q accepts unauthenticated posts: anyone who can reach /hooks can fire it " +
	"(add a github, gitlab or bitbucket interceptor with a secretRef, or a cel filter calling compareSecret); " +
	"a listener run with --require-auth, as deploy/ ships it, does not serve it"

// authenticates reports whether a chain of interceptors refuses senders that hold no secret, as the
// listener judges it (interceptors.Authenticating for each built-in).
func authenticates(chain []*triggersv1beta1.TriggerInterceptor) bool {
	for _, ti := range chain {
		if ti == nil {
			continue
		}
		if r, err := ti.Resolve(); err == nil && r.Builtin() && interceptors.Authenticating(r.Name, r.Params) {
			return true
		}
	}
	return false
}

// OpenTriggers warns about the triggers of a set of objects that accept unauthenticated posts:
// EventListener triggers declared inline, and Trigger objects, unless a triggerGroup of a loaded
// EventListener that selects them adds an authenticating interceptor. Like Warnings, they do not make
// `hookrun validate` fail.
func OpenTriggers(objs []load.Object) []load.Problem {
	type group struct {
		sel   labels.Selector
		chain []*triggersv1beta1.TriggerInterceptor
	}
	var groups []group
	for i := range objs {
		el, ok := objs[i].Obj.(*triggersv1beta1.EventListener)
		if !ok {
			continue
		}
		for _, g := range el.Spec.TriggerGroups {
			sel := labels.Everything()
			if ls := g.TriggerSelector.LabelSelector; ls != nil {
				s, err := metav1.LabelSelectorAsSelector(ls)
				if err != nil {
					continue
				}
				sel = s
			}
			groups = append(groups, group{sel: sel, chain: g.Interceptors})
		}
	}
	var out []load.Problem
	for i := range objs {
		o := &objs[i]
		switch obj := o.Obj.(type) {
		case *triggersv1beta1.EventListener:
			for j := range obj.Spec.Triggers {
				t := &obj.Spec.Triggers[j]
				if t.TriggerRef != "" || authenticates(t.Interceptors) {
					continue
				}
				name := t.Name
				if name == "" {
					name = fmt.Sprintf("%s-%d", obj.Name, j)
				}
				out = append(out, load.Problem{File: o.File, Index: o.Index, Kind: o.GVK.Kind, Name: o.Name,
					Field: fmt.Sprintf("spec.triggers[%d].interceptors", j), Reason: fmt.Sprintf(openReason, name)})
			}
		case *triggersv1beta1.Trigger:
			if authenticates(obj.Spec.Interceptors) {
				continue
			}
			guarded := false
			for _, g := range groups {
				guarded = guarded || g.sel.Matches(labels.Set(obj.Labels)) && authenticates(g.chain)
			}
			if !guarded {
				out = append(out, load.Problem{File: o.File, Index: o.Index, Kind: o.GVK.Kind, Name: o.Name,
					Field: "spec.interceptors", Reason: fmt.Sprintf(openReason, obj.Name)})
			}
		}
	}
	return out
}
