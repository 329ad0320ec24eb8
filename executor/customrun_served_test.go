package executor_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1alpha1 "github.com/hookrun/hookrun/api/pipeline/v1alpha1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	"github.com/hookrun/hookrun/test/seeds"
)

// runFixture is a v1alpha1 Run as older manifests write it: ref (not customRef), podTemplate.
const runFixture = `apiVersion: tekton.dev/v1alpha1
kind: Run
metadata:
  name: example
spec:
  ref:
    apiVersion: example.dev/v1alpha1
    kind: Example
    name: my-example
  params:
    - {name: greeting, value: hello}
  timeout: 1m
  retries: 1
  podTemplate: {nodeSelector: {disk: ssd}}
`

// TestRunV1alpha1Served: the API server serves tekton.dev/v1alpha1 Run and v1beta1 CustomRun with their
// status subresource (a custom task controller writes status there) and Tekton's printer columns.
func TestRunV1alpha1Served(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, runFixture)
	ctx := context.Background()
	var run pipelinev1alpha1.Run
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "example"}, &run); err != nil {
		t.Fatal(err)
	}
	if r := run.Spec.Ref; r == nil || r.Kind != "Example" || r.APIVersion != "example.dev/v1alpha1" || r.Name != "my-example" ||
		run.Spec.Timeout.Duration != time.Minute || run.Spec.Retries != 1 || run.Spec.PodTemplate.NodeSelector["disk"] != "ssd" {
		t.Errorf("served Run spec = %s", jsonText(run.Spec))
	}
	now := metav1.Now()
	run.Status.StartTime, run.Status.CompletionTime = &now, &now
	run.Status.SetCondition(pipelinev1.Condition{Type: pipelinev1.ConditionSucceeded, Status: corev1.ConditionTrue, Reason: "Succeeded", LastTransitionTime: now})
	run.Status.Results = []pipelinev1beta1.CustomRunResult{{Name: "out", Value: "v"}}
	if err := env.Client.Status().Update(ctx, &run); err != nil {
		t.Fatalf("status subresource: %v", err)
	}
	apply(t, ns, `apiVersion: tekton.dev/v1beta1
kind: CustomRun
metadata:
  name: pending
spec:
  customSpec:
    apiVersion: example.dev/v1alpha1
    kind: Example
    spec: {anything: [1, 2]}
`)
	out := kubectlGet(t, "runs.tekton.dev,customruns.tekton.dev", "-n", ns)
	for _, want := range []string{
		`(?m)^NAME\s+SUCCEEDED\s+REASON\s+STARTTIME\s+COMPLETIONTIME$`,
		`(?m)^run\.tekton\.dev/example\s+True\s+Succeeded\s+\S+\s+\S+$`,
		`(?m)^customrun\.tekton\.dev/pending\s*$`, // no controller: no status, empty columns
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("kubectl get output does not match %s:\n%s", want, out)
		}
	}
	var cr pipelinev1beta1.CustomRun
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "pending"}, &cr); err != nil {
		t.Fatal(err)
	}
	if string(cr.Spec.CustomSpec.Spec.Raw) != `{"anything":[1,2]}` {
		t.Errorf("customSpec.spec = %s, want it kept as written", cr.Spec.CustomSpec.Spec.Raw)
	}
}

// TestSeedRunServed: the tutorial's Run section (its spec.ref fragment) makes a Run the API server accepts.
func TestSeedRunServed(t *testing.T) {
	dir := seeds.Dir(env.Root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds (a clone without ../shared); TestRunV1alpha1Served covers Run", env.Root)
	}
	fragment := seedRunFragment(t, dir)
	ns := newNamespace(t)
	apply(t, ns, "apiVersion: tekton.dev/v1alpha1\nkind: Run\nmetadata:\n  name: seed-run\n"+fragment)
	var run pipelinev1alpha1.Run
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "seed-run"}, &run); err != nil {
		t.Fatal(err)
	}
	if r := run.Spec.Ref; r == nil || r.APIVersion != "example.dev/v1alpha1" || r.Kind != "Example" {
		t.Errorf("seed Run spec.ref = %+v, want the tutorial's example.dev/v1alpha1 Example", r)
	}
	if len(run.Status.Conditions) != 0 {
		t.Errorf("status = %+v, want none (no custom task controller)", run.Status)
	}
}

// seedRunFragment is the first YAML block of a seed's "## Run" section (the tutorial shows spec: ref: …).
func seedRunFragment(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)\n## Run\n.*?```yaml\n(.*?)```")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := block.FindSubmatch(data); m != nil && strings.Contains(string(m[1]), "ref:") {
			return string(m[1])
		}
	}
	t.Fatalf("no seed in %s has a \"## Run\" section with a spec.ref block", dir)
	return ""
}

// kubectlGet runs the control plane's kubectl (bin/, beside kube-apiserver) and returns its output.
func kubectlGet(t *testing.T, args ...string) string {
	t.Helper()
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl: %v (make tools builds it into bin/)", err)
	}
	cfg := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(cfg); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, append([]string{"--kubeconfig", cfg, "get"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get %v: %v\n%s", args, err, out)
	}
	return string(out)
}
