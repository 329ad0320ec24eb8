package executor_test

import (
	"strings"
	"testing"
)

// TestMaskEnvFromSecrets: variables a step, the stepTemplate or a script sidecar takes from an envFrom
// Secret are masked by the wrapper like secretKeyRef ones (--mask-env names PREFIX+KEY); a ConfigMap's are
// not, nor a name the container's own env sets, and a missing optional Secret adds nothing.
func TestMaskEnvFromSecrets(t *testing.T) {
	ns := newNamespace(t)
	startExecutor(t, ns)
	apply(t, ns, `apiVersion: v1
kind: Secret
metadata: {name: api}
stringData: {token: s3cr3t-value, user: deployer}
---
apiVersion: v1
kind: Secret
metadata: {name: registry}
stringData: {password: hunter2-hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {region: eu-west-1}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: envfrom}
spec:
  taskSpec:
    stepTemplate:
      envFrom:
        - secretRef: {name: registry}
          prefix: REG_
    sidecars:
      - name: proxy
        image: busybox
        script: sleep 1
        envFrom:
          - secretRef: {name: api}
    steps:
      - name: deploy
        image: busybox
        script: echo deploy
        envFrom:
          - secretRef: {name: api}
          - configMapRef: {name: settings}
          - secretRef: {name: absent, optional: true}
        env:
          - {name: user, value: not-a-secret}
          - {name: KEY, valueFrom: {secretKeyRef: {name: api, key: token}}}
      - name: report
        image: busybox
        script: echo done
`)
	pod := waitPod(t, ns, "envfrom-pod")
	got := map[string]string{}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		got[c.Name] = flagValue(c.Command, "--mask-env")
	}
	for name, want := range map[string]string{
		"step-deploy":   "KEY,REG_password,token",
		"step-report":   "REG_password",
		"sidecar-proxy": "token,user",
	} {
		if got[name] != want {
			t.Errorf("%s: --mask-env %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
	for name, v := range got {
		if strings.Contains(v, "region") {
			t.Errorf("%s masks the ConfigMap's variable: %q", name, v)
		}
	}
}
