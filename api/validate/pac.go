package validate

import (
	"fmt"
	"strings"

	"github.com/hookrun/hookrun/api/load"
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
