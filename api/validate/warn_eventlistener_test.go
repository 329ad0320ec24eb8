package validate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

// TestEventListenerWarnings: what an EventListener asks of its el-NAME Deployment that hookrun does not do
// is warned about, field by field; what it applies is not.
func TestEventListenerWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   string
		fields []string // warned field paths, in order
	}{
		{"nothing asked", `{}`, nil},
		{"everything applied", `
resources:
  kubernetesResource:
    replicas: 2
    serviceType: NodePort
    servicePort: 30080
    spec:
      metadata: {labels: {a: b}, annotations: {c: d}}
      spec:
        serviceAccountName: sa
        nodeSelector: {disk: ssd}
        tolerations: [{key: k, operator: Exists}]
        securityContext: {runAsUser: 1000}
        containers:
        - resources: {limits: {memory: 128Mi}}
          env:
          - {name: TLS_CERT, valueFrom: {secretKeyRef: {name: tls, key: tls.crt}}}
          - {name: TLS_KEY, valueFrom: {secretKeyRef: {name: tls, key: tls.key}}}`, nil},
		{"customResource", `{resources: {customResource: {apiVersion: serving.knative.dev/v1, kind: Service}}}`,
			[]string{"spec.resources.customResource"}},
		{"fields not applied", `
resources:
  kubernetesResource:
    minReplicas: 1
    spec:
      metadata: {name: x}
      spec:
        hostNetwork: true
        volumes: [{name: v, emptyDir: {}}]
        containers:
        - image: other
          args: [--x]
          env: [{name: A, value: b}]
        - name: sidecar
          image: s`, []string{
			"spec.resources.kubernetesResource.minReplicas",
			"spec.resources.kubernetesResource.spec.metadata.name",
			"spec.resources.kubernetesResource.spec.spec.hostNetwork",
			"spec.resources.kubernetesResource.spec.spec.volumes",
			"spec.resources.kubernetesResource.spec.spec.containers[0].args",
			"spec.resources.kubernetesResource.spec.spec.containers[0].image",
			"spec.resources.kubernetesResource.spec.spec.containers[1]",
		}},
		{"service settings the API server refuses", `
resources: {kubernetesResource: {serviceType: NodePort, servicePort: 8080, serviceLoadBalancerClass: x}}`, []string{
			"spec.resources.kubernetesResource.servicePort",
			"spec.resources.kubernetesResource.serviceLoadBalancerClass",
		}},
		{"TLS half given", `
resources:
  kubernetesResource:
    spec: {spec: {containers: [{env: [{name: TLS_CERT, valueFrom: {secretKeyRef: {name: tls, key: tls.crt}}}]}]}}`,
			[]string{"spec.resources.kubernetesResource.spec.spec.containers[0].env"}},
		{"undecodable", `{resources: {kubernetesResource: {replicas: many}}}`, []string{"spec.resources.kubernetesResource"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n" + indent(tc.spec)
			objs, problems := load.Reader("in.yaml", strings.NewReader(doc))
			if len(problems) > 0 {
				t.Fatalf("load: %v", problems)
			}
			var got []string
			for _, p := range validate.Warnings(objs) {
				got = append(got, p.Field)
				if p.Reason == "" || p.Kind != "EventListener" {
					t.Errorf("warning without reason or kind: %+v", p)
				}
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("warned fields %q, want %q", got, tc.fields)
			}
		})
	}
	// The shared listener ignores kubernetesResource altogether.
	objs, _ := load.Reader("in.yaml", strings.NewReader(`
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, annotations: {hookrun.dev/listener: shared}}
spec: {resources: {kubernetesResource: {replicas: 2}}}`))
	if w := validate.Warnings(objs); len(w) != 1 || !strings.Contains(w[0].Reason, "shared listener") {
		t.Errorf("shared EventListener with kubernetesResource: %v", w)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimPrefix(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
