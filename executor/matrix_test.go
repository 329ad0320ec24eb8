package executor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
)

// matrixRun fans "test" out over platform × browser (browsers from an array param) plus two include
// entries; "report" consumes the aggregated results and matrix lengths; the finally task is matrixed too.
const matrixRun = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: mx
spec:
  params:
    - name: browsers
      value: [chrome, safari]
  pipelineSpec:
    params:
      - name: browsers
        type: array
    tasks:
      - name: test
        displayName: "test on $(params.platform)"
        matrix:
          params:
            - name: platform
              value: [linux, mac]
            - name: browser
              value: $(params.browsers[*])
          include:
            - name: linux with url
              params:
                - {name: platform, value: linux}
                - {name: url, value: "https://ci.example/$(context.pipelineRun.name)"}
            - name: edge alone
              params:
                - {name: browser, value: edge}
        params:
          - {name: suite, value: smoke}
        taskSpec:
          params:
            - {name: platform, default: any}
            - name: browser
            - {name: url, default: none}
            - name: suite
          results:
            - name: out
          steps:
            - name: echo
              image: busybox
              script: printf '%s' "$(params.platform)-$(params.browser)" > $(results.out.path)
      - name: report
        params:
          - {name: all, value: "$(tasks.test.results.out[*])"}
          - {name: count, value: "$(tasks.test.matrix.length)"}
          - {name: found, value: "$(tasks.test.matrix.out.length)"}
        taskSpec:
          params:
            - {name: all, type: array}
            - name: count
            - name: found
          steps:
            - name: echo
              image: busybox
              args: ["$(params.all[*])"]
    finally:
      - name: notify
        matrix:
          params:
            - name: channel
              value: [chat, mail]
        params:
          - {name: status, value: "$(tasks.test.status)"}
        taskSpec:
          params:
            - name: channel
            - name: status
          steps:
            - name: echo
              image: busybox
              script: echo "$(params.channel) $(params.status)"
    results:
      - name: outs
        value: $(tasks.test.results.out[*])
