package e2enode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/api/validate"
	"github.com/hookrun/hookrun/listener"
)

func httpOK(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// namespace creates a namespace (kept after the test: the whole control plane goes at the end).
func (n *node) namespace(t *testing.T, name string) string {
	t.Helper()
	if err := n.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// apply creates every document of a multi-document YAML text in ns (cluster-scoped kinds ignore ns).
func (n *node) apply(t *testing.T, ns, text string) {
	t.Helper()
	if err := n.applyText(ns, text); err != nil {
		t.Fatal(err)
	}
}

func (n *node) applyText(ns, text string) error {
	for _, doc := range splitYAML(text) {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			return fmt.Errorf("parse:\n%s\n%w", doc, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		switch obj.GetKind() {
		case "PersistentVolume", "Namespace", "ClusterRole", "ClusterRoleBinding":
		default:
			obj.SetNamespace(ns)
		}
		if err := n.client.Create(context.Background(), &obj); err != nil {
			return fmt.Errorf("create %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func splitYAML(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, " ") == "---" {
			if strings.TrimSpace(cur.String()) != "" {
				out = append(out, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(line + "\n")
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// applyDir applies every YAML file of a directory, in name order.
func (n *node) applyDir(t *testing.T, ns, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The examples' Secrets hold a placeholder `hookrun dev` fills in; this suite signs with its own.
		n.apply(t, ns, strings.ReplaceAll(string(data), validate.SecretPlaceholder, e2eSecret))
	}
}

// e2eSecret replaces the examples' placeholder webhook secrets in this suite.
const e2eSecret = "e2e-node-webhook-secret"

// send delivers a signed webhook to the listener and returns the PipelineRun it created.
func (n *node) send(t *testing.T, path string, o listener.Outgoing) (string, time.Time) {
	t.Helper()
	req, err := o.Request(context.Background(), n.hookURL+path)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r listener.Response
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook %s: HTTP %d %s", path, resp.StatusCode, body)
	}
	if len(r.Triggers) == 0 || r.Triggers[0].Status != listener.StatusCreated || len(r.Triggers[0].Resources) == 0 {
		t.Fatalf("webhook %s: the trigger did not create a run: %s", path, body)
	}
	return r.Triggers[0].Resources[0].Name, sent
}

func (n *node) getPR(ns, name string) (*pipelinev1.PipelineRun, error) {
	var pr pipelinev1.PipelineRun
	err := n.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr)
	return &pr, err
}

// waitPR waits until a PipelineRun is done.
func (n *node) waitPR(t *testing.T, ns, name string, timeout time.Duration) *pipelinev1.PipelineRun {
	t.Helper()
	var pr *pipelinev1.PipelineRun
	err := waitFor(timeout, "PipelineRun "+ns+"/"+name+" done", func() (bool, error) {
		var err error
		pr, err = n.getPR(ns, name)
		if err != nil {
			return false, err
		}
		c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded)
		return c != nil && c.Status != corev1.ConditionUnknown, nil
	})
	if err != nil {
		t.Fatalf("%v\nstatus: %s\n%s", err, statusJSON(pr), n.describeRuns(ns))
	}
	return pr
}

func statusJSON(v any) string {
	if v == nil {
		return "<nil>"
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// describeRuns summarises the TaskRuns and Pods of a namespace, with their logs (failure messages).
func (n *node) describeRuns(ns string) string {
	var b strings.Builder
	var trs pipelinev1.TaskRunList
	if err := n.client.List(context.Background(), &trs, client.InNamespace(ns)); err == nil {
		for _, tr := range trs.Items {
			c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded)
			fmt.Fprintf(&b, "TaskRun %s: %+v pod=%s\n", tr.Name, c, tr.Status.PodName)
		}
	}
	var pods corev1.PodList
	if err := n.client.List(context.Background(), &pods, client.InNamespace(ns)); err == nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			fmt.Fprintf(&b, "Pod %s: phase=%s reason=%s node=%s\n", p.Name, p.Status.Phase, p.Status.Reason, p.Spec.NodeName)
			for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				fmt.Fprintf(&b, "  %s: %s\n", s.Name, stateString(s.State))
			}
			b.WriteString(indent(n.podLogs(p), "  | "))
		}
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return fmt.Sprintf("waiting %s %s", s.Waiting.Reason, s.Waiting.Message)
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated %s exit=%d %s", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)
	}
	return "unknown"
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

// taskRun returns the TaskRun of pipeline task name in a PipelineRun.
func (n *node) taskRun(t *testing.T, pr *pipelinev1.PipelineRun, task string) *pipelinev1.TaskRun {
	t.Helper()
	tr, err := n.findTaskRun(pr, task)
	if err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(pr.Namespace))
	}
	return tr
}

func (n *node) findTaskRun(pr *pipelinev1.PipelineRun, task string) (*pipelinev1.TaskRun, error) {
	for _, c := range pr.Status.ChildReferences {
		if c.PipelineTaskName == task {
			var tr pipelinev1.TaskRun
			err := n.client.Get(context.Background(), client.ObjectKey{Namespace: pr.Namespace, Name: c.Name}, &tr)
			return &tr, err
		}
	}
	return nil, fmt.Errorf("PipelineRun %s has no TaskRun for task %q (children %+v)", pr.Name, task, pr.Status.ChildReferences)
}

func (n *node) pod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := n.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatalf("pod %s/%s: %v", ns, name, err)
	}
	return &p
}

