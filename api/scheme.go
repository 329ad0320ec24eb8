// Package api gathers hookrun's API groups. The types live in api/pipeline/v1 (tekton.dev v1 + v1beta1),
// api/pipeline/v1beta1 (ClusterTask, CustomRun), api/pipeline/v1alpha1 (Run),
// api/resource/v1alpha1 (PipelineResource), api/triggers/v1beta1 (triggers.tekton.dev) and api/pac/v1alpha1
// (Pipelines-as-Code's Repository).
package api

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1alpha1 "github.com/hookrun/hookrun/api/pipeline/v1alpha1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	resourcev1alpha1 "github.com/hookrun/hookrun/api/resource/v1alpha1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// NewScheme returns a scheme with the Kubernetes built-in kinds and every hookrun kind.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for name, add := range map[string]func(*runtime.Scheme) error{
		"kubernetes":                          clientgoscheme.AddToScheme,
		"tekton.dev/v1":                       pipelinev1.AddToScheme,
		"tekton.dev/v1beta1":                  pipelinev1beta1.AddToScheme,
		"tekton.dev/v1alpha1":                 resourcev1alpha1.AddToScheme,
		"tekton.dev/v1alpha1 Run":             pipelinev1alpha1.AddToScheme,
		"triggers.tekton.dev":                 triggersv1beta1.AddToScheme,
		"pipelinesascode.tekton.dev/v1alpha1": pacv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("register %s: %w", name, err)
		}
	}
	return s, nil
}