`

func paramsText(tr *pipelinev1.TaskRun) string {
	var out []string
	for _, p := range tr.Spec.Params {
		v := p.Value.StringVal
		if p.Value.Type == pipelinev1.ParamTypeArray {
			v = "[" + strings.Join(p.Value.ArrayVal, " ") + "]"
		}
		out = append(out, p.Name+"="+v)
	}
	return strings.Join(out, ",")
}

func TestMatrixFanOut(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, matrixRun)

	// The run's params the embedded spec does not declare are propagated (browsers, last).
	url, prop := "url=https://ci.example/mx", ",browsers=[chrome safari]"
	want := []string{
		"suite=smoke,browser=chrome,platform=linux," + url + prop,
		"suite=smoke,browser=chrome,platform=mac" + prop,
		"suite=smoke,browser=safari,platform=linux," + url + prop,
		"suite=smoke,browser=safari,platform=mac" + prop,
		"suite=smoke,browser=edge" + prop,
	}
	for i, w := range want {
		tr := waitTaskRun(t, ns, fmt.Sprintf("mx-test-%d", i))
		if got := paramsText(tr); got != w {
			t.Errorf("mx-test-%d params = %s, want %s", i, got, w)
		}
		if tr.Labels["tekton.dev/pipelineTask"] != "test" || tr.OwnerReferences[0].Name != "mx" {
			t.Errorf("mx-test-%d labels %v owner %v", i, tr.Labels, tr.OwnerReferences)
		}
	}
	if names := strings.Join(taskRunNames(t, ns), ","); names != "mx-test-0,mx-test-1,mx-test-2,mx-test-3,mx-test-4" {
		t.Errorf("taskruns = %s (report waits for every combination)", names)
	}
	pr := waitPipelineRunReason(t, ns, "mx", "Running")
	eventually(t, 15*time.Second, "five child references", func() (bool, error) {
		pr = getPipelineRun(t, ns, "mx")
		return len(pr.Status.ChildReferences) == 5, fmt.Errorf("%d refs", len(pr.Status.ChildReferences))
	})
	var refs []string
	for _, r := range pr.Status.ChildReferences {
		refs = append(refs, fmt.Sprintf("%s/%s/%s/%s", r.Kind, r.Name, r.PipelineTaskName, r.DisplayName))
	}
	if got, w := strings.Join(refs, " | "), "TaskRun/mx-test-0/test/linux with url | TaskRun/mx-test-1/test/test on mac | "+
		"TaskRun/mx-test-2/test/linux with url | TaskRun/mx-test-3/test/test on mac | TaskRun/mx-test-4/test/edge alone"; got != w {
		t.Errorf("childReferences:\n got %s\nwant %s", got, w)
	}

	// Four combinations report a result, the fifth none: the array has four entries, the matrix five.
	for i := 0; i < 4; i++ {
		finishTask(t, ns, fmt.Sprintf("mx-test-%d", i), echoResult(fmt.Sprintf("r%d", i)))
	}
	finishTask(t, ns, "mx-test-4", map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(0, nil, false)})
	report := waitTaskRun(t, ns, "mx-report")
	if got := paramsText(report); got != "all=[r0 r1 r2 r3],count=5,found=4"+prop {
		t.Errorf("report params = %s", got)
	}
	finishTask(t, ns, "mx-report", nil)
	for i, ch := range []string{"chat", "mail"} {
		n := waitTaskRun(t, ns, fmt.Sprintf("mx-notify-%d", i))
		if got := paramsText(n); got != "status=Succeeded,channel="+ch+prop {
			t.Errorf("notify-%d params = %s", i, got)
		}
		if n.Labels["tekton.dev/memberOf"] != "finally" {
			t.Errorf("notify memberOf = %q", n.Labels["tekton.dev/memberOf"])
		}
		finishTask(t, ns, n.Name, nil)
	}
	pr = waitPipelineRunReason(t, ns, "mx", "Succeeded")
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Message != "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0" {
		t.Errorf("condition = %+v", c)
	}
	if len(pr.Status.ChildReferences) != 8 {
		t.Errorf("childReferences = %d, want 8", len(pr.Status.ChildReferences))
	}
	if len(pr.Status.Results) != 1 || strings.Join(pr.Status.Results[0].Value.ArrayVal, ",") != "r0,r1,r2,r3" {
		t.Errorf("results = %+v", pr.Status.Results)
	}
}

// A failing combination fails the matrixed task once all are done: later tasks are skipped, finally
// sees $(tasks.T.status) Failed and the run fails. A matrix with an empty array is skipped, as is a
// matrixed task whose when is false.
func TestMatrixFailureAndSkips(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: mf
spec:
  params:
    - {name: none, value: []}
  pipelineSpec:
    params:
      - {name: none, type: array}
    tasks:
      - name: build
        matrix:
          params:
            - {name: arch, value: [amd64, arm64]}
        taskSpec:
          params: [{name: arch}]
          steps: [{name: echo, image: busybox, script: "echo $(params.arch)"}]
      - name: empty
        matrix:
          params:
            - {name: arch, value: "$(params.none[*])"}
        taskSpec:
          params: [{name: arch}]
          steps: [{name: echo, image: busybox, script: "echo"}]
      - name: never
        when:
          - {input: "a", operator: in, values: [b]}
        matrix:
          params:
            - {name: arch, value: [x, y]}
        taskSpec:
          params: [{name: arch}]
          steps: [{name: echo, image: busybox, script: "echo"}]
      - name: after
        runAfter: [build]
        taskSpec:
          steps: [{name: echo, image: busybox, script: "echo"}]
    finally:
      - name: status
        params:
          - {name: s, value: "$(tasks.build.status)"}
        taskSpec:
          params: [{name: s}]
          steps: [{name: echo, image: busybox, script: "echo"}]
`)
	waitTaskRun(t, ns, "mf-build-0")
	waitTaskRun(t, ns, "mf-build-1")
	finishTask(t, ns, "mf-build-0", map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(1, nil, false)})
	pr := waitPipelineRunReason(t, ns, "mf", "Running")
	if got := strings.Join(taskRunNames(t, ns), ","); got != "mf-build-0,mf-build-1" {
		t.Errorf("taskruns while build-1 runs = %s", got)
	}
	finishTask(t, ns, "mf-build-1", nil)
	st := waitTaskRun(t, ns, "mf-status")
	if got := paramsText(st); got != "s=Failed,none=[]" {
		t.Errorf("finally params = %s", got)
	}
	finishTask(t, ns, "mf-status", nil)
	pr = waitPipelineRunReason(t, ns, "mf", "Failed")
	skips := map[string]string{}
	for _, s := range pr.Status.SkippedTasks {
		skips[s.Name] = s.Reason
	}
	for task, reason := range map[string]string{
		"empty": "Matrix Parameters have an empty array", "never": "When Expressions evaluated to false", "after": "PipelineRun was stopping",
	} {
		if skips[task] != reason {
			t.Errorf("skippedTasks[%s] = %q, want %q (all: %v)", task, skips[task], reason, skips)
		}
	}
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || c.Message != "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 3" {
		t.Errorf("condition = %+v", c)
	}
}

