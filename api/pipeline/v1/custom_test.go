package v1

import "testing"

func TestIsCustomTask(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref      *TaskRef
		spec     *EmbeddedTask
		expected bool
	}{
		{name: "nil", expected: false},
		{name: "task by name", ref: &TaskRef{Name: "build"}, expected: false},
		{name: "kind Task without apiVersion", ref: &TaskRef{Name: "build", Kind: "Task"}, expected: false},
		{name: "tekton Task with apiVersion", ref: &TaskRef{Name: "build", Kind: "Task", APIVersion: "tekton.dev/v1beta1"}, expected: false},
		{name: "tekton ClusterTask", ref: &TaskRef{Name: "build", Kind: "ClusterTask", APIVersion: "tekton.dev/v1beta1"}, expected: false},
		{name: "custom kind", ref: &TaskRef{APIVersion: "example.dev/v1alpha1", Kind: "Wait"}, expected: true},
		{name: "custom kind named Task in another group", ref: &TaskRef{APIVersion: "example.dev/v1", Kind: "Task"}, expected: true},
		{name: "tekton Pipeline (pipelines-in-pipelines controller)", ref: &TaskRef{APIVersion: "tekton.dev/v1beta1", Kind: "Pipeline", Name: "p"}, expected: true},
		{name: "kind without apiVersion", ref: &TaskRef{Kind: "Wait"}, expected: false},
		{name: "embedded custom spec", spec: &EmbeddedTask{APIVersion: "example.dev/v1alpha1", Kind: "Wait"}, expected: true},
		{name: "embedded task spec", spec: &EmbeddedTask{}, expected: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := &PipelineTask{TaskRef: tc.ref, TaskSpec: tc.spec}
			if got := pt.IsCustomTask(); got != tc.expected {
				t.Errorf("IsCustomTask() = %v, want %v", got, tc.expected)
			}
		})
	}
}
