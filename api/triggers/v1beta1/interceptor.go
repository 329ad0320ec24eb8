package v1beta1

import (
	"encoding/json"
	"fmt"
)

// Built-in interceptor names hookrun runs in-process.
const (
	InterceptorGitHub    = "github"
	InterceptorGitLab    = "gitlab"
	InterceptorBitbucket = "bitbucket"
	InterceptorCEL       = "cel"
)

// Kinds of interceptor a ref names, as Tekton spells them (hookrun also accepts "Interceptor").
const (
	ClusterInterceptorKind    = "ClusterInterceptor"
	NamespacedInterceptorKind = "NamespacedInterceptor"
)

// Resolved is an interceptor reduced to what runs it: a built-in name with its params, or an external one.
type Resolved struct {
	// Name is the interceptor name: a built-in (github, gitlab, bitbucket, cel) or a ClusterInterceptor /
	// Interceptor to call over HTTP.
	Name string
	// Kind is ClusterInterceptor (default), NamespacedInterceptor or Interceptor (an Interceptor in the
	// trigger's namespace); empty for the legacy webhook form.
	Kind string
	// Params are the interceptor params as raw JSON by name.
	Params map[string]json.RawMessage
	// Webhook is set for the legacy `webhook` form.
	Webhook *WebhookInterceptor
}

// Builtin reports whether r names one of the in-process interceptors.
func (r Resolved) Builtin() bool {
	if r.Webhook != nil || (r.Kind != "" && r.Kind != "ClusterInterceptor") {
		return false
	}
	switch r.Name {
	case InterceptorGitHub, InterceptorGitLab, InterceptorBitbucket, InterceptorCEL:
		return true
	}
	return false
}

// Resolve reduces an interceptor, in any of its accepted spellings (ref + params, the deprecated inline
// github/gitlab/bitbucket/cel blocks, or webhook), to a Resolved.
func (ti *TriggerInterceptor) Resolve() (Resolved, error) {
	set := 0
	for _, b := range []bool{ti.Ref.Name != "", ti.Webhook != nil, ti.GitHub != nil, ti.GitLab != nil, ti.Bitbucket != nil, ti.CEL != nil} {
		if b {
			set++
		}
	}
	if set == 0 {
		return Resolved{}, fmt.Errorf("interceptor needs ref.name (or a webhook/github/gitlab/bitbucket/cel block)")
	}
	if set > 1 {
		return Resolved{}, fmt.Errorf("interceptor sets more than one of ref, webhook, github, gitlab, bitbucket, cel")
	}
	params := map[string]json.RawMessage{}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("param %s: %w", k, err)
		}
		params[k] = b
		return nil
	}
	switch {
	case ti.Webhook != nil:
		return Resolved{Webhook: ti.Webhook, Params: params}, nil
	case ti.CEL != nil:
		if ti.CEL.Filter != "" {
			if err := put("filter", ti.CEL.Filter); err != nil {
				return Resolved{}, err
			}
		}
		if len(ti.CEL.Overlays) > 0 {
			if err := put("overlays", ti.CEL.Overlays); err != nil {
				return Resolved{}, err
			}
		}
		return Resolved{Name: InterceptorCEL, Params: params}, nil
	case ti.GitHub != nil || ti.GitLab != nil || ti.Bitbucket != nil:
		name, in := InterceptorGitHub, ti.GitHub
		if ti.GitLab != nil {
			name, in = InterceptorGitLab, ti.GitLab
		} else if ti.Bitbucket != nil {
			name, in = InterceptorBitbucket, ti.Bitbucket
		}
		if in.SecretRef != nil {
			if err := put("secretRef", in.SecretRef); err != nil {
				return Resolved{}, err
			}
		}
		if len(in.EventTypes) > 0 {
			if err := put("eventTypes", in.EventTypes); err != nil {
				return Resolved{}, err
			}
		}
		return Resolved{Name: name, Params: params}, nil
	}
	switch ti.Ref.Kind {
	case "", ClusterInterceptorKind, NamespacedInterceptorKind, "Interceptor":
	default:
		return Resolved{}, fmt.Errorf("ref.kind %q is not %s or %s", ti.Ref.Kind, ClusterInterceptorKind, NamespacedInterceptorKind)
	}
	for i, p := range ti.Params {
		if _, dup := params[p.Name]; dup {
			return Resolved{}, fmt.Errorf("params[%d]: duplicate param %q", i, p.Name)
		}
		raw := p.Value.Raw
		if len(raw) == 0 {
			raw = []byte("null")
		}
		params[p.Name] = raw
	}
	return Resolved{Name: ti.Ref.Name, Kind: ti.Ref.Kind, Params: params}, nil
}

// RefName is the (Cluster)TriggerBinding a binding references: Ref, or — as v1alpha1 tutorials wrote it —
// a bare Name with neither Value nor Spec.
func (b *TriggerSpecBinding) RefName() string {
	if b.Ref != "" {
		return b.Ref
	}
	if b.Name != "" && b.Value == nil && b.Spec == nil {
		return b.Name
	}
	return ""
}
