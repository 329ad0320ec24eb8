package validate_test

import (
	"strings"
	"testing"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

// TestOpenTriggers: triggers that accept unauthenticated posts are warned about, wherever they are
// declared; a secretRef, a cel compareSecret filter or an authenticating triggerGroup silences it.
func TestOpenTriggers(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // fields warned about, in order
	}{
		{"inline trigger without interceptors", `
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggers:
  - name: anyone
    bindings: [{ref: tb}]
    template: {ref: tt}
`, []string{"spec.triggers[0].interceptors"}},
		{"event filter is not authentication; a secretRef is", `
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggers:
  - name: filter-only
    interceptors: [{github: {eventTypes: [push]}}]
    template: {ref: tt}
  - name: signed
    interceptors:
    - ref: {name: github}
      params: [{name: secretRef, value: {secretName: s, secretKey: k}}]
    template: {ref: tt}
  - interceptors: [{cel: {filter: "compareSecret(header.canonical('X-Token'), 's', 'k')"}}]
    template: {ref: tt}
  - interceptors: [{cel: {filter: "body.ref == 'refs/heads/main'"}}]
    template: {ref: tt}
`, []string{"spec.triggers[0].interceptors", "spec.triggers[3].interceptors"}},
		{"Trigger objects, guarded by a triggerGroup or not", `
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: grouped, labels: {team: a}}
spec:
  template: {ref: tt}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: loose, labels: {team: b}}
spec:
  template: {ref: tt}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: own-secret}
spec:
  interceptors: [{gitlab: {secretRef: {secretName: s, secretKey: k}}}]
  template: {ref: tt}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggerGroups:
  - name: a
    interceptors: [{bitbucket: {secretRef: {secretName: s, secretKey: k}}}]
    triggerSelector:
      labelSelector: {matchLabels: {team: a}}
`, []string{"spec.interceptors"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, problems := load.Reader("in.yaml", strings.NewReader(c.yaml))
			if len(problems) > 0 {
				t.Fatalf("load: %v", problems)
			}
			var got []string
			for _, p := range validate.OpenTriggers(objs) {
				got = append(got, p.Field)
				if !strings.Contains(p.Reason, "accepts unauthenticated posts") || !strings.Contains(p.Reason, "--require-auth") {
					t.Errorf("reason: %s", p.Reason)
				}
				if p.Kind == "Trigger" && p.Name != "loose" {
					t.Errorf("warned about Trigger %s", p.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("warned about %v, want %v", got, c.want)
			}
		})
	}
}
