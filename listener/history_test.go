package listener_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/listener"
)

// TestDeliveryHistory: every answered delivery leaves an Event on its EventListener saying what happened
// per trigger (reason Created, Skipped, Refused, Failed), naming what it created; created runs carry the
// delivery id, provider and event; neither carries a secret or a signature.
func TestDeliveryHistory(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	created := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, ID: "hist-created", Body: []byte(pushBody)}
	code, r, _ := h.send(t, created)
	if code != 202 || r.Triggers[0].Status != listener.StatusCreated {
		t.Fatalf("push: %d %+v", code, r)
	}
	prName := r.Triggers[0].Resources[0].Name
	var events []corev1.Event
	for _, tc := range []struct {
		name   string
		o      listener.Outgoing
		reason string
		want   []string
	}{
		{"created", created, listener.ReasonCreated, []string{"delivery hist-created (github push", "trigger " + ns + "/github-push created: PipelineRun " + prName, "trigger " + ns + "/github-pr skipped"}},
		{"skipped", listener.Outgoing{Provider: "github", Event: "issues", Secret: ghSecret, ID: "hist-skipped", Body: []byte(pushBody)}, listener.ReasonSkipped,
			[]string{"delivery hist-skipped (github issues", "trigger " + ns + "/github-push skipped — "}},
		{"refused", listener.Outgoing{Provider: "github", Event: "push", Secret: "forged", ID: "hist-refused", Body: []byte(pushBody)}, listener.ReasonRefused,
			[]string{"delivery hist-refused (github push", "answered 401"}},
		{"failed", listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, ID: "hist-failed", Body: []byte(`{"ref":"refs/heads/main"}`)}, listener.ReasonFailed,
			[]string{"delivery hist-failed", "answered 400", "github-push failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "created" {
				h.send(t, tc.o)
			}
			var found *corev1.Event
			for deadline := time.Now().Add(15 * time.Second); found == nil; time.Sleep(100 * time.Millisecond) {
				var list corev1.EventList
				if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
					t.Fatal(err)
				}
				for i, e := range list.Items {
					if e.InvolvedObject.Kind == "EventListener" && e.InvolvedObject.Name == "hooks" && e.Reason == tc.reason && strings.Contains(e.Message, "delivery "+tc.o.ID+" ") {
						found = &list.Items[i]
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s Event for delivery %s; events: %+v", tc.reason, tc.o.ID, list.Items)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(found.Message, w) {
					t.Errorf("Event message lacks %q:\n%s", w, found.Message)
				}
			}
			events = append(events, *found)
		})
	}
	for _, e := range events {
		for _, secret := range []string{ghSecret, glToken, "sha256="} {
			if strings.Contains(e.Message, secret) {
				t.Errorf("Event %s carries %q: %s", e.Reason, secret, e.Message)
			}
		}
	}
	prs := pipelineRuns(t, ns)
	if len(prs) != 1 {
		t.Fatalf("%d PipelineRuns", len(prs))
	}
	for k, want := range map[string]string{listener.AnnotationDeliveryID: "hist-created", listener.AnnotationProvider: "github", listener.AnnotationEvent: "push"} {
		if got := prs[0].Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
}