// Problems with a matrix, cel when expressions or a pipeline task running a Pipeline fail the run with
// Tekton's reason and a message naming the field.
func TestMatrixAndWhenRefusals(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	many := make([]string, 257)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	task := "taskSpec: {params: [{name: a}], steps: [{name: s, image: busybox, script: echo}]}"
	for _, tc := range []struct {
		name, spec, reason, msg string
	}{
		{"literal-over-limit", `pipelineSpec:
    tasks:
      - name: t
        matrix: {params: [{name: a, value: [` + strings.Join(many, ",") + `]}]}
        ` + task, "PipelineValidationFailed", `spec.tasks[0].matrix: pipeline task "t" fans out to 257 combinations, more than the maximum of 256`},
		{"param-over-limit", `params: [{name: many, value: [` + strings.Join(many, ",") + `]}]
  pipelineSpec:
    params: [{name: many, type: array}]
    tasks:
      - name: t
        matrix: {params: [{name: a, value: "$(params.many[*])"}]}
        ` + task, "PipelineValidationFailed", `spec.tasks[0].matrix: pipeline task "t" fans out to 257 combinations`},
		{"string-matrix-param", `pipelineSpec:
    tasks:
      - name: t
        matrix: {params: [{name: a, value: linux}]}
        ` + task, "InvalidMatrixParameterTypes", `spec.tasks[0].matrix.params[0]: matrix param "a" must be an array`},
		{"cel-not-bool", `params: [{name: branch, value: main}]
  pipelineSpec:
    params: [{name: branch}]
    tasks:
      - name: t
        when: [{cel: "'$(params.branch)'"}]
        ` + task, "CELEvaluationFailed", `spec.tasks[0].when (pipeline task "t"): when[0]: cel expression "'main'"`},
		{"cel-with-input", `pipelineSpec:
    tasks:
      - name: t
        when: [{cel: "true", input: a, operator: in, values: [a]}]
        ` + task, "PipelineValidationFailed", `spec.tasks[0].when[0]: cel cannot be combined`},
		{"pipeline-in-pipeline", `pipelineSpec:
    tasks:
      - name: t
        pipelineSpec: {tasks: [{name: inner, taskRef: {name: x}}]}`, "PipelineValidationFailed", `spec.tasks[0].pipelineSpec: Pipelines in Pipelines`},
		{"pipelineref-in-pipeline", `pipelineSpec:
    tasks:
      - name: t
        pipelineRef: {name: other}`, "PipelineValidationFailed", `spec.tasks[0].pipelineRef: Pipelines in Pipelines`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, ns, "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: "+tc.name+"\nspec:\n  "+tc.spec+"\n")
			pr := waitPipelineRunReason(t, ns, tc.name, tc.reason)
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, tc.msg) {
				t.Errorf("condition = %+v, want message containing %q", c, tc.msg)
			}
		})
	}
	if names := taskRunNames(t, ns); len(names) != 0 {
		t.Errorf("taskruns = %v, want none", names)
	}
}

