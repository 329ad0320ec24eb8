package validate

import (
	"errors"
	"fmt"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/resolve"
)

// taskRef checks a taskRef's kind and, for a remote reference, its resolver and params (without fetching).
func (v *validator) taskRef(path string, ref *pipelinev1.TaskRef) {
	switch {
	case ref.IsCustomTask():
		v.add(path, "apiVersion %q kind %q is a custom task: a TaskRun runs a Task or ClusterTask only (a pipeline task of that kind becomes a CustomRun its controller runs)", ref.APIVersion, ref.Kind)
		return
	case ref.Kind != "" && !strings.EqualFold(ref.Kind, "Task") && ref.Kind != "ClusterTask":
		v.add(path+".kind", "%q is not a kind hookrun runs (Task or ClusterTask; a custom task needs apiVersion too)", ref.Kind)
	}
	v.resolverRef(path, ref.Resolver, ref.Params, ref.Bundle, ref.Name)
}

// pipelineRef checks a pipelineRef like taskRef.
func (v *validator) pipelineRef(path string, ref *pipelinev1.PipelineRef) {
	v.resolverRef(path, ref.Resolver, ref.Params, ref.Bundle, ref.Name)
}

// resolverRef checks a reference by name, by the v1beta1 bundle field or by resolver: the resolver is one
// hookrun knows and the params it requires are given (Tekton's names), as strings.
func (v *validator) resolverRef(path, resolver string, ps pipelinev1.Params, bundle, name string) {
	switch {
	case bundle != "":
		if resolver != "" {
			v.add(path+".bundle", "cannot be used with resolver")
		}
		if name == "" {
			v.add(path+".name", "required with bundle (the object's name in the bundle)")
		}
		return
	case resolver == "":
		if name == "" {
			v.add(path+".name", "required (or resolver)")
		}
		if len(ps) > 0 {
			v.add(path+".params", "only a reference with a resolver takes params")
		}
		return
	case name != "":
		v.add(path+".name", "cannot be used with resolver (the resolver's params name the object)")
	}
	params := map[string]string{}
	index := map[string]int{}
	for i, p := range ps {
		if p.Value.Type != "" && p.Value.Type != pipelinev1.ParamTypeString {
			v.add(fmt.Sprintf("%s.params[%d].value", path, i), "a resolver param is a string")
		}
		params[p.Name] = p.Value.StringVal
		index[p.Name] = i
	}
	err := resolve.CheckParams(resolver, params)
	var re *resolve.Error
	if !errors.As(err, &re) {
		return
	}
	field := path + ".resolver"
	switch i, given := index[re.Param]; {
	case re.Param == "":
	case given:
		field = fmt.Sprintf("%s.params[%d]", path, i)
	default:
		field = path + ".params"
	}
	v.add(field, "%v", err)
}
