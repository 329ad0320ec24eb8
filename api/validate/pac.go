package validate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hookrun/hookrun/api/load"
	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	"github.com/hookrun/hookrun/pac/match"
)

// pacAnnotations reports what is wrong with the Pipelines-as-Code annotations of a PipelineRun kept in a
// repository's `.tekton/` folder (on-event values, on-target-branch and path globs, on-cel-expression
// compiled with Pipelines-as-Code's variables, remote task annotations hookrun does not fetch). A run
// without any pipelinesascode.tekton.dev/ annotation is not checked.
func (v *validator) pacAnnotations(path string, annotations map[string]string) {
	any := false
	for k := range annotations {
		if strings.HasPrefix(k, match.Prefix) {
			any = true
			break
		}
	}
	if !any {
		return
	}
	for _, p := range match.Check(annotations) {
		key, reason, _ := strings.Cut(p, ": ")
		v.add(fmt.Sprintf("%s[%q]", path, key), "%s", reason)
	}
}

// pacWarnings names the identifiers of a `.tekton/` run's on-cel-expression that are not Pipelines-as-Code
// variables: fine if the Repository has params of those names, else the run fails to match.
func pacWarnings(o *load.Object, annotations map[string]string) []load.Problem {
	names := match.Undeclared(annotations)
	if len(names) == 0 {
		return nil
	}
	return []load.Problem{{File: o.File, Index: o.Index, Kind: o.GVK.Kind, Name: o.Name,
		Field: fmt.Sprintf("metadata.annotations[%q]", match.OnCELExpression),
		Reason: fmt.Sprintf("%s: not Pipelines-as-Code variables; the Repository must have params of these names",
			strings.Join(names, ", "))}}
}

// repository checks a Pipelines-as-Code Repository: an http(s) URL, a known provider type, secret names,
// params with a name and one of value or secret_ref, filters that compile.
func (v *validator) repository(spec *pacv1alpha1.RepositorySpec) {
	if u, err := url.Parse(spec.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("spec.url", "%q is not the repository's http(s) URL", spec.URL)
	}
	if gp := spec.GitProvider; gp != nil {
		switch gp.Type {
		case "", pacv1alpha1.ProviderGitHub, pacv1alpha1.ProviderGitLab:
		default:
			v.add("spec.git_provider.type", "%q is not supported: github or gitlab (empty: told from the delivery)", gp.Type)
		}
		if gp.URL != "" {
			if u, err := url.Parse(gp.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add("spec.git_provider.url", "%q is not an http(s) URL", gp.URL)
			}
		}
		for field, ref := range map[string]*pacv1alpha1.SecretRef{"secret": gp.Secret, "webhook_secret": gp.WebhookSecret} {
			if ref != nil && ref.Name == "" {
				v.add("spec.git_provider."+field+".name", "required")
			}
		}
		if gp.WebhookSecret == nil {
			v.add("spec.git_provider.webhook_secret", "required: /hooks/pac serves only Repositories whose deliveries it can verify")
		}
	} else {
		v.add("spec.git_provider", "required: webhook_secret verifies deliveries; secret (a token) reads private repositories and reports statuses")
	}
	for i, p := range spec.Params {
		path := fmt.Sprintf("spec.params[%d]", i)
		if p.Name == "" {
			v.add(path+".name", "required")
		}
		if p.Value != "" && p.SecretRef != nil {
			v.add(path, "value and secret_ref are exclusive")
		}
		if p.Filter != "" {
			if _, err := match.Compile(map[string]string{match.OnCELExpression: p.Filter}); err != nil {
				v.add(path+".filter", "%s", strings.TrimPrefix(err.Error(), match.ErrAnnotation.Error()+": "+match.OnCELExpression+": "))
			}
		}
	}
}
