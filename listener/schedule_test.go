package listener_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/runctl"
)

const scheduledConfig = `
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: nightly}
spec:
  params: [{name: tick}, {name: who}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata:
      generateName: nightly-
      annotations: {tick: $(tt.params.tick)}
    spec:
      pipelineRef: {name: build}
      params: [{name: who, value: $(tt.params.who)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: nightly
  annotations:
    hookrun.dev/schedule: "*/2 * * * * *"
    hookrun.dev/schedule-timezone: Europe/Paris
    hookrun.dev/schedule-params: '{"who": "cron"}'
spec:
  bindings:
  - {name: tick, value: $(body.schedule.time)}
  - {name: who, value: $(body.params.who)}
  template: {ref: nightly}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: hooks}
spec:
  triggers: [{triggerRef: nightly}]
`

// TestScheduledTrigger: with three listener replicas, each tick of a schedule makes exactly one run,
// with the tick and the configured params; an edit of the schedule's params applies without a restart.
func TestScheduledTrigger(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, scheduledConfig)
	for range 3 {
		start(t, ns, nil)
	}
	ctx := context.Background()
	runsByTick := func() map[string][]pipelinev1.PipelineRun {
		var list pipelinev1.PipelineRunList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		out := map[string][]pipelinev1.PipelineRun{}
		for _, pr := range list.Items {
			out[pr.Annotations["tick"]] = append(out[pr.Annotations["tick"]], pr)
		}
		return out
	}
	waitTicks := func(n int, who string) map[string][]pipelinev1.PipelineRun {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			got, count := runsByTick(), 0
			for _, runs := range got {
				if params(&runs[0])["who"] == who {
					count++
				}
			}
			if count >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d ticks with who=%s after 60s: %v", count, who, got)
			}
		}
	}
	got := waitTicks(3, "cron")
	for tick, runs := range got {
		if len(runs) != 1 {
			t.Errorf("tick %s made %d runs, want 1", tick, len(runs))
		}
		if !strings.HasSuffix(tick, "+01:00") && !strings.HasSuffix(tick, "+02:00") {
			t.Errorf("tick %q is not in Europe/Paris", tick)
		}
		if ts, err := time.Parse(time.RFC3339, tick); err != nil || ts.Second()%2 != 0 {
			t.Errorf("tick %q is not on the schedule (%v)", tick, err)
		}
	}

	var tr triggersv1beta1.Trigger
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nightly"}, &tr); err != nil {
		t.Fatal(err)
	}
	tr.Annotations[runctl.AnnotationScheduleParams] = `{"who": "edited"}`
	if err := env.Client.Update(ctx, &tr); err != nil {
		t.Fatal(err)
	}
	got = waitTicks(2, "edited")
	for tick, runs := range got {
		if len(runs) != 1 {
			t.Errorf("tick %s made %d runs, want 1", tick, len(runs))
		}
	}
}
