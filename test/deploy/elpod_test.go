package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/elreconciler"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

// TestEventListenerPodAsServiceAccount is a tutorial's EventListener under deploy/'s RBAC, with the
// tutorial's own RBAC unchanged (a ServiceAccount, a RoleBinding to tekton-triggers-eventlistener-roles, a
// ClusterRoleBinding to tekton-triggers-eventlistener-clusterroles): the executor's reconciler, with the
// executor's token, makes el-github-listener; then the Deployment's own container args run `hookrun
// listener` (the binary) with the EventListener ServiceAccount's token, as its Pod would, and a signed
// push at /hooks and at / creates PipelineRuns. The can-i table holds both identities to what they need.
// (No kubelet here: the Pod itself runs on the real node, `make e2e-node`.)
func TestEventListenerPodAsServiceAccount(t *testing.T) {
	ensureNamespace(t, "hookrun")
	ensureNamespace(t, "tutorial")
	ensureNamespace(t, "elsewhere")
	kubectl(t, "apply", "--server-side", "--field-manager=hookrun-test", "--force-conflicts", "-k", "deploy")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const secret = "el-pod-secret"
	env.Apply(t, "", `
apiVersion: v1
kind: ServiceAccount
metadata: {name: tekton-triggers-sa, namespace: tutorial}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: triggers-eventlistener-binding, namespace: tutorial}
subjects: [{kind: ServiceAccount, name: tekton-triggers-sa, namespace: tutorial}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tekton-triggers-eventlistener-roles}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: triggers-eventlistener-clusterbinding}
subjects: [{kind: ServiceAccount, name: tekton-triggers-sa, namespace: tutorial}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tekton-triggers-eventlistener-clusterroles}
---
apiVersion: v1
kind: Secret
metadata: {name: github-secret, namespace: tutorial}
stringData: {secretToken: `+secret+`}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: github-template, namespace: tutorial}
spec:
  params: [{name: revision}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1beta1
    kind: PipelineRun
    metadata: {generateName: github-run-}
    spec:
      pipelineRef: {name: github-trigger-pipeline}
      params: [{name: revision, value: $(tt.params.revision)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: github-listener, namespace: tutorial}
spec:
  serviceAccountName: tekton-triggers-sa
  triggers:
  - name: github-push
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: github-secret, secretKey: secretToken}}
      - {name: eventTypes, value: [push]}
    bindings: [{name: revision, value: $(body.after)}]
    template: {ref: github-template}
`)
	execCfg := token(t, "hookrun", "hookrun-executor")
	elCfg := token(t, "tutorial", "tekton-triggers-sa")
	for _, c := range []struct {
		who                       string
		cfg                       *rest.Config
		verb, group, resource, ns string
		want                      bool
	}{
		{"executor", execCfg, "create", "apps", "deployments", "tutorial", true},
		{"executor", execCfg, "delete", "", "services", "tutorial", true},
		{"executor", execCfg, "update", "triggers.tekton.dev", "eventlisteners/status", "tutorial", true},
		{"executor", execCfg, "update", "triggers.tekton.dev", "eventlisteners", "tutorial", false},
		{"executor", execCfg, "list", "", "secrets", "tutorial", false},
		{"executor", execCfg, "create", "apps", "daemonsets", "tutorial", false},
		{"el- pod", elCfg, "list", "", "secrets", "tutorial", true},
		{"el- pod", elCfg, "get", "", "secrets", "elsewhere", false},
		{"el- pod", elCfg, "create", "", "events", "tutorial", true},
		{"el- pod", elCfg, "create", "tekton.dev", "pipelineruns", "tutorial", true},
		{"el- pod", elCfg, "delete", "tekton.dev", "pipelineruns", "tutorial", true},
		{"el- pod", elCfg, "create", "tekton.dev", "pipelineruns", "elsewhere", false},
		{"el- pod", elCfg, "list", "triggers.tekton.dev", "clustertriggerbindings", "", true},
		{"el- pod", elCfg, "impersonate", "", "serviceaccounts", "tutorial", true},
		{"el- pod", elCfg, "impersonate", "", "serviceaccounts", "elsewhere", false},
		{"el- pod", elCfg, "create", "coordination.k8s.io", "leases", "tutorial", false},
		{"el- pod", elCfg, "update", "triggers.tekton.dev", "eventlisteners/status", "tutorial", false},
		{"el- pod", elCfg, "create", "", "pods", "tutorial", false},
		{"el- pod", elCfg, "list", "", "configmaps", "tutorial", false},
	} {
		if got := canI(t, c.cfg, c.verb, c.group, c.resource, c.ns); got != c.want {
			t.Errorf("%s can-i %s %s.%s in %q = %v, want %v", c.who, c.verb, c.resource, c.group, c.ns, got, c.want)
		}
	}

	// The reconciler with the executor's rights.
	mgr, err := ctrl.NewManager(execCfg, ctrl.Options{
		Scheme: env.Scheme, Cache: elreconciler.CacheOptions(cache.Options{}),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := elreconciler.Setup(mgr, elreconciler.Options{Image: "hookrun:test", SkipNameValidation: true,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()
	var dep appsv1.Deployment
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "tutorial", Name: "el-github-listener"}, &dep)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("el-github-listener not created with the executor's rights: %v", err)
		}
	}
	t.Logf("reconciler start → el-github-listener Deployment: %s", time.Since(started).Round(time.Millisecond))
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != "tekton-triggers-sa" {
		t.Fatalf("el- Pod runs as %q", pod.ServiceAccountName)
	}

	// The container's args, ports moved to free loopback ones, run by the hookrun binary as the Pod's
	// ServiceAccount.
	bin := filepath.Join(t.TempDir(), "hookrun")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hookrun/hookrun/cmd/hookrun").CombinedOutput(); err != nil {
		t.Fatalf("build hookrun: %v\n%s", err, out)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	kcfg := clientcmdapi.NewConfig()
	kcfg.Clusters["c"] = &clientcmdapi.Cluster{Server: elCfg.Host, CertificateAuthorityData: env.Config.CAData}
	kcfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: elCfg.BearerToken}
	kcfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "sa"}
	kcfg.CurrentContext = "c"
	if err := clientcmd.WriteToFile(*kcfg, kc); err != nil {
		t.Fatal(err)
	}
	addr, metrics := controlplane.FreeAddr(t), controlplane.FreeAddr(t)
	args := append([]string{}, pod.Containers[0].Args...)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--addr="):
			args[i] = "--addr=" + addr
		case strings.HasPrefix(a, "--metrics-addr="):
			args[i] = "--metrics-addr=" + metrics
		}
	}
	args = append(args, "--kubeconfig="+kc)
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	probe := pod.Containers[0].ReadinessProbe.HTTPGet.Path
	launched := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("el- listener process start → %s 200: %s", probe, time.Since(launched).Round(time.Millisecond))
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookrun %s never ready on %s:\n%s", strings.Join(args, " "), probe, logs.String())
		}
	}
	for i, path := range []string{"/hooks", "/"} {
		req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: secret,
			Body: []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":"rev%d"}`, i))}.Request(ctx, "http://"+addr+path)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push at %s as the EventListener's ServiceAccount: %d %s\n%s", path, resp.StatusCode, body, logs.String())
		}
	}
	var prs pipelinev1.PipelineRunList
	if err := env.Client.List(ctx, &prs, client.InNamespace("tutorial")); err != nil {
		t.Fatal(err)
	}
	if len(prs.Items) != 2 {
		t.Fatalf("%d PipelineRuns, want 2", len(prs.Items))
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mbody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(mbody), "hookrun_") {
		t.Errorf("metrics port: %d, %d bytes", resp.StatusCode, len(mbody))
	}
	time.Sleep(2 * time.Second)
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				t.Logf("el- listener process at rest after 2 deliveries: %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
}
