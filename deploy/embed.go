// Package deploy holds hookrun's Kubernetes manifests; it embeds the CRDs so `hookrun dev` can install
// them from the binary alone.
package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed crds/*.yaml
var crdFiles embed.FS

// CRDs returns the CustomResourceDefinitions hookrun serves.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crdFiles, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, n := range names {
		if strings.HasSuffix(n, "kustomization.yaml") {
			continue
		}
		data, err := crdFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

//go:embed base/rbac-tekton-compat.yaml
var compatRBAC []byte

//go:embed tekton-info/info.yaml
var tektonInfo []byte

// TektonInfo returns the version ConfigMaps Tekton's tools read (multi-document YAML).
func TektonInfo() []byte { return tektonInfo }

// CompatRBAC returns the ClusterRoles hookrun installs under Tekton Triggers' names (multi-document YAML).
func CompatRBAC() []byte { return compatRBAC }
