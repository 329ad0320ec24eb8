// Package deploy tests deploy/ against a real API server: the kustomize base and overlays apply
// (server-side dry run, every object validated), and the listener running as its own ServiceAccount (a
// TokenRequest token, RBAC enforced by the API server) can do its job and nothing more.
package deploy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elstatus"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(env.Root, "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make tools`", bin)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kc}, args...)...)
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

// TestKustomizeDryRun applies the base and every overlay with a server-side dry run: each object must pass
// the API server's validation (schemas, RBAC objects, Deployments, Ingress, NetworkPolicy, PDB).
func TestKustomizeDryRun(t *testing.T) {
	ensureNamespace(t, "hookrun")
	ensureNamespace(t, "ci")
	ensureNamespace(t, "tekton-pipelines")
	for _, dir := range []string{"deploy", "deploy/overlays/namespace", "deploy/overlays/tls", "deploy/overlays/kaniko-image", "deploy/overlays/dashboard-actions"} {
		t.Run(dir, func(t *testing.T) {
			out := kubectl(t, "apply", "--server-side", "--dry-run=server", "--field-manager=hookrun-test", "-k", dir)
			for _, want := range []string{"deployment.apps/hookrun-listener", "deployment.apps/hookrun-executor", "deployment.apps/hookrun-dashboard",
				"clusterrole.rbac.authorization.k8s.io/hookrun-dashboard",
				"ingress.networking.k8s.io/hookrun", "networkpolicy.networking.k8s.io/hookrun-listener",
				"poddisruptionbudget.policy/hookrun-listener", "clusterrole.rbac.authorization.k8s.io/tekton-triggers-eventlistener-roles", "customresourcedefinition.apiextensions.k8s.io/pipelineruns.tekton.dev"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s not applied:\n%s", want, out)
				}
			}
			if dir == "deploy" && !strings.Contains(out, "configmap/pipelines-info") {
				t.Errorf("the version ConfigMaps tkn reads were not applied:\n%s", out)
			}
		})
	}
	crds := kubectl(t, "get", "crd", "-o", "name")
	n := 0
	for _, l := range strings.Split(crds, "\n") {
		if strings.HasSuffix(l, ".tekton.dev") {
			n++
		}
	}
	if n < 10 {
		t.Errorf("kubectl get crd lists %d hookrun kinds, want 10+:\n%s", n, crds)
	}
	rendered := kubectl(t, "kustomize", "deploy/overlays/namespace")
	if strings.Contains(rendered, "namespace: hookrun") {
		t.Errorf("namespace overlay still mentions namespace hookrun")
	}
	if !strings.Contains(kubectl(t, "kustomize", "deploy/overlays/kaniko-image"), "--kaniko-image=registry.example.com/tools/kaniko-executor:v1.24.0") {
		t.Errorf("kaniko overlay did not set the image")
	}
}

func token(t *testing.T, ns, sa string) *rest.Config {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, sa, err)
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tr.Status.Token
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

func ptr[T any](v T) *T { return &v }

func canI(t *testing.T, cfg *rest.Config, verb, group, resource, ns string) bool {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: resource, Namespace: ns,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

// TestListenerAsServiceAccount applies deploy/ for real, then runs the listener with the token of its
// ServiceAccount: a signed push creates a PipelineRun, and RBAC keeps the listener to its job.
func TestListenerAsServiceAccount(t *testing.T) {
	ensureNamespace(t, "hookrun")
	ensureNamespace(t, "other")
	kubectl(t, "apply", "--server-side", "--field-manager=hookrun-test", "--force-conflicts", "-k", "deploy")
	ctx := context.Background()
	const secret = "deploy-test-secret"
	objs := `
apiVersion: v1
kind: Secret
metadata: {name: github-secret, namespace: hookrun}
stringData: {secretToken: ` + secret + `}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: github-template, namespace: hookrun}
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
metadata: {name: github-listener, namespace: hookrun}
spec:
  serviceAccountName: hookrun-listener
  triggers:
  - name: github-push
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: github-secret, secretKey: secretToken}}
      - {name: eventTypes, value: [push]}
    bindings: [{name: revision, value: $(body.after)}]
    template: {ref: github-template}
