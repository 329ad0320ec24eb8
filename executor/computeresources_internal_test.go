package executor

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// resourcesText prints requests and limits canonically (quantities as strings), for exact comparison.
func resourcesText(r corev1.ResourceRequirements) string {
	m := map[string]map[string]string{}
	for name, list := range map[string]corev1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		if list == nil {
			continue
		}
		m[name] = map[string]string{}
		for k, v := range list {
			m[name][string(k)] = v.String()
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestApplyComputeOverrides(t *testing.T) {
	spec := func() *pipelinev1.TaskSpec {
		return &pipelinev1.TaskSpec{
			StepTemplate: &pipelinev1.StepTemplate{ComputeResources: corev1.ResourceRequirements{Limits: rl("memory", "1Gi")}},
			Steps: []pipelinev1.Step{
				{Name: "build", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "500m")}},
				{Name: "push"},
			},
			Sidecars: []pipelinev1.Sidecar{{Name: "docker", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}},
		}
	}
	for _, tc := range []struct {
		name     string
		run      pipelinev1.TaskRunSpec
		steps    []string // resourcesText per step
		sidecars []string
		err      string
	}{{
		name: "stepSpecs merge per resource over step and template",
		run: pipelinev1.TaskRunSpec{StepSpecs: []pipelinev1.TaskRunStepSpec{
			{Name: "build", ComputeResources: corev1.ResourceRequirements{Requests: rl("memory", "256Mi"), Limits: rl("memory", "2Gi")}},
		}},
		steps: []string{
			`{"limits":{"memory":"2Gi"},"requests":{"cpu":"500m","memory":"256Mi"}}`,
			`{"limits":{"memory":"1Gi"}}`,
		},
		sidecars: []string{`{"requests":{"cpu":"1"}}`},
	}, {
		name: "sidecarSpecs",
		run: pipelinev1.TaskRunSpec{SidecarSpecs: []pipelinev1.TaskRunSidecarSpec{
			{Name: "docker", ComputeResources: corev1.ResourceRequirements{Limits: rl("cpu", "2")}},
		}},
		steps:    []string{`{"limits":{"memory":"1Gi"},"requests":{"cpu":"500m"}}`, `{"limits":{"memory":"1Gi"}}`},
		sidecars: []string{`{"limits":{"cpu":"2"},"requests":{"cpu":"1"}}`},
	}, {
		name: "task-level computeResources: requests divided, limits on every step",
		run:  pipelinev1.TaskRunSpec{ComputeResources: &corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "2")}},
		steps: []string{
			`{"limits":{"cpu":"2"},"requests":{"cpu":"500m","memory":"512Mi"}}`,
			`{"limits":{"cpu":"2"},"requests":{"cpu":"500m","memory":"512Mi"}}`,
		},
		sidecars: []string{`{"requests":{"cpu":"1"}}`},
	}, {
		name: "task-level limits only: steps without requests request the divided limits, the others none",
		run:  pipelinev1.TaskRunSpec{ComputeResources: &corev1.ResourceRequirements{Limits: rl("cpu", "1")}},
		steps: []string{
			`{"limits":{"cpu":"1"}}`,
			`{"limits":{"cpu":"1"},"requests":{"cpu":"500m"}}`,
		},
		sidecars: []string{`{"requests":{"cpu":"1"}}`},
	}, {
		name: "unknown step",
		run:  pipelinev1.TaskRunSpec{StepSpecs: []pipelinev1.TaskRunStepSpec{{Name: "lint"}}},
		err:  `spec.stepSpecs[0].name: invalid step override: no step named "lint" in the Task`,
	}, {
		name: "unknown sidecar",
		run:  pipelinev1.TaskRunSpec{SidecarSpecs: []pipelinev1.TaskRunSidecarSpec{{Name: "docker"}, {Name: "redis"}}},
		err:  `spec.sidecarSpecs[1].name: invalid sidecar override: no sidecar named "redis" in the Task`,
	}, {
		name: "nameless",
		run:  pipelinev1.TaskRunSpec{StepSpecs: []pipelinev1.TaskRunStepSpec{{}}},
		err:  `spec.stepSpecs[0].name: missing field`,
	}, {
		name: "twice",
		run:  pipelinev1.TaskRunSpec{StepSpecs: []pipelinev1.TaskRunStepSpec{{Name: "push"}, {Name: "push"}}},
		err:  `spec.stepSpecs[1].name: "push" is given twice`,
	}, {
		name: "stepSpecs resources with computeResources",
		run: pipelinev1.TaskRunSpec{
			ComputeResources: &corev1.ResourceRequirements{Limits: rl("cpu", "1")},
			StepSpecs:        []pipelinev1.TaskRunStepSpec{{Name: "push", ComputeResources: corev1.ResourceRequirements{Limits: rl("cpu", "1")}}},
		},
		err: "expected exactly one, got both: spec.stepSpecs[0].computeResources, spec.computeResources",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := spec()
			out, err := applyComputeOverrides(in, &tc.run)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.steps {
				if got := resourcesText(out.Steps[i].ComputeResources); got != want {
					t.Errorf("step %d resources = %s, want %s", i, got, want)
				}
			}
			for i, want := range tc.sidecars {
				if got := resourcesText(out.Sidecars[i].ComputeResources); got != want {
					t.Errorf("sidecar %d resources = %s, want %s", i, got, want)
				}
			}
			if got := resourcesText(in.Steps[1].ComputeResources); got != `{}` {
				t.Errorf("the input spec was changed: %s", got)
			}
		})
	}
}

