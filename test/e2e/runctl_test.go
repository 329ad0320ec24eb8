package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/runctl"
)

// runctlConfig: one EventListener per concurrency policy, each running a 2-second Pipeline per push, the
// group being the pushed branch.
const runctlConfig = `
apiVersion: v1
kind: Secret
metadata: {name: runctl-hooks, namespace: default}
stringData: {token: runctl-e2e-secret}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: sleepy, namespace: default}
spec:
  params: [{name: after}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: sleepy-}
    spec:
      pipelineSpec:
        tasks:
        - name: wait
          taskSpec:
            steps:
            - {name: sleep, image: busybox, script: "sleep 2"}
`

func runctlListener(name, policy string) string {
	return fmt.Sprintf(`
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: %s
  namespace: default
  annotations:
    %s: "body.ref"
    %s: %s
spec:
  triggers:
  - name: push
    interceptors:
    - github: {secretRef: {secretName: runctl-hooks, secretKey: token}, eventTypes: [push]}
    bindings: [{name: after, value: $(body.after)}]
    template: {ref: sleepy}
`, name, runctl.AnnotationGroup, runctl.AnnotationPolicy, policy)
}

// TestDevConcurrencyGroups: through the whole loop under hookrun dev — cancel-in-progress: of 5 pushes to a
// branch 200 ms apart only the last run completes, the others are cancelled naming a newer run and its
// delivery; queue: a branch's runs run one at a time in push order while another branch's run runs
// beside them.
func TestDevConcurrencyGroups(t *testing.T) {
	root, bin := buildHookrun(t)
	tmp := filepath.Dir(bin)
	d := startDev(t, root, bin, filepath.Join(tmp, "state"))
	apply := exec.Command(filepath.Join(root, "bin", "kubectl"), "--kubeconfig", filepath.Join(d.state, "kubeconfig"), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(runctlConfig + "---" + runctlListener("runctl-cancel", "cancel-in-progress") + "---" + runctlListener("runctl-queue", "queue"))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second) // the listener's informer sees the new objects

	pushTo := func(el, branch string, n int) (run, delivery string) {
		body := fmt.Appendf(nil, `{"ref":"refs/heads/%s","after":"%040d","repository":{"full_name":"o/r","default_branch":"main"},"head_commit":{"message":"change %d"}}`, branch, n, n)
		out := listener.Outgoing{Provider: "github", Event: "push", Secret: "runctl-e2e-secret", Body: body, ID: fmt.Sprintf("delivery-%s-%d", el, n)}
		r := d.send(t, "/hooks/"+el, out)
		return r.Triggers[0].Resources[0].Name, out.ID
	}

	t.Run("cancel-in-progress", func(t *testing.T) {
		var runs, deliveries []string
		for i := range 5 {
			run, del := pushTo("runctl-cancel", "feature", i)
			runs, deliveries = append(runs, run), append(deliveries, del)
			time.Sleep(200 * time.Millisecond)
		}
		for i, name := range runs {
			pr := d.waitRun(t, name)
			c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			if i == len(runs)-1 {
				if c.Status != corev1.ConditionTrue {
					t.Fatalf("the last run %s: %+v", name, c)
				}
				continue
			}
			if c.Status != corev1.ConditionFalse || !strings.HasPrefix(c.Reason, "Cancelled") {
				t.Errorf("run %d %s: %s %s, want Cancelled", i, name, c.Reason, c.Message)
				continue
			}
			// Cancelled by one of the newer runs, named with its delivery.
			named := false
			for j := i + 1; j < len(runs); j++ {
				named = named || (strings.Contains(c.Message, runs[j]) && strings.Contains(c.Message, deliveries[j]))
			}
			if !named {
				t.Errorf("run %d %s: message %q names no newer run and delivery", i, name, c.Message)
			}
		}
	})

	t.Run("queue", func(t *testing.T) {
		var runs []string
		for i := range 3 {
			run, _ := pushTo("runctl-queue", "release", i)
			runs = append(runs, run)
			time.Sleep(200 * time.Millisecond)
		}
		other, _ := pushTo("runctl-queue", "other", 9)
		var prs []*pipelinev1.PipelineRun
		for _, name := range runs {
			pr := d.waitRun(t, name)
			if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c.Status != corev1.ConditionTrue {
				t.Fatalf("queued run %s: %+v", name, c)
			}
			prs = append(prs, pr)
		}
		for i := 1; i < len(prs); i++ {
			if prs[i].Status.StartTime.Before(prs[i-1].Status.CompletionTime) {
				t.Errorf("run %s started at %v before %s ended at %v", prs[i].Name, prs[i].Status.StartTime, prs[i-1].Name, prs[i-1].Status.CompletionTime)
			}
		}
		o := d.waitRun(t, other)
		if !o.Status.StartTime.Before(prs[len(prs)-1].Status.StartTime) {
			t.Errorf("the other branch's run started at %v, not beside the queue (its last run started at %v)", o.Status.StartTime, prs[len(prs)-1].Status.StartTime)
		}
		var list pipelinev1.PipelineRunList
		if err := d.client.List(context.Background(), &list, client.InNamespace("default"), client.MatchingLabels{runctl.LabelGroup: runctl.GroupLabel("refs/heads/release")}); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, pr := range list.Items {
			names = append(names, pr.Name)
		}
		slices.Sort(names)
		want := slices.Clone(runs)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("group label selects %v, want %v", names, want)
		}
	})
}
