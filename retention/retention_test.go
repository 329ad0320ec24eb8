package retention_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/retention"
	"github.com/hookrun/hookrun/runlogs"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in  map[string]string
		err string
	}{
		{map[string]string{retention.AnnotationSucceeded: "10", retention.AnnotationFailed: "0", retention.AnnotationMaxAge: "30d"}, ""},
		{map[string]string{retention.AnnotationMaxAge: "90m"}, ""},
		{map[string]string{retention.AnnotationSucceeded: "-1"}, retention.AnnotationSucceeded},
		{map[string]string{retention.AnnotationFailed: "many"}, retention.AnnotationFailed},
		{map[string]string{retention.AnnotationMaxAge: "soon"}, retention.AnnotationMaxAge},
	} {
		_, err := retention.Parse(tc.in)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: error %v, want one naming %q", tc.in, err, tc.err)
		}
	}
}

// makeRuns creates n ended runs in ns: run-I completed I minutes before now, failed when I%3 == 0.
func makeRuns(t *testing.T, ns string, n int, now time.Time, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("run-%d", i), Namespace: ns, Labels: labels}}
		pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "p"}
		if err := env.Client.Create(ctx, pr); err != nil {
			t.Fatal(err)
		}
		status, reason := corev1.ConditionTrue, "Succeeded"
		if i%3 == 0 {
			status, reason = corev1.ConditionFalse, "Failed"
		}
		end := metav1.NewTime(now.Add(-time.Duration(i) * time.Minute))
		pr.Status.StartTime, pr.Status.CompletionTime = &end, &end
		pr.Status.SetCondition(pipelinev1.Condition{Type: pipelinev1.ConditionSucceeded, Status: status, Reason: reason, LastTransitionTime: end})
		if err := env.Client.Status().Update(ctx, pr); err != nil {
			t.Fatal(err)
		}
	}
}

func remaining(t *testing.T, ns string) []string {
	t.Helper()
	var list pipelinev1.PipelineRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pr := range list.Items {
		out = append(out, pr.Name)
	}
	slices.Sort(out)
	return out
}

func names(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, fmt.Sprintf("run-%d", i))
	}
	slices.Sort(out)
	return out
}

// TestPrune: 200 ended runs, limits 10 successful / 5 failed / 1 h → the newest 10 and 5 remain, the rest
// are archived then deleted; a Namespace's and an EventListener's annotations override the defaults; a
// running run is never touched.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ten, five := 10, 5
	archive := &runlogs.Archive{Dir: t.TempDir()}
	p, err := retention.New(env.Client, env.Client, kube, retention.Options{Archive: archive, Now: func() time.Time { return now },
		Defaults: retention.Limits{Succeeded: &ten, Failed: &five, MaxAge: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}

	plain := env.Namespace(t)
	makeRuns(t, plain, 200, now, nil)
	running := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "still-running", Namespace: plain}}
	running.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "p"}
	if err := env.Client.Create(ctx, running); err != nil {
		t.Fatal(err)
	}

	// A namespace keeping 1 successful run, and in it an EventListener's runs keeping no failed one and
	// nothing older than 10 minutes.
	annotated := env.Namespace(t)
	var ns corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: annotated}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Annotations = map[string]string{retention.AnnotationSucceeded: "1"}
	if err := env.Client.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	makeRuns(t, annotated, 20, now, nil)
	elNS := env.Namespace(t)
	env.Apply(t, elNS, `apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: el
  annotations: {hookrun.dev/retain-failed: "0", hookrun.dev/retain-max-age: 10m}
spec: {triggers: [{triggerRef: x}]}
`)
	makeRuns(t, elNS, 20, now, map[string]string{triggersv1beta1.LabelEventListener: "el"})

	deleted, err := p.PruneOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := remaining(t, plain), append(names(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14), "still-running"); !slices.Equal(got, sorted(want)) {
		t.Errorf("%s keeps %v, want %v", plain, got, sorted(want))
	}
	// Namespace: 1 successful (run-1), 5 failed (defaults) within 1 h.
	if got, want := remaining(t, annotated), names(0, 1, 3, 6, 9, 12); !slices.Equal(got, want) {
		t.Errorf("%s keeps %v, want %v", annotated, got, want)
	}
	// EventListener over defaults: 10 successful but none older than 10 min, no failed.
	if got, want := remaining(t, elNS), names(1, 2, 4, 5, 7, 8, 10); !slices.Equal(got, want) {
		t.Errorf("%s keeps %v, want %v", elNS, got, want)
	}
	if len(deleted) != 200-15+20-6+20-7 {
		t.Errorf("deleted %d runs", len(deleted))
	}
	for _, d := range deleted {
		ns, name, _ := strings.Cut(d, "/")
		pr, err := archive.Run(ctx, ns, name)
		if err != nil || pr.Name != name {
			t.Fatalf("archive of %s: %v", d, err)
		}
	}
	// Nothing left to do.
	if again, err := p.PruneOnce(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second prune deleted %v (%v)", again, err)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
