// Command crdversions adds the served tekton.dev/v1beta1 version to the Task, Pipeline, PipelineRun and TaskRun
// CRDs that controller-gen wrote for v1. Both versions share one schema (hookrun's Go types are the v1 shape
// plus the v1beta1-only fields) and conversion is None, so a v1beta1 object reads back through v1 with no field
// pruned, and the other way round.
//
// Usage: go run ./hack/crdversions deploy/crds/tekton.dev_tasks.yaml ...
package main

import (
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crdversions CRD_FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := addBeta(path); err != nil {
			fmt.Fprintf(os.Stderr, "crdversions: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func addBeta(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	var v1 *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crd.Spec.Versions {
		switch crd.Spec.Versions[i].Name {
		case "v1beta1":
			return nil // already there
		case "v1":
			v1 = &crd.Spec.Versions[i]
		}
	}
	if v1 == nil {
		return fmt.Errorf("no v1 version to copy")
	}
	beta := *v1.DeepCopy()
	beta.Name = "v1beta1"
	beta.Storage = false
	beta.Served = true
	crd.Spec.Versions = append(crd.Spec.Versions, beta)
	crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}
