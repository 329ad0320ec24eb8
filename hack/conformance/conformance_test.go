package conformance

import (
	"flag"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	hookpipeline "github.com/hookrun/hookrun/api/pipeline/v1"
	hookrun "github.com/hookrun/hookrun/api/pipeline/v1alpha1"
	hookclustertask "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	hooktriggers "github.com/hookrun/hookrun/api/triggers/v1beta1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	pipelinev1alpha1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1alpha1"
	pipelinev1beta1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	triggersv1alpha1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1alpha1"
	triggersv1beta1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
)

var update = flag.Bool("update", false, "rewrite ../../docs/compatibility.md from Tekton's and hookrun's types, keeping the decisions written in it")

const docPath = "../../docs/compatibility.md"

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// roots are the kinds hookrun serves, each Tekton version beside the hookrun type that serves it
// (hookrun serves tekton.dev v1 and v1beta1, triggers.tekton.dev v1beta1 and v1alpha1, from one Go type each).
func roots() []Root {
	return []Root{
		{"tekton.dev/v1 Task", typeOf[pipelinev1.Task](), typeOf[hookpipeline.Task]()},
		{"tekton.dev/v1 Pipeline", typeOf[pipelinev1.Pipeline](), typeOf[hookpipeline.Pipeline]()},
		{"tekton.dev/v1 TaskRun", typeOf[pipelinev1.TaskRun](), typeOf[hookpipeline.TaskRun]()},
		{"tekton.dev/v1 PipelineRun", typeOf[pipelinev1.PipelineRun](), typeOf[hookpipeline.PipelineRun]()},
		{"tekton.dev/v1beta1 Task", typeOf[pipelinev1beta1.Task](), typeOf[hookpipeline.Task]()},
		{"tekton.dev/v1beta1 Pipeline", typeOf[pipelinev1beta1.Pipeline](), typeOf[hookpipeline.Pipeline]()},
		{"tekton.dev/v1beta1 TaskRun", typeOf[pipelinev1beta1.TaskRun](), typeOf[hookpipeline.TaskRun]()},
		{"tekton.dev/v1beta1 PipelineRun", typeOf[pipelinev1beta1.PipelineRun](), typeOf[hookpipeline.PipelineRun]()},
		{"tekton.dev/v1beta1 StepAction", typeOf[pipelinev1beta1.StepAction](), typeOf[hookpipeline.StepAction]()},
		{"tekton.dev/v1alpha1 StepAction", typeOf[pipelinev1alpha1.StepAction](), typeOf[hookpipeline.StepAction]()},
		// Tekton's Go types no longer have ClusterTask (removed in Pipelines v0.65); it was a cluster-scoped
		// Task, so the v1beta1 Task is its shape.
		{"tekton.dev/v1beta1 ClusterTask", typeOf[pipelinev1beta1.Task](), typeOf[hookclustertask.ClusterTask]()},
		// Custom tasks: hookrun creates CustomRuns and serves both kinds; another controller runs them.
		{"tekton.dev/v1beta1 CustomRun", typeOf[pipelinev1beta1.CustomRun](), typeOf[hookclustertask.CustomRun]()},
		{"tekton.dev/v1alpha1 Run", typeOf[pipelinev1alpha1.Run](), typeOf[hookrun.Run]()},
		{"triggers.tekton.dev/v1beta1 EventListener", typeOf[triggersv1beta1.EventListener](), typeOf[hooktriggers.EventListener]()},
		{"triggers.tekton.dev/v1beta1 Trigger", typeOf[triggersv1beta1.Trigger](), typeOf[hooktriggers.Trigger]()},
		{"triggers.tekton.dev/v1beta1 TriggerBinding", typeOf[triggersv1beta1.TriggerBinding](), typeOf[hooktriggers.TriggerBinding]()},
		{"triggers.tekton.dev/v1beta1 ClusterTriggerBinding", typeOf[triggersv1beta1.ClusterTriggerBinding](), typeOf[hooktriggers.ClusterTriggerBinding]()},
		{"triggers.tekton.dev/v1beta1 TriggerTemplate", typeOf[triggersv1beta1.TriggerTemplate](), typeOf[hooktriggers.TriggerTemplate]()},
		{"triggers.tekton.dev/v1alpha1 EventListener", typeOf[triggersv1alpha1.EventListener](), typeOf[hooktriggers.EventListener]()},
		{"triggers.tekton.dev/v1alpha1 Trigger", typeOf[triggersv1alpha1.Trigger](), typeOf[hooktriggers.Trigger]()},
		{"triggers.tekton.dev/v1alpha1 TriggerBinding", typeOf[triggersv1alpha1.TriggerBinding](), typeOf[hooktriggers.TriggerBinding]()},
		{"triggers.tekton.dev/v1alpha1 ClusterTriggerBinding", typeOf[triggersv1alpha1.ClusterTriggerBinding](), typeOf[hooktriggers.ClusterTriggerBinding]()},
		{"triggers.tekton.dev/v1alpha1 TriggerTemplate", typeOf[triggersv1alpha1.TriggerTemplate](), typeOf[hooktriggers.TriggerTemplate]()},
		{"triggers.tekton.dev/v1alpha1 ClusterInterceptor", typeOf[triggersv1alpha1.ClusterInterceptor](), typeOf[hooktriggers.ClusterInterceptor]()},
		{"triggers.tekton.dev/v1alpha1 Interceptor", typeOf[triggersv1alpha1.Interceptor](), typeOf[hooktriggers.Interceptor]()},
	}
}

// tektonVersions are the versions of Tekton's modules this module requires (its go.mod: a test binary's
// build information does not list its dependencies).
func tektonVersions(t *testing.T) (pipeline, triggers string) {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "github.com/tektoncd/pipeline":
			pipeline = f[1]
		case "github.com/tektoncd/triggers":
			triggers = f[1]
		}
	}
	if pipeline == "" || triggers == "" {
		t.Fatalf("go.mod requires no Tekton modules (pipeline %q, triggers %q)", pipeline, triggers)
	}
	return pipeline, triggers
}

// TestConformance fails when a Tekton field is neither in hookrun's types nor decided in
// docs/compatibility.md, or when the document is not what the types generate (run make compat-docs).
func TestConformance(t *testing.T) {
	current, err := os.ReadFile(docPath)
	if err != nil && !(os.IsNotExist(err) && *update) {
		t.Fatalf("read %s: %v", docPath, err)
	}
	decisions, err := ParseTable(string(current))
	if err != nil {
		t.Fatalf("%s: %v", docPath, err)
	}
	rows := Rows(Walk(roots()), decisions)
	pv, tv := tektonVersions(t)
	want := Render(rows, pv, tv)
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if string(current) != want {
		t.Errorf("%s is not what Tekton's and hookrun's types give:\n%s\nrun `make compat-docs` and commit the result", docPath, firstDiff(string(current), want))
	}
	var undecided []string
	for _, r := range rows {
		if r.Status == Undecided {
			undecided = append(undecided, r.Kind+" "+r.Path)
		}
	}
	if len(undecided) > 0 {
		t.Errorf("%d Tekton fields are neither in hookrun's types nor decided in %s (implement each, or set refused/ignored with the reason):\n  %s",
			len(undecided), docPath, strings.Join(undecided, "\n  "))
	}
}

// firstDiff shows the first line where two documents differ.
func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  have: " + hl + "\n  want: " + wl
		}
	}
	return "(same lines)"
}
