package validate

import (
	"context"
	"encoding/json"
	"fmt"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/runctl"
	"github.com/hookrun/hookrun/templates"
)

func (v *validator) triggerTemplate(path string, s *triggersv1beta1.TriggerTemplateSpec) {
	names := make([]string, len(s.Params))
	tpl := &templates.Template{}
	for i, p := range s.Params {
		names[i] = p.Name
		tpl.Params = append(tpl.Params, templates.ParamSpec{Name: p.Name, Default: p.Default})
	}
	v.params(path+".params", names)
	for i, rt := range s.ResourceTemplates {
		var probe struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(rt.Raw, &probe); err != nil || probe.APIVersion == "" || probe.Kind == "" {
			v.add(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), "must be an object with apiVersion and kind")
		}
		v.resourceTemplateAnnotations(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), rt.Raw)
		one := &templates.Template{Params: tpl.Params, ResourceTemplates: [][]byte{rt.Raw}}
		for _, name := range templates.Undeclared(one) {
			v.add(fmt.Sprintf("%s.resourcetemplates[%d]", path, i), "$(tt.params.%s) is not declared in %s.params", name, path)
		}
	}
}

func (v *validator) bindings(path string, bs []*triggersv1beta1.TriggerSpecBinding, ns string) {
	for i, b := range bs {
		bp := fmt.Sprintf("%s.bindings[%d]", path, i)
		if b == nil {
			continue
		}
		switch ref := b.RefName(); {
		case ref != "":
			kind := b.Kind
			if kind == "" {
				kind = triggersv1beta1.NamespacedTriggerBindingKind
			}
			if kind != triggersv1beta1.NamespacedTriggerBindingKind && kind != triggersv1beta1.ClusterTriggerBindingKind {
				v.add(bp+".kind", "must be TriggerBinding or ClusterTriggerBinding, not %q", kind)
				continue
			}
			if v.set.find(kind, ref, ns) == nil {
				v.add(bp+".ref", "%s %q not found in the loaded files", kind, ref)
			}
		case b.Name != "" && b.Value != nil:
		case b.Spec != nil:
		default:
			v.add(bp, "a binding needs ref, or name and value")
		}
	}
}

func (v *validator) template(path string, t *triggersv1beta1.TriggerSpecTemplate, ns string) {
	if t == nil {
		v.add(path+".template", "required")
		return
	}
	ref := t.Name
	if t.Ref != nil {
		ref = *t.Ref
	}
	switch {
	case t.Spec != nil:
		v.triggerTemplate(path+".template.spec", t.Spec)
	case ref != "":
		if v.set.find("TriggerTemplate", ref, ns) == nil {
			v.add(path+".template.ref", "TriggerTemplate %q not found in the loaded files", ref)
		}
	default:
		v.add(path+".template", "needs ref or spec")
	}
}

func (v *validator) interceptors(path string, list []*triggersv1beta1.TriggerInterceptor) {
	for i, ti := range list {
		ip := fmt.Sprintf("%s.interceptors[%d]", path, i)
		if ti == nil {
			v.add(ip, "empty interceptor")
			continue
		}
		r, err := ti.Resolve()
		if err != nil {
			v.add(ip, "%v", err)
			continue
		}
		if !r.Builtin() {
			continue
		}
		if _, err := interceptors.Build(r.Name, r.Params, offlineSecrets{}, interceptors.Options{}); err != nil {
			v.add(ip, "%v", err)
		}
	}
}

// runControl checks hookrun's run-control annotations (package runctl): group keys compile, policies,
// globs, cron syntax, forge credentials, misspelt keys; every problem, not only the first.
func (v *validator) runControl(annotations map[string]string) {
	for _, err := range runctl.Check(annotations) {
		v.add("metadata.annotations", "%v", err)
	}
}

func (v *validator) trigger(path string, s *triggersv1beta1.TriggerSpec, ns string) {
	v.interceptors(path, s.Interceptors)
	v.bindings(path, s.Bindings, ns)
	v.template(path, &s.Template, ns)
}

func (v *validator) eventListener(el *triggersv1beta1.EventListener, ns string) {
	names := map[string]bool{}
	for i := range el.Spec.Triggers {
		t := &el.Spec.Triggers[i]
		tp := fmt.Sprintf("spec.triggers[%d]", i)
		if t.Name != "" {
			if names[t.Name] {
				v.add(tp+".name", "duplicate trigger name %q", t.Name)
			}
			names[t.Name] = true
		}
		if t.TriggerRef != "" {
			if t.Template != nil || len(t.Bindings) > 0 || len(t.Interceptors) > 0 {
				v.add(tp, "triggerRef cannot be combined with an inline template, bindings or interceptors")
			}
			if v.set.find("Trigger", t.TriggerRef, ns) == nil {
				v.add(tp+".triggerRef", "Trigger %q not found in the loaded files", t.TriggerRef)
			}
			continue
		}
		v.interceptors(tp, t.Interceptors)
		v.bindings(tp, t.Bindings, ns)
		v.template(tp, t.Template, ns)
	}
	for i := range el.Spec.TriggerGroups {
		v.interceptors(fmt.Sprintf("spec.triggerGroups[%d]", i), el.Spec.TriggerGroups[i].Interceptors)
	}
	if len(el.Spec.Triggers) == 0 && len(el.Spec.TriggerGroups) == 0 && el.Spec.LabelSelector == nil && len(el.Spec.NamespaceSelector.MatchNames) == 0 {
		v.add("spec.triggers", "an EventListener needs triggers, triggerGroups or a selector")
	}
}

// offlineSecrets lets interceptors be built (and so checked) without a cluster: validation never
// processes an event, so no secret is ever read.
type offlineSecrets struct{}

func (offlineSecrets) GetSecretKey(_ context.Context, namespace, name, _ string) ([]byte, error) {
	return nil, fmt.Errorf("secret %s/%s: validation does not read secrets", namespace, name)
}
