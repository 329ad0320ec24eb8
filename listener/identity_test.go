package listener_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/listener"
)

// identityFixture: ServiceAccount "builder" may create PipelineRuns in namespace A only (a Role, real RBAC
// enforced by the API server); "nobody" may do nothing. Templates render into A (here), into B (there,
// hard-coded), into the namespace a payload value names (bound), a PipelineRun then a TaskRun (pair), and a
// cluster-scoped Namespace (cluster).
const identityFixture = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: run-creator}
rules:
- {apiGroups: [tekton.dev], resources: [pipelineruns], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder-creates-runs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: run-creator}
subjects: [{kind: ServiceAccount, name: builder, namespace: NSA}]
---
apiVersion: v1
kind: Secret
metadata: {name: hooks}
stringData: {github: GHSECRET}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: ns}
spec:
  params: [{name: ns, value: $(body.ns)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: here}
spec:
  resourcetemplates:
  - {apiVersion: tekton.dev/v1, kind: PipelineRun, metadata: {generateName: here-}, spec: {pipelineRef: {name: p}}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: there}
spec:
  resourcetemplates:
  - {apiVersion: tekton.dev/v1, kind: PipelineRun, metadata: {generateName: there-, namespace: NSB}, spec: {pipelineRef: {name: p}}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: bound}
spec:
  params: [{name: ns}]
  resourcetemplates:
  - {apiVersion: tekton.dev/v1, kind: PipelineRun, metadata: {generateName: bound-, namespace: $(tt.params.ns)}, spec: {pipelineRef: {name: p}}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: pair}
spec:
  resourcetemplates:
  - {apiVersion: tekton.dev/v1, kind: PipelineRun, metadata: {generateName: pair-}, spec: {pipelineRef: {name: p}}}
  - {apiVersion: tekton.dev/v1, kind: TaskRun, metadata: {generateName: pair-}, spec: {taskRef: {name: t}}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: cluster}
spec:
  resourcetemplates:
  - {apiVersion: v1, kind: Namespace, metadata: {generateName: leak-}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: ref-there}
spec:
  serviceAccountName: builder
  interceptors: [{ref: {name: github}, params: [{name: secretRef, value: {secretName: hooks, secretKey: github}}]}]
  template: {ref: there}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: hooks}
spec:
  triggers:
  - {name: sa-here, serviceAccountName: builder, interceptors: [GH], template: {ref: here}}
  - {name: sa-there, serviceAccountName: builder, interceptors: [GH], template: {ref: there}}
  - {name: sa-bound, serviceAccountName: builder, interceptors: [GH], bindings: [{ref: ns}], template: {ref: bound}}
  - {name: sa-pair, serviceAccountName: builder, interceptors: [GH], template: {ref: pair}}
  - {triggerRef: ref-there}
  - {name: nosa-there, interceptors: [GH], template: {ref: there}}
  - {name: nosa-bound, interceptors: [GH], bindings: [{ref: ns}], template: {ref: bound}}
  - {name: nosa-cluster, interceptors: [GH], template: {ref: cluster}}
  - {name: nosa-here, interceptors: [GH], template: {ref: here}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el-sa}
spec:
  serviceAccountName: builder
  triggers:
  - {name: el-here, interceptors: [GH], template: {ref: here}}
  - {name: el-there, interceptors: [GH], template: {ref: there}}
  - {name: own-sa-wins, serviceAccountName: nobody, interceptors: [GH], template: {ref: here}}
