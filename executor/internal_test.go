package executor

import (
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func TestChildName(t *testing.T) {
	for _, tc := range []struct{ parent, suffix, want string }{
		{"run", "build", "run-build"},
		{"test-pipelinerun", "build-and-push", "test-pipelinerun-build-and-push"},
	} {
		if got := childName(tc.parent, tc.suffix); got != tc.want {
			t.Errorf("childName(%q, %q) = %q", tc.parent, tc.suffix, got)
		}
	}
	long := strings.Repeat("a", 60)
	a, b := childName(long, "task-one"), childName(long, "task-two")
	if len(a) > 63 || len(b) > 63 || a == b || a != childName(long, "task-one") {
		t.Errorf("long names: %q %q", a, b)
	}
	if got := podName("tr", 0); got != "tr-pod" {
		t.Errorf("podName 0 = %q", got)
	}
	if got := podName("tr", 2); got != "tr-pod-retry2" {
		t.Errorf("podName 2 = %q", got)
	}
}

func TestIsUpstreamKaniko(t *testing.T) {
	for img, want := range map[string]bool{
		"gcr.io/kaniko-project/executor":                              true,
		"gcr.io/kaniko-project/executor:latest":                       true,
		"gcr.io/kaniko-project/executor:v1.5.1@sha256:c6166717f7fe0b": true,
		"gcr.io/kaniko-project/executor@sha256:abc":                   true,
		"gcr.io/kaniko-project/executor:debug":                        true,
		"gcr.io/kaniko-project/warmer:latest":                         false,
		"ghcr.io/osscontainertools/kaniko:latest":                     false,
		"my.registry:5000/gcr.io/kaniko-project/executor":             false,
	} {
		if got := isUpstreamKaniko(img); got != want {
			t.Errorf("isUpstreamKaniko(%q) = %v", img, got)
		}
	}
}

func TestEvalWhen(t *testing.T) {
	for _, tc := range []struct {
		when pipelinev1.WhenExpressions
		want bool
	}{
		{nil, true},
		{pipelinev1.WhenExpressions{{Input: "main", Operator: "in", Values: []string{"main", "dev"}}}, true},
		{pipelinev1.WhenExpressions{{Input: "x", Operator: "in", Values: []string{"main"}}}, false},
		{pipelinev1.WhenExpressions{{Input: "x", Operator: "notin", Values: []string{"main"}}}, true},
		{pipelinev1.WhenExpressions{{Input: "main", Operator: "in", Values: []string{"main"}}, {Input: "a", Operator: "notin", Values: []string{"a"}}}, false},
	} {
		if got := evalWhen(tc.when); got != tc.want {
			t.Errorf("evalWhen(%+v) = %v", tc.when, got)
		}
	}
}

func TestBuildGraphCycle(t *testing.T) {
	spec := &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{
		{Name: "a", TaskRef: &pipelinev1.TaskRef{Name: "t"}, Params: pipelinev1.Params{{Name: "x", Value: *pipelinev1.NewStringValue("$(tasks.c.results.r)")}}},
		{Name: "b", TaskRef: &pipelinev1.TaskRef{Name: "t"}, RunAfter: []string{"a"}},
		{Name: "c", TaskRef: &pipelinev1.TaskRef{Name: "t"}, RunAfter: []string{"b"}},
	}}
	_, err := buildGraph(spec)
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err = %v", err)
	}
	spec.Tasks[0].Params = nil
	g, err := buildGraph(spec)
	if err != nil || strings.Join(g.parents["c"], ",") != "b" {
		t.Fatalf("graph %+v, %v", g, err)
	}
}
