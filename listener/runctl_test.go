package listener_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/runctl"
)

// annotated is the fixture with run-control annotations on the EventListener (its inline triggers take
// them).
func annotated(ns string, annotations map[string]string) string {
	var b strings.Builder
	b.WriteString("kind: EventListener\nmetadata:\n  name: hooks\n  annotations:\n")
	for k, v := range annotations {
		q, _ := json.Marshal(v)
		fmt.Fprintf(&b, "    %s: %s\n", k, q)
	}
	return strings.Replace(fixture(ns), "kind: EventListener\nmetadata: {name: hooks}\n", b.String(), 1)
}

// push is a GitHub push of files to ref in o/r, told apart by n.
func push(ref string, n int, message string, files ...string) []byte {
	fs, _ := json.Marshal(files)
	return fmt.Appendf(nil, `{"ref":%q,"after":"%040d","head_commit":{"id":"%040d","message":%q},
"commits":[{"id":"%040d","message":%q,"added":[],"removed":[],"modified":%s}],
"repository":{"full_name":"o/r","default_branch":"main","clone_url":"https://example.com/o/r.git"}}`,
		ref, n, n, message, n, message, fs)
}

func (h *harness) push(t *testing.T, body []byte) listener.TriggerResult {
	t.Helper()
	code, resp, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: body})
	for _, tr := range resp.Triggers {
		if tr.Name == "github-push" {
			if code >= 500 {
				t.Fatalf("%d %+v", code, resp)
			}
			return tr
		}
	}
	t.Fatalf("no github-push trigger in %d %+v", code, resp)
	return listener.TriggerResult{}
}

func getRun(t *testing.T, ns string, r listener.TriggerResult) *pipelinev1.PipelineRun {
	t.Helper()
	if r.Status != listener.StatusCreated || len(r.Resources) == 0 {
		t.Fatalf("trigger %+v: want created", r)
	}
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: r.Resources[0].Name}, &pr); err != nil {
		t.Fatal(err)
	}
	return &pr
}

// TestSkipCIAndPaths: [skip ci] and path filters skip a push with a reason, creating nothing.
func TestSkipCIAndPaths(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationPaths: "src/**", runctl.AnnotationPathsIgnore: "**/*.md"}))
	h := start(t, ns, nil)
	for _, tc := range []struct {
		name, message string
		files         []string
		want, reason  string
	}{
		{"skip ci", "wip [skip ci]", []string{"src/a.go"}, listener.StatusSkipped, "[skip ci]"},
		{"ci skip anywhere", "[CI SKIP] tidy", []string{"src/a.go"}, listener.StatusSkipped, "[CI SKIP]"},
		{"outside paths", "docs", []string{"README.md", "docs/x.txt"}, listener.StatusSkipped, runctl.AnnotationPaths},
		{"ignored inside", "docs", []string{"src/README.md"}, listener.StatusSkipped, runctl.AnnotationPaths},
		{"matching", "code", []string{"README.md", "src/pkg/a.go"}, listener.StatusCreated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.push(t, push("refs/heads/x", len(tc.name), tc.message, tc.files...))
			if r.Status != tc.want || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("%+v: want %s naming %q", r, tc.want, tc.reason)
			}
			if tc.want == listener.StatusSkipped && len(r.Resources) != 0 {
				t.Fatalf("a skipped trigger created %v", r.Resources)
			}
		})
	}
	var list pipelinev1.PipelineRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Fatalf("%d runs (%v), want 1", len(list.Items), err)
	}
}

// TestSkipCIIgnored: a trigger annotated skip-ci: ignore runs a [skip ci] push.
func TestSkipCIIgnored(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationSkipCI: "ignore"}))
	h := start(t, ns, nil)
	if r := h.push(t, push("refs/heads/x", 1, "[skip ci]", "a")); r.Status != listener.StatusCreated {
		t.Fatalf("%+v", r)
	}
}