// cel when expressions: variables are substituted first, then the expression is evaluated; a false one
// skips the task as Tekton reports it.
func TestCELWhen(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: cw
spec:
  params:
    - {name: branch, value: main}
  pipelineSpec:
    params:
      - name: branch
    tasks:
      - name: first
        taskSpec:
          results: [{name: out}]
          steps: [{name: echo, image: busybox, script: "echo"}]
      - name: on-main
        when:
          - cel: "'$(params.branch)' == 'main' && '$(tasks.first.results.out)'.startsWith('rel')"
        taskSpec:
          steps: [{name: echo, image: busybox, script: "echo"}]
      - name: on-dev
        when:
          - cel: "'$(params.branch)' in ['dev', 'develop']"
        taskSpec:
          steps: [{name: echo, image: busybox, script: "echo"}]
`)
	finishTask(t, ns, "cw-first", echoResult("release"))
	finishTask(t, ns, "cw-on-main", nil)
	pr := waitPipelineRunReason(t, ns, "cw", "Completed")
	if got := strings.Join(taskRunNames(t, ns), ","); got != "cw-first,cw-on-main" {
		t.Errorf("taskruns = %s", got)
	}
	if len(pr.Status.SkippedTasks) != 1 {
		t.Fatalf("skippedTasks = %+v", pr.Status.SkippedTasks)
	}
	sk := pr.Status.SkippedTasks[0]
	if sk.Name != "on-dev" || sk.Reason != "When Expressions evaluated to false" || len(sk.WhenExpressions) != 1 ||
		sk.WhenExpressions[0].CEL != "'main' in ['dev', 'develop']" {
		t.Errorf("skipped = %+v", sk)
	}
}

// A restarted executor recomputes a fan-out from the run's state: it adopts the TaskRuns made before,
// makes none twice, and finishes the run.
func TestMatrixAcrossRestart(t *testing.T) {
	ns := newNamespace(t)
	stop := startExecutor(t, ns)
	apply(t, ns, `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: mr
spec:
  pipelineSpec:
    tasks:
      - name: build
        matrix:
          params:
            - {name: arch, value: [amd64, arm64, riscv64]}
        taskSpec:
          params: [{name: arch}]
          results: [{name: out}]
          steps: [{name: echo, image: busybox, script: "echo"}]
      - name: publish
        params:
          - {name: outs, value: "$(tasks.build.results.out[*])"}
        taskSpec:
          params: [{name: outs, type: array}]
          steps: [{name: echo, image: busybox, args: ["$(params.outs[*])"]}]
`)
	for i := 0; i < 3; i++ {
		waitTaskRun(t, ns, fmt.Sprintf("mr-build-%d", i))
	}
	finishTask(t, ns, "mr-build-0", echoResult("x0"))
	stop()
	startExecutor(t, ns)
	finishTask(t, ns, "mr-build-1", echoResult("x1"))
	finishTask(t, ns, "mr-build-2", echoResult("x2"))
	pub := waitTaskRun(t, ns, "mr-publish")
	if got := paramsText(pub); got != "outs=[x0 x1 x2]" {
		t.Errorf("publish params = %s", got)
	}
	finishTask(t, ns, "mr-publish", nil)
	waitPipelineRunReason(t, ns, "mr", "Succeeded")
	if got := strings.Join(taskRunNames(t, ns), ","); got != "mr-build-0,mr-build-1,mr-build-2,mr-publish" {
		t.Errorf("taskruns = %s", got)
	}
}
