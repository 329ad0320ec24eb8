// Command crdversions adds an older served version to CRDs that controller-gen wrote for one version:
// tekton.dev/v1beta1 beside v1 (Task, Pipeline, PipelineRun, TaskRun) and triggers.tekton.dev/v1alpha1 beside
// v1beta1 (old tutorials' EventListeners, bindings and templates). Both versions share one schema (hookrun's Go
// types are the newer shape plus the older-only fields) and conversion is None, so an object written in one
// version reads back through the other with no field pruned.
//
// Usage: go run ./hack/crdversions -from v1 -add v1beta1 deploy/crds/tekton.dev_tasks.yaml ...
package main

import (
	"flag"
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	from := flag.String("from", "v1", "the version controller-gen wrote (the storage version)")
	add := flag.String("add", "v1beta1", "the older version to serve with the same schema")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: crdversions -from VERSION -add VERSION CRD_FILE...")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := addVersion(path, *from, *add); err != nil {
			fmt.Fprintf(os.Stderr, "crdversions: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func addVersion(path, from, add string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	var src *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crd.Spec.Versions {
		switch crd.Spec.Versions[i].Name {
		case add:
			return nil // already there
		case from:
			src = &crd.Spec.Versions[i]
		}
	}
	if src == nil {
		return fmt.Errorf("no %s version to copy", from)
	}
	older := *src.DeepCopy()
	older.Name = add
	older.Storage = false
	older.Served = true
	crd.Spec.Versions = append(crd.Spec.Versions, older)
	crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}
