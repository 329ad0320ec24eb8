package executor

import (
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	resourcev1alpha1 "github.com/hookrun/hookrun/api/resource/v1alpha1"
)

// resolveResources binds a TaskRun's v1beta1 resources to the Task's declarations. get fetches a
// PipelineResource by name.
func resolveResources(spec *pipelinev1.TaskSpec, bindings *pipelinev1.TaskRunResources, get func(name string) (*resourcev1alpha1.PipelineResource, error)) (taskResources, error) {
	var out taskResources
	if spec.Resources == nil {
		return out, nil
	}
	var inB, outB []pipelinev1.TaskResourceBinding
	if bindings != nil {
		inB, outB = bindings.Inputs, bindings.Outputs
	}
	bind := func(dir string, decls []pipelinev1.TaskResource, bs []pipelinev1.TaskResourceBinding) ([]boundResource, error) {
		var list []boundResource
		for _, d := range decls {
			var b *pipelinev1.TaskResourceBinding
			for i := range bs {
				if bs[i].Name == d.Name {
					b = &bs[i]
				}
			}
			if b == nil {
				if d.Optional {
					continue
				}
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.%s) is declared by the Task but not bound", d.Name, dir)
			}
			var rs *pipelinev1.PipelineResourceSpec
			switch {
			case b.ResourceSpec != nil:
				rs = b.ResourceSpec
			case b.ResourceRef != nil && b.ResourceRef.Name != "":
				pr, err := get(b.ResourceRef.Name)
				if err != nil {
					return nil, err
				}
				rs = &pr.Spec
			default:
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.%s) needs resourceRef or resourceSpec", d.Name, dir)
			}
			typ := rs.Type
			if d.Type != "" && typ != d.Type {
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.%s) is type %s but the Task wants %s", d.Name, dir, typ, d.Type)
			}
			switch typ {
			case resourcev1alpha1.ResourceTypeGit, resourcev1alpha1.ResourceTypeImage:
			default:
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.%s): PipelineResource type %q is not supported (hookrun runs git and image resources)", d.Name, dir, typ)
			}
			if dir == "outputs" && typ == resourcev1alpha1.ResourceTypeGit {
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.outputs): git outputs are not supported", d.Name)
			}
			params := resourceSpecParams(rs)
			if typ == resourcev1alpha1.ResourceTypeGit && params["url"] == "" {
				return nil, invalid("TaskRunValidationFailed", "resource %q (spec.resources.%s): git resource needs a url param", d.Name, dir)
			}
			list = append(list, boundResource{Name: d.Name, Type: typ, Params: params, TargetPath: d.TargetPath})
		}
		return list, nil
	}
	var err error
	if out.Inputs, err = bind("inputs", spec.Resources.Inputs, inB); err != nil {
		return out, err
	}
	if out.Outputs, err = bind("outputs", spec.Resources.Outputs, outB); err != nil {
		return out, err
	}
	return out, nil
}
