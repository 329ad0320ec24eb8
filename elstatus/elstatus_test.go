package elstatus_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elstatus"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

const els = `
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: github-listener}
spec:
  triggers: [{name: push, template: {ref: t}}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: other}
spec:
  triggers: [{name: mr, template: {ref: t}}]
`

func get(t *testing.T, ns, name string) *triggersv1beta1.EventListener {
	t.Helper()
	var el triggersv1beta1.EventListener
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &el); err != nil {
		t.Fatal(err)
	}
	return &el
}

func cond(el *triggersv1beta1.EventListener, typ string) triggersv1beta1.Condition {
	for _, c := range el.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return triggersv1beta1.Condition{}
}

// TestStatus: each EventListener gets the URL it is served at and Available/Ready conditions (Available
// first, as tkn reads the first condition); health and trigger problems show; EventListeners of a
// namespace the listener does not serve are told so.
func TestStatus(t *testing.T) {
	served, elsewhere := env.Namespace(t), env.Namespace(t)
	env.Apply(t, served, els)
	env.Apply(t, elsewhere, els)
	ready, problems := true, []string(nil)
	w := elstatus.New(env.Client, env.Client, elstatus.Options{URL: "http://hookrun-listener.hookrun.svc.cluster.local:8080/",
		Namespace: served, Default: "github-listener", Logger: slog.New(slog.DiscardHandler),
		Health: func() (bool, []string) { return ready, problems }})
	ctx := context.Background()

	for _, tc := range []struct {
		name              string
		ready             bool
		problems          []string
		ns, el            string
		url               string
		available, isRdy  string
		reason, msgSubstr string
	}{
		{"default at /hooks", true, nil, served, "github-listener", "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks", "True", "True", elstatus.ReasonServing, "listening at"},
		{"others at /hooks/NAME", true, nil, served, "other", "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks/other", "True", "True", elstatus.ReasonServing, ""},
		{"not served", true, nil, elsewhere, "other", "", "False", "False", elstatus.ReasonNotServed, "no hookrun listener serves namespace " + elsewhere},
		{"caches not synced", false, nil, served, "other", "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks/other", "False", "False", elstatus.ReasonNotReady, "not synced"},
		{"invalid trigger", true, []string{served + "/mr: trigger configuration: template: TriggerTemplate \"t\" not found"}, served, "other", "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks/other", "True", "False", elstatus.ReasonInvalidTrigs, "TriggerTemplate \"t\" not found"},
		{"another listener's problem", true, []string{served + "/push: broken"}, served, "other", "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks/other", "True", "True", elstatus.ReasonServing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, problems = tc.ready, tc.problems
			if err := w.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			el := get(t, tc.ns, tc.el)
			url := ""
			if el.Status.Address != nil {
				url = el.Status.Address.URL
			}
			if url != tc.url {
				t.Errorf("address.url = %q, want %q", url, tc.url)
			}
			if len(el.Status.Conditions) != 2 || el.Status.Conditions[0].Type != elstatus.ConditionAvailable {
				t.Fatalf("conditions %+v: want Available first, then Ready", el.Status.Conditions)
			}
			a, r := cond(el, elstatus.ConditionAvailable), cond(el, elstatus.ConditionReady)
			if a.Status != tc.available || r.Status != tc.isRdy {
				t.Errorf("Available=%s Ready=%s, want %s %s", a.Status, r.Status, tc.available, tc.isRdy)
			}
			if r.Reason != tc.reason || !strings.Contains(r.Message, tc.msgSubstr) {
				t.Errorf("Ready reason %q message %q, want %q containing %q", r.Reason, r.Message, tc.reason, tc.msgSubstr)
			}
			if a.LastTransitionTime.IsZero() {
				t.Errorf("no lastTransitionTime")
			}
		})
	}
	// A pass with nothing changed writes nothing.
	before := get(t, served, "other").ResourceVersion
	if err := w.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if after := get(t, served, "other").ResourceVersion; after != before {
		t.Errorf("an idle pass rewrote the status (resourceVersion %s → %s)", before, after)
	}
}

// TestOwns: with Owns set (the shared listener next to elreconciler), only the EventListeners it picks
// (annotated hookrun.dev/listener: shared) get status; the others' status, the reconciler's, is untouched.
func TestOwns(t *testing.T) {
	ns := env.Namespace(t)
	env.Apply(t, ns, `
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: shared, annotations: {hookrun.dev/listener: shared}}
spec: {}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: deployed}
spec: {}
`)
	w := elstatus.New(env.Client, env.Client, elstatus.Options{URL: "http://hookrun-listener:8080", Namespace: ns,
		Logger: slog.New(slog.DiscardHandler), Owns: triggersv1beta1.SharedListener})
	if err := w.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		el, url string
		conds   int
	}{
		{"shared", "http://hookrun-listener:8080/hooks/shared", 2},
		{"deployed", "", 0},
	} {
		el := get(t, ns, tc.el)
		url := ""
		if el.Status.Address != nil {
			url = el.Status.Address.URL
		}
		if url != tc.url || len(el.Status.Conditions) != tc.conds {
			t.Errorf("%s: address %q conditions %d, want %q and %d", tc.el, url, len(el.Status.Conditions), tc.url, tc.conds)
		}
	}
}

// TestElected: of two replicas, only the Lease holder writes; when it stops, the other takes over.
func TestElected(t *testing.T) {
	ns := env.Namespace(t)
	env.Apply(t, ns, els)
	start := func(id string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		w := elstatus.New(env.Client, env.Client, elstatus.Options{URL: "http://" + id, Namespace: ns, Default: "github-listener",
			Interval: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		go func() { _ = elstatus.RunElected(ctx, env.Config, ns, id, w, nil) }()
		return cancel
	}
	holder := func() string {
		var l coordinationv1.Lease
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: elstatus.LeaseName}, &l); err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	wait := func(what string, f func() bool) {
		t.Helper()
		for deadline := time.Now().Add(40 * time.Second); !f(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	stopA := start("replica-a")
	wait("replica-a to lead", func() bool { return holder() == "replica-a" })
	stopB := start("replica-b")
	defer stopB()
	wait("status from replica-a", func() bool {
		el := get(t, ns, "github-listener")
		return el.Status.Address != nil && el.Status.Address.URL == "http://replica-a/hooks"
	})
	time.Sleep(time.Second) // replica-b runs, but must not write while a leads
	if el := get(t, ns, "other"); el.Status.Address == nil || el.Status.Address.URL != "http://replica-a/hooks/other" {
		t.Fatalf("status written by a non-leader: %+v", el.Status.Address)
	}
	stopA() // releases the Lease
	wait("replica-b to take over and write", func() bool {
		el := get(t, ns, "github-listener")
		return holder() == "replica-b" && el.Status.Address != nil && el.Status.Address.URL == "http://replica-b/hooks"
	})
}
