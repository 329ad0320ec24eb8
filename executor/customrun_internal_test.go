package executor

import (
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func TestCheckCustomTask(t *testing.T) {
	wait := func() *pipelinev1.TaskRef { return &pipelinev1.TaskRef{APIVersion: "example.dev/v1", Kind: "Wait"} }
	for _, tc := range []struct {
		name string
		pt   pipelinev1.PipelineTask
		want string // "" = accepted
	}{
		{name: "task", pt: pipelinev1.PipelineTask{TaskRef: &pipelinev1.TaskRef{Name: "echo"}}},
		{name: "custom by reference", pt: pipelinev1.PipelineTask{TaskRef: wait()}},
		{name: "custom embedded", pt: pipelinev1.PipelineTask{TaskSpec: &pipelinev1.EmbeddedTask{APIVersion: "example.dev/v1", Kind: "Wait"}}},
		{name: "apiVersion without group", pt: pipelinev1.PipelineTask{TaskRef: &pipelinev1.TaskRef{APIVersion: "v1", Kind: "Wait"}},
			want: `spec.tasks[0].taskRef.apiVersion: "v1" must be group/version`},
		{name: "embedded apiVersion with extra slash", pt: pipelinev1.PipelineTask{TaskSpec: &pipelinev1.EmbeddedTask{APIVersion: "a/b/c", Kind: "Wait"}},
			want: `spec.tasks[0].taskSpec.apiVersion: "a/b/c" must be group/version`},
		{name: "resolver", pt: pipelinev1.PipelineTask{TaskRef: &pipelinev1.TaskRef{APIVersion: "example.dev/v1", Kind: "Wait", Resolver: "git"}},
			want: "spec.tasks[0].taskRef: a custom task reference"},
		{name: "both", pt: pipelinev1.PipelineTask{TaskRef: wait(), TaskSpec: &pipelinev1.EmbeddedTask{}},
			want: "spec.tasks[0]: a custom task takes taskRef or taskSpec, not both"},
		{name: "matrix", pt: pipelinev1.PipelineTask{TaskRef: wait(), Matrix: &pipelinev1.Matrix{Params: pipelinev1.Params{{Name: "d",
			Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: []string{"1s", "2s"}}}}}},
			want: `spec.tasks[0].matrix: a matrix on a custom task (kind "Wait") is not supported by hookrun`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkCustomTask("spec.tasks[0]", &tc.pt)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCustomRunMessage(t *testing.T) {
	for in, want := range map[string]string{
		msgTaskRunCancelled: "CustomRun cancelled as the PipelineRun it belongs to has been cancelled.",
		msgTaskRunTimedOut:  "CustomRun cancelled as the PipelineRun it belongs to has timed out.",
		msgTaskRunRunFailed: "CustomRun cancelled as the PipelineRun it belongs to has failed.",
	} {
		if got := customRunMessage(in); got != want {
			t.Errorf("customRunMessage(%q) = %q, want %q", in, got, want)
		}
	}
}
