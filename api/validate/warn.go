package validate

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/api/load"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// SecretPlaceholder is the value the repository's example Secrets carry instead of a real webhook secret.
// `hookrun dev` replaces it with a random value generated once per state directory; anywhere else it is
// a published constant, and Warnings flags it.
const SecretPlaceholder = "generated-by-hookrun-dev"

// Warnings returns what is allowed but unsafe in a set of objects: it does not make `hookrun validate`
// fail, but it is printed: Secrets still holding SecretPlaceholder; EventListeners' kubernetesResource fields
// the el-NAME Deployment and Service do not apply, and customResource (not supported); on-cel-expression
// identifiers that must be Repository params (pac.go).
func Warnings(objs []load.Object) []load.Problem {
	var out []load.Problem
	for i := range objs {
		o := &objs[i]
		if el, ok := o.Obj.(*triggersv1beta1.EventListener); ok {
			out = append(out, eventListenerWarnings(o, el)...)
			continue
		}
		if pr, ok := o.Obj.(*pipelinev1.PipelineRun); ok {
			out = append(out, pacWarnings(o, pr.Annotations)...)
			continue
		}
		sec, ok := o.Obj.(*corev1.Secret)
		if !ok {
			continue
		}
		for _, k := range PlaceholderKeys(sec) {
			out = append(out, load.Problem{File: o.File, Index: o.Index, Kind: o.GVK.Kind, Name: o.Name, Field: k,
				Reason: fmt.Sprintf("holds the placeholder %q: `hookrun dev` generates a random value for it, "+
					"anywhere else set a secret of your own (it is published in this repository)", SecretPlaceholder)})
		}
	}
	return out
}

// PlaceholderKeys lists the fields of sec (stringData.KEY or data.KEY) whose value is SecretPlaceholder,
// sorted.
func PlaceholderKeys(sec *corev1.Secret) []string {
	var keys []string
	for k, v := range sec.StringData {
		if v == SecretPlaceholder {
			keys = append(keys, "stringData."+k)
		}
	}
	for k, v := range sec.Data {
		if string(v) == SecretPlaceholder {
			keys = append(keys, "data."+k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Files loads every manifest under args (files, or directories read recursively) and validates them
// together. It returns the objects, every problem (of loading and of validation) and the number of files
// read; err is for args that cannot be read at all.
func Files(args []string) ([]load.Object, []load.Problem, int, error) {
	paths, err := load.Paths(args)
	if err != nil {
		return nil, nil, 0, err
	}
	var objs []load.Object
	var problems []load.Problem
	for _, p := range paths {
		o, probs := load.File(p)
		objs = append(objs, o...)
		problems = append(problems, probs...)
	}
	return objs, append(problems, Objects(objs)...), len(paths), nil
}