`
	env.Apply(t, "", objs)
	cfg := token(t, "hookrun", "hookrun-listener")
	for _, c := range []struct {
		verb, group, resource, ns string
		want                      bool
	}{
		{"create", "tekton.dev", "pipelineruns", "hookrun", true},
		{"get", "", "secrets", "hookrun", true},
		{"list", "triggers.tekton.dev", "eventlisteners", "other", true},
		{"get", "", "secrets", "other", false},
		{"list", "", "secrets", "", false},
		{"delete", "", "pods", "hookrun", false},
		{"create", "", "pods", "hookrun", false},
		{"create", "tekton.dev", "pipelineruns", "other", false},
		{"update", "triggers.tekton.dev", "eventlisteners", "hookrun", false},
		{"*", "*", "*", "", false},
		// Triggers' ServiceAccounts may be impersonated (Tekton's semantics); users and groups may not.
		{"impersonate", "", "serviceaccounts", "other", true},
		{"update", "triggers.tekton.dev", "eventlisteners/status", "other", true},
		{"update", "triggers.tekton.dev", "eventlisteners", "other", false},
		{"create", "coordination.k8s.io", "leases", "hookrun", true},
		{"create", "coordination.k8s.io", "leases", "other", false},
		{"create", "", "events", "hookrun", true}, // Events on EventListeners (refusal detail, open triggers)
		{"create", "", "events", "other", false},
		// Pipelines-as-Code Repositories (/hooks/pac) and the {{git_auth_secret}} Secrets pac makes.
		{"watch", "pipelinesascode.tekton.dev", "repositories", "other", true},
		{"create", "", "secrets", "hookrun", true},
		{"update", "", "secrets", "hookrun", false},
		{"create", "", "secrets", "other", false},
		{"impersonate", "", "users", "", false},
		{"impersonate", "", "groups", "", false},
		{"impersonate", "authentication.k8s.io", "userextras", "", false},
		{"impersonate", "authentication.k8s.io", "uids", "", false},
	} {
		if got := canI(t, cfg, c.verb, c.group, c.resource, c.ns); got != c.want {
			t.Errorf("listener can-i %s %s.%s in %q = %v, want %v", c.verb, c.resource, c.group, c.ns, got, c.want)
		}
	}
	execCfg := token(t, "hookrun", "hookrun-executor")
	for _, c := range []struct {
		verb, group, resource, ns string
		want                      bool
	}{
		{"create", "", "pods", "other", true},
		{"update", "tekton.dev", "pipelineruns/status", "other", true},
		{"create", "coordination.k8s.io", "leases", "hookrun", true},
		{"create", "coordination.k8s.io", "leases", "other", false},
		{"create", "", "secrets", "hookrun", false},
		{"get", "", "secrets", "other", true},
		{"list", "", "secrets", "other", false},
		{"watch", "", "secrets", "", false},
		{"delete", "", "namespaces", "", false},
		{"*", "*", "*", "", false},
	} {
		if got := canI(t, execCfg, c.verb, c.group, c.resource, c.ns); got != c.want {
			t.Errorf("executor can-i %s %s.%s in %q = %v, want %v", c.verb, c.resource, c.group, c.ns, got, c.want)
		}
	}

	// Run the listener with the ServiceAccount's token, as the Deployment does.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cache, err := listener.NewCache(cfg, env.Scheme, []string{"hookrun"})
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Warm(lctx, cache); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cache.Start(lctx) }()
	wctx, wcancel := context.WithTimeout(lctx, 30*time.Second)
	defer wcancel()
	if !cache.WaitForCacheSync(wctx) {
		t.Fatal("listener cache did not sync with the ServiceAccount's permissions")
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The EventListener names serviceAccountName hookrun-listener: the listener impersonates it, which its
	// ClusterRole allows for ServiceAccounts only.
	srv := listener.New(cache, c, cache, listener.Options{Namespace: "hookrun", EventListener: "github-listener",
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Impersonate: listener.NewImpersonator(cfg, client.Options{Scheme: env.Scheme, Mapper: c.RESTMapper()})})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(lctx, ln) }()
	req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: secret,
		Body: []byte(`{"ref":"refs/heads/main","after":"abc123"}`)}.Request(ctx, "http://"+ln.Addr().String()+"/hooks")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("push as the listener's ServiceAccount: %d %s", resp.StatusCode, body)
	}
	var prs pipelinev1.PipelineRunList
	if err := env.Client.List(ctx, &prs, client.InNamespace("hookrun")); err != nil {
		t.Fatal(err)
	}
	if len(prs.Items) != 1 || prs.Items[0].Spec.Params[0].Value.StringVal != "abc123" {
		t.Fatalf("PipelineRuns: %+v", prs.Items)
	}

	// With its own rights, the listener elects a status writer (Lease) and writes the EventListener's
	// address and conditions, as `tkn eventlistener list` and `kubectl wait --for=condition=Ready` read them.
	status := elstatus.New(cache, c, elstatus.Options{URL: "http://hookrun-listener.hookrun.svc.cluster.local:8080", Namespace: "hookrun",
		Default: "github-listener", Health: srv.Health, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	go func() { _ = elstatus.RunElected(lctx, cfg, "hookrun", "deploy-test", status, nil) }()
	var el triggersv1beta1.EventListener
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "hookrun", Name: "github-listener"}, &el); err != nil {
			t.Fatal(err)
		}
		if el.Status.Address != nil && len(el.Status.Conditions) > 0 && el.Status.Conditions[0].Status == "True" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("EventListener status not written with the listener's ServiceAccount: %+v", el.Status)
		}
	}
	if el.Status.Address.URL != "http://hookrun-listener.hookrun.svc.cluster.local:8080/hooks" || el.Status.Conditions[0].Type != "Available" {
		t.Errorf("EventListener status = %+v", el.Status)
	}
}

// TestExecutorAsServiceAccount runs the executor with its ServiceAccount's token (leader election in the
// hookrun namespace included): a PipelineRun in another namespace gets its TaskRun and Pod.
func TestExecutorAsServiceAccount(t *testing.T) {
	ensureNamespace(t, "hookrun")
	ensureNamespace(t, "team-a")
	kubectl(t, "apply", "--server-side", "--field-manager=hookrun-test", "--force-conflicts", "-k", "deploy")
	cfg := token(t, "hookrun", "hookrun-executor")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: env.Scheme, Cache: executor.CacheOptions(executor.Options{}),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		LeaderElection: true, LeaderElectionID: "hookrun-executor", LeaderElectionNamespace: "hookrun",
	})
	if err != nil {
		t.Fatal(err)
	}
	// ConfigNamespace as deploy/ sets it (--config-namespace=$(POD_NAMESPACE)): reading and watching
	// config-defaults and feature-flags must be allowed by the executor's Role.
	if err := executor.Setup(mgr, executor.Options{SkipNameValidation: true, ConfigNamespace: "hookrun", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "as-sa", Namespace: "team-a"},
		Spec: pipelinev1.PipelineRunSpec{PipelineSpec: &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{{
			Name: "hello", TaskSpec: &pipelinev1.EmbeddedTask{TaskSpec: pipelinev1.TaskSpec{
				Steps: []pipelinev1.Step{{Name: "say", Image: "alpine", Script: "echo hi"}}}}}}}}}
	if err := env.Client.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace("team-a")); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 1 && pods.Items[0].Labels["tekton.dev/pipelineRun"] == "as-sa" {
			break
		}
		if time.Now().After(deadline) {
			var got pipelinev1.PipelineRun
			_ = env.Client.Get(ctx, client.ObjectKeyFromObject(pr), &got)
			t.Fatalf("executor running as its ServiceAccount made no Pod; run status: %+v", got.Status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("manager: %v", err)
	}
}
