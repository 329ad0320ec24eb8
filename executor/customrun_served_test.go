package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

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
	// Date columns come as ages ("0s", "5m"): a started and finished Run has both, a CustomRun without
	// controller neither.
	ages := regexp.MustCompile(`^\d+[smhd]`)
	for _, tc := range []struct {
		resource   string
		row        string
		timesShown bool
	}{
		{"v1alpha1/namespaces/" + ns + "/runs", "example True Succeeded", true},
		{"v1beta1/namespaces/" + ns + "/customruns", "pending  ", false},
	} {
		header, rows := printedTable(t, ns, tc.resource)
		if got := strings.Join(header, " "); got != "Name Succeeded Reason StartTime CompletionTime" {
			t.Errorf("%s columns = %q, want Tekton's Name Succeeded Reason StartTime CompletionTime", tc.resource, got)
		}
		if len(rows) != 1 || len(rows[0]) != 5 {
			t.Fatalf("%s rows = %q, want one row of 5 cells", tc.resource, rows)
		}
		r := rows[0]
		if got := strings.Join(r[:3], " "); got != tc.row || ages.MatchString(r[3]) != tc.timesShown || ages.MatchString(r[4]) != tc.timesShown {
			t.Errorf("%s row = %q, want %q with start/completion ages shown: %v", tc.resource, r, tc.row, tc.timesShown)
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

// printedTable is what `kubectl get` prints for the resources of ns: the API server's Table (the CRD's printer
// columns), as header and rows of cells.
func printedTable(t *testing.T, ns, resource string) (header []string, rows [][]string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/apis/tekton.dev", resource).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("get %s as a table: %v", resource, err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	for _, c := range table.ColumnDefinitions {
		header = append(header, c.Name)
	}
	for _, r := range table.Rows {
		var cells []string
		for _, c := range r.Cells {
			if c == nil {
				c = "" // an absent value (no status yet): kubectl prints nothing
			}
			cells = append(cells, fmt.Sprint(c))
		}
		rows = append(rows, cells)
	}
	return header, rows
}