`

// TestTriggerIdentity: a trigger's resources are created as its ServiceAccount (the trigger's, else the
// EventListener's), so RBAC keeps a tenant in the namespaces it may write; a trigger without one cannot
// leave its own namespace nor create cluster-scoped objects. A refused trigger creates nothing (what it
// made before the refusal is rolled back); the delivery's other triggers still create theirs.
func TestTriggerIdentity(t *testing.T) {
	nsA, nsB := env.Namespace(t), env.Namespace(t)
	gh := `{ref: {name: github}, params: [{name: secretRef, value: {secretName: hooks, secretKey: github}}]}`
	apply(t, nsA, strings.NewReplacer("NSA", nsA, "NSB", nsB, "GHSECRET", ghSecret, "[GH]", "["+gh+"]").Replace(identityFixture))
	h := start(t, nsA, nil)
	forbidden := "is forbidden: User \"system:serviceaccount:" + nsA + ":builder\" cannot create resource"
	confined := "a trigger without serviceAccountName may only create resources in its own namespace"

	for _, tc := range []struct {
		path string
		want map[string]string // trigger -> "created" or a substring of its failure reason
	}{
		{"/hooks/hooks", map[string]string{
			"sa-here":      listener.StatusCreated,
			"sa-there":     forbidden,
			"sa-bound":     forbidden,
			"sa-pair":      `cannot create resource "taskruns"`,
			"ref-there":    forbidden,
			"nosa-there":   confined,
			"nosa-bound":   confined,
			"nosa-cluster": "is cluster-scoped",
			"nosa-here":    listener.StatusCreated,
		}},
		{"/hooks/el-sa", map[string]string{
			"el-here":     listener.StatusCreated,
			"el-there":    forbidden,
			"own-sa-wins": `User "system:serviceaccount:` + nsA + `:nobody" cannot create resource`,
		}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/hooks/"), func(t *testing.T) {
			req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret,
				Body: []byte(`{"ns":"` + nsB + `"}`)}.Request(context.Background(), h.url+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			code, r, _ := do(t, req)
			if code != http.StatusAccepted {
				t.Errorf("answer %d, want 202 (some triggers created): %+v", code, r)
			}
			if len(r.Triggers) != len(tc.want) {
				t.Fatalf("%d trigger results, want %d: %+v", len(r.Triggers), len(tc.want), r.Triggers)
			}
			for _, res := range r.Triggers {
				want := tc.want[res.Name]
				switch {
				case want == listener.StatusCreated:
					if res.Status != listener.StatusCreated || len(res.Resources) != 1 || res.Resources[0].Namespace != nsA {
						t.Errorf("%s: %s %q %+v, want created in %s", res.Name, res.Status, res.Reason, res.Resources, nsA)
					}
				case res.Status != listener.StatusFailed || !strings.Contains(res.Reason, want):
					t.Errorf("%s: %s %q, want failed with %q", res.Name, res.Status, res.Reason, want)
				case len(res.Resources) != 0:
					t.Errorf("%s failed but reports resources %+v", res.Name, res.Resources)
				}
			}
		})
	}
	if prs := pipelineRuns(t, nsB); len(prs) != 0 {
		t.Errorf("%d PipelineRun(s) created in the other namespace %s", len(prs), nsB)
	}
	// sa-here, nosa-here, el-here; sa-pair's PipelineRun was rolled back when its TaskRun was refused.
	prs := pipelineRuns(t, nsA)
	if len(prs) != 3 {
		t.Errorf("%d PipelineRuns in %s, want 3 (sa-here, nosa-here, el-here)", len(prs), nsA)
	}
	for _, pr := range prs {
		if strings.HasPrefix(pr.Name, "pair-") && pr.DeletionTimestamp == nil {
			t.Errorf("PipelineRun %s of the refused trigger sa-pair was kept", pr.Name)
		}
	}
	var trs pipelinev1.TaskRunList
	if err := env.Client.List(context.Background(), &trs, client.InNamespace(nsA)); err != nil {
		t.Fatal(err)
	}
	if len(trs.Items) != 0 {
		t.Errorf("%d TaskRuns created", len(trs.Items))
	}
	var nss corev1.NamespaceList
	if err := env.Client.List(context.Background(), &nss); err != nil {
		t.Fatal(err)
	}
	for _, n := range nss.Items {
		if strings.HasPrefix(n.Name, "leak-") {
			t.Errorf("cluster-scoped Namespace %s created by a trigger without serviceAccountName", n.Name)
		}
	}
}
