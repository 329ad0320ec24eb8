package v1

import (
	"encoding/json"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestNormalizeOverrides(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{{
		name: "TaskRun v1beta1 stepOverrides and sidecarOverrides",
		in:   "spec:\n  stepOverrides: [{name: build, resources: {requests: {memory: 1Gi}}}]\n  sidecarOverrides: [{name: docker, resources: {limits: {cpu: '2'}}}]\n",
		want: `{"stepSpecs":[{"name":"build","computeResources":{"requests":{"memory":"1Gi"}}}],"sidecarSpecs":[{"name":"docker","computeResources":{"limits":{"cpu":"2"}}}]}`,
	}, {
		name: "v1 stepSpecs win over stepOverrides",
		in:   "spec:\n  stepSpecs: [{name: a, computeResources: {}}]\n  stepOverrides: [{name: b, resources: {}}]\n",
		want: `{"stepSpecs":[{"name":"a","computeResources":{}}]}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var tr TaskRun
			if err := yaml.UnmarshalStrict([]byte(tc.in), &tr); err != nil {
				t.Fatal(err)
			}
			tr.Normalize()
			got, _ := json.Marshal(tr.Spec)
			if string(got) != tc.want {
				t.Errorf("spec\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	var pr PipelineRun
	in := "spec:\n  taskRunSpecs:\n  - pipelineTaskName: t\n    stepOverrides: [{name: s, resources: {limits: {cpu: '1'}}}]\n"
	if err := yaml.UnmarshalStrict([]byte(in), &pr); err != nil {
		t.Fatal(err)
	}
	pr.Normalize()
	got, _ := json.Marshal(pr.Spec.TaskRunSpecs)
	if want := `[{"pipelineTaskName":"t","stepSpecs":[{"name":"s","computeResources":{"limits":{"cpu":"1"}}}]}]`; string(got) != want {
		t.Errorf("taskRunSpecs\n got %s\nwant %s", got, want)
	}
}