func TestMergePodTemplate(t *testing.T) {
	def := &pipelinev1.PodTemplate{
		NodeSelector: map[string]string{"pool": "build"},
		Env:          []corev1.EnvVar{{Name: "A", Value: "def"}, {Name: "B", Value: "def"}},
		DNSPolicy:    corev1.DNSNone,
		DNSConfig:    &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}},
		HostAliases:  []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"git.local"}}},
		HostNetwork:  true,
		HostUsers:    ptr.To(false),
		Volumes:      []corev1.Volume{{Name: "cache"}, {Name: "shared"}},
	}
	tpl := &pipelinev1.PodTemplate{
		Env:                       []corev1.EnvVar{{Name: "B", Value: "run"}},
		Volumes:                   []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}},
		SchedulerName:             "custom",
	}
	got := mergePodTemplate(tpl, def)
	want := &pipelinev1.PodTemplate{
		NodeSelector:              map[string]string{"pool": "build"},
		Env:                       []corev1.EnvVar{{Name: "B", Value: "run"}, {Name: "A", Value: "def"}},
		DNSPolicy:                 corev1.DNSNone,
		DNSConfig:                 &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}},
		HostAliases:               []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"git.local"}}},
		HostNetwork:               true,
		HostUsers:                 ptr.To(false),
		Volumes:                   []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, {Name: "cache"}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}},
		SchedulerName:             "custom",
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("merged\n got %s\nwant %s", g, w)
	}
	if len(tpl.Env) != 1 || tpl.NodeSelector != nil {
		t.Errorf("the run's template was changed: %+v", tpl)
	}
	if mergePodTemplate(nil, nil) != nil {
		t.Error("nil over nil is not nil")
	}
}

func TestCheckDeclaredParams(t *testing.T) {
	spec := &pipelinev1.TaskSpec{
		Params: []pipelinev1.ParamSpec{{Name: "url"}, {Name: "args", Type: pipelinev1.ParamTypeArray}},
		Steps: []pipelinev1.Step{
			{Name: "ok", Image: "alpine", Args: []string{"$(params.url)", "$(params.args[*])", "$(inputs.params.url)", "$(shell)"}},
			{Name: "bad", Image: "alpine", Script: "echo $(params.revision)"},
		},
	}
	err := checkDeclaredParams(spec, nil)
	want := `spec.steps[1]: $(params.revision) uses param "revision", which the Task does not declare (spec.params)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if err := checkDeclaredParams(spec, pipelinev1.Params{{Name: "revision"}}); err != nil {
		t.Errorf("a param the run gives (propagated) was refused: %v", err)
	}
	spec.Sidecars = []pipelinev1.Sidecar{{Name: "s", Image: "$(params.image)"}}
	if err := checkDeclaredParams(spec, pipelinev1.Params{{Name: "revision"}}); err == nil || !strings.Contains(err.Error(), "spec.sidecars[0]") {
		t.Errorf("sidecar: error = %v", err)
	}
}