// TestConcurrencyGroupListener: the listener stamps the group, drops deliveries of a busy skip group,
// cancels superseded runs of a cancel-in-progress group (not the default branch's) and a closed pull
// request's runs.
func TestConcurrencyGroupListener(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		ns := env.Namespace(t)
		apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationGroup: "body.repository.full_name + '/' + body.ref", runctl.AnnotationPolicy: "skip"}))
		h := start(t, ns, nil)
		first := getRun(t, ns, h.push(t, push("refs/heads/a", 1, "one")))
		if first.Labels[runctl.LabelGroup] != runctl.GroupLabel("o/r/refs/heads/a") || first.Annotations[runctl.AnnotationKey] != "o/r/refs/heads/a" ||
			first.Annotations[runctl.AnnotationRunPolicy] != "skip" || first.Annotations[runctl.AnnotationQueuedAt] == "" {
			t.Fatalf("stamp: labels %v annotations %v", first.Labels, first.Annotations)
		}
		if r := h.push(t, push("refs/heads/a", 2, "two")); r.Status != listener.StatusSkipped || !strings.Contains(r.Reason, first.Name) {
			t.Fatalf("busy group: %+v, want skipped naming %s", r, first.Name)
		}
		getRun(t, ns, h.push(t, push("refs/heads/b", 3, "other branch")))
	})
	t.Run("cancel-in-progress", func(t *testing.T) {
		ns := env.Namespace(t)
		apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationGroup: "body.repository.full_name + '/' + body.ref", runctl.AnnotationPolicy: "cancel-in-progress"}))
		h := start(t, ns, nil)
		old := getRun(t, ns, h.push(t, push("refs/heads/a", 1, "one")))
		r := h.push(t, push("refs/heads/a", 2, "two"))
		newer := getRun(t, ns, r)
		if len(r.Cancelled) != 1 || r.Cancelled[0] != ns+"/"+old.Name {
			t.Fatalf("cancelled %v, want [%s/%s]", r.Cancelled, ns, old.Name)
		}
		old = getRun(t, ns, listener.TriggerResult{Status: listener.StatusCreated, Resources: []listener.Resource{{Name: old.Name}}})
		if old.Spec.Status != pipelinev1.PipelineRunSpecStatusCancelled || !strings.Contains(old.Annotations[runctl.AnnotationCancelledBy], newer.Name) {
			t.Fatalf("older run: spec.status %q, cancelled-by %q", old.Spec.Status, old.Annotations[runctl.AnnotationCancelledBy])
		}
		// Pushes to the default branch are never cancelled.
		m1 := getRun(t, ns, h.push(t, push("refs/heads/main", 3, "main one")))
		if m1.Annotations[runctl.AnnotationProtected] != "true" {
			t.Fatalf("default-branch run not protected: %v", m1.Annotations)
		}
		if r := h.push(t, push("refs/heads/main", 4, "main two")); len(r.Cancelled) != 0 {
			t.Fatalf("a default-branch push cancelled %v", r.Cancelled)
		}
	})
	t.Run("closed pull request", func(t *testing.T) {
		ns := env.Namespace(t)
		apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationGroup: "body.repository.full_name", runctl.AnnotationPolicy: "queue"}))
		h := start(t, ns, nil)
		run := getRun(t, ns, h.push(t, push("refs/heads/a", 1, "one")))
		closed := []byte(`{"action":"closed","number":1,"pull_request":{"head":{"sha":"abcdef0123"},"merged":false},"repository":{"full_name":"o/r","clone_url":"u"}}`)
		_, resp, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "pull_request", Secret: ghSecret, Body: closed})
		var cancelled []string
		for _, tr := range resp.Triggers {
			cancelled = append(cancelled, tr.Cancelled...)
		}
		if len(cancelled) != 1 || cancelled[0] != ns+"/"+run.Name {
			t.Fatalf("closed PR cancelled %v, want [%s/%s]; %+v", cancelled, ns, run.Name, resp)
		}
	})
}

// TestRunControlMisconfigured: a bad annotation fails the trigger as misconfigured, naming it.
func TestRunControlMisconfigured(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, annotated(ns, map[string]string{runctl.AnnotationPolicy: "cancel"}))
	h := start(t, ns, nil)
	code, resp, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: push("refs/heads/a", 1, "one")})
	if code != 500 || len(resp.Triggers) == 0 {
		t.Fatalf("%d %+v: want 500 (the listener is misconfigured)", code, resp)
	}
	if r := resp.Triggers[0]; r.Status != listener.StatusFailed || !strings.Contains(r.Reason, runctl.AnnotationPolicy) {
		t.Fatalf("%+v: want failed naming %s", r, runctl.AnnotationPolicy)
	}
}