// waitPod waits for a Pod to exist and satisfy cond.
func (n *node) waitPod(t *testing.T, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	err := waitFor(timeout, "pod "+ns+"/"+name+" "+what, func() (bool, error) {
		if err := n.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			if apierrors.IsNotFound(err) {
				return false, err
			}
			return false, err
		}
		return cond(&p), nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(ns))
	}
	return &p
}

func containerStatus(p *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if s.Name == name {
			return s, true
		}
	}
	return corev1.ContainerStatus{}, false
}

func containerSpec(p *corev1.Pod, name string) (corev1.Container, bool) {
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.Name == name {
			return c, true
		}
	}
	return corev1.Container{}, false
}

func condition(pr *pipelinev1.PipelineRun) pipelinev1.Condition {
	if c := pr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil {
		return *c
	}
	return pipelinev1.Condition{}
}

func trCondition(tr *pipelinev1.TaskRun) pipelinev1.Condition {
	if c := tr.Status.GetCondition(pipelinev1.ConditionSucceeded); c != nil {
		return *c
	}
	return pipelinev1.Condition{}
}

func step(tr *pipelinev1.TaskRun, name string) (pipelinev1.StepState, bool) {
	for _, s := range tr.Status.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return pipelinev1.StepState{}, false
}

func resultOf(tr *pipelinev1.TaskRun, name string) string {
	for _, r := range tr.Status.Results {
		if r.Name == name {
			return r.Value.StringVal
		}
	}
	return ""
}

func paramOf(tr *pipelinev1.TaskRun, name string) string {
	for _, p := range tr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return ""
}

// cancel sets spec.status Cancelled on a PipelineRun.
func (n *node) cancel(t *testing.T, ns, name string) time.Time {
	t.Helper()
	patch := []byte(`{"spec":{"status":"Cancelled"}}`)
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	at := time.Now()
	if err := n.client.Patch(context.Background(), pr, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatalf("cancel %s: %v", name, err)
	}
	return at
}

// readCorpus reads a payload from ../shared/corpus, or returns fallback (with a note) in a clone without it.
func readCorpus(t *testing.T, root string, fallback []byte, parts ...string) []byte {
	t.Helper()
	p := filepath.Join(append([]string{root, "..", "shared", "corpus"}, parts...)...)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("corpus absent (%s): using the suite's own minimal payload", p)
		return fallback
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// setJSON sets top-level or nested fields of a JSON document (path → value).
func setJSON(t *testing.T, doc []byte, sets map[string]any) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for path, v := range sets {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func metaFor(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
