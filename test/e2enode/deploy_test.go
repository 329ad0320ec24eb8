package e2enode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

// The deploy test: hookrun as a cluster operator runs it, from the image `make image` builds (hack/image),
// as Pods made from deploy/'s manifests by `kubectl apply --server-side -k` (#16), and the el-NAME
// Deployment and Service of an EventListener (#22).
const (
	// deployImage is the tag the overlay gives ghcr.io/hookrun/hookrun (not latest: the kubelet must not pull).
	deployImage     = "ghcr.io/hookrun/hookrun:e2e-deploy"
	deployNamespace = "hookrun"
	deployRunsNS    = "deploy-runs"
	deployELNS      = "deploy-el"
)

// executorImageArgs returns the indices of the executor's --hookrun-image and --kaniko-image args in
// deployDir/base/executor.yaml, and their values, for the overlay's patch (deploy/overlays/kaniko-image
// patches the same way): found, not assumed, so an earlier deploy/ whose args differ is patched right.
func executorImageArgs(deployDir string) (map[string]int, []string, error) {
	data, err := os.ReadFile(filepath.Join(deployDir, "base", "executor.yaml"))
	if err != nil {
		return nil, nil, err
	}
	for _, doc := range splitYAML(string(data)) {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			return nil, nil, fmt.Errorf("executor.yaml: %w", err)
		}
		if d.Kind != "Deployment" || d.Name != "hookrun-executor" || len(d.Spec.Template.Spec.Containers) == 0 {
			continue
		}
		args := d.Spec.Template.Spec.Containers[0].Args
		idx := map[string]int{}
		for i, a := range args {
			for _, flag := range []string{"--hookrun-image=", "--kaniko-image="} {
				if strings.HasPrefix(a, flag) {
					idx[flag] = i
				}
			}
		}
		if len(idx) != 2 {
			return nil, nil, fmt.Errorf("executor.yaml: hookrun-executor's args %q lack --hookrun-image= or --kaniko-image=", args)
		}
		return idx, args, nil
	}
	return nil, nil, fmt.Errorf("executor.yaml: no Deployment hookrun-executor")
}

// overlay is the kustomization the test applies: deploy/ at deployDir with only the images changed (the
// image's tag, and the executor's --hookrun-image and --kaniko-image args).
func overlay(dir, deployDir string) (string, error) {
	rel, err := filepath.Rel(dir, deployDir)
	if err != nil {
		return "", err
	}
	idx, args, err := executorImageArgs(deployDir)
	if err != nil {
		return "", err
	}
	var patch strings.Builder
	for _, p := range []struct{ flag, value string }{{"--hookrun-image=", deployImage}, {"--kaniko-image=", kanikoImage}} {
		i := idx[p.flag]
		// The test operations make kustomize refuse the patch if the arg is not where it was found.
		fmt.Fprintf(&patch, "    - {op: test, path: /spec/template/spec/containers/0/args/%d, value: %q}\n", i, args[i])
		fmt.Fprintf(&patch, "    - {op: replace, path: /spec/template/spec/containers/0/args/%d, value: %q}\n", i, p.flag+p.value)
	}
	text := fmt.Sprintf(`# deploy/ with the image imported into the node's containerd and an absent Kaniko image; nothing else.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
images:
- name: ghcr.io/hookrun/hookrun
  newTag: %s
patches:
- target: {kind: Deployment, name: hookrun-executor}
  patch: |-
%s`, filepath.ToSlash(rel), strings.TrimPrefix(deployImage, "ghcr.io/hookrun/hookrun:"), patch.String())
	path := filepath.Join(dir, "kustomization.yaml")
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// kubectl runs bin/kubectl against the node's API server.
func (n *node) kubectl(args ...string) (string, error) {
	return run(n.root, filepath.Join(n.bin, "kubectl"), append([]string{"--kubeconfig=" + n.kubeconfig}, args...)...)
}

func (n *node) testDeploy(t *testing.T) {
	// deploy/'s executor works cluster-wide: the suite's own executor and listener processes go first, and
	// so do the suite's EventListeners (they would each get an el- Deployment).
	n.stopSuiteHookrun()
	n.deleteEventListeners(t)

	start := time.Now()
	tarball := filepath.Join(n.e2e, "deploy", "hookrun-image.tar")
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		t.Fatal(err)
	}
	// The image's revision label and file times come from the commit, as in `make image` (none outside git).
	rev, err := run(n.root, "git", "rev-parse", "HEAD")
	if err != nil {
		rev = ""
	}
	epoch, err := run(n.root, "git", "log", "-1", "--format=%ct")
	if err != nil {
		epoch = ""
	}
	// The static binary the suite already built (.e2e/hookrun), put on hack/image's base as `make image` does.
	if out, err := run(n.root, "go", "run", "./hack/image", "--binary", n.hookrun, "--step-binary", n.hookrunStep, "--version", "e2e-deploy",
		"--revision", strings.TrimSpace(rev), "--source-date-epoch", strings.TrimSpace(epoch),
		"--tarball", tarball, "--tag", deployImage); err != nil {
		t.Fatal(err)
	} else if s := strings.TrimSpace(out); s != "" {
		n.logf("hack/image: %s", s)
	}
	n.phase("deploy-image-build", start)

	start = time.Now()
	if _, err := n.ctr("images", "import", tarball); err != nil {
		t.Fatal(err)
	}
	if out, err := n.ctr("images", "ls", "-q"); err != nil || !strings.Contains(out, deployImage) {
		t.Fatalf("%s not in containerd after import (%v):\n%s", deployImage, err, out)
	}
	n.phase("deploy-image-import", start)

	if err := n.waitKubeProxy(60 * time.Second); err != nil {
		t.Fatalf("%v\nkube-proxy log:\n%s", err, n.procTail("kube-proxy", 40))
	}
	n.logf("Services: kube-proxy (nftables mode) routes ClusterIPs from the host and from Pods")

	// First the previous deploy/ and some user resources (the upgrade check), then this commit's.
	installed := time.Now()
	before, versions := n.installPrevious(t)
	n.phase("deploy-previous-apply", installed)

	dir := t.TempDir()
	if _, err := overlay(dir, filepath.Join(n.root, "deploy")); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if out, err := n.kubectl("apply", "--server-side", "-k", dir); err != nil {
		t.Fatal(err)
	} else {
		n.logf("kubectl apply --server-side -k (overlay of deploy/): %d objects", strings.Count(out, "\n"))
	}
	for _, d := range []string{"hookrun-listener", "hookrun-executor"} {
		n.waitDeploymentReady(t, deployNamespace, d, 2, 3*time.Minute)
	}
	n.phase("deploy-apply-to-ready", start)
	// From the first apply (the previous deploy/, whose Pods may not get Ready with this image) to Ready.
	n.phase("deploy-first-apply-to-ready", installed)
	n.checkDeployedPods(t)
	n.checkUpgraded(t, before, versions)

	t.Run("PushThroughService", func(t *testing.T) { n.testDeployPush(t) })
	t.Run("Ingress", func(t *testing.T) { n.testIngress(t) })
	t.Run("ExecutorFailover", func(t *testing.T) { n.testDeployFailover(t) })
	t.Run("ELDeployment", func(t *testing.T) { n.testELDeployment(t) })
	t.Run("Uninstall", func(t *testing.T) { n.testUninstall(t, dir) })
}

// stopSuiteHookrun stops the hookrun listener and executor processes the rest of the suite uses.
func (n *node) stopSuiteHookrun() {
	n.mu.Lock()
	procs := append([]*proc(nil), n.procs...)
	n.mu.Unlock()
	for _, p := range procs {
		if p.name == "hookrun-listener" || p.name == "hookrun-executor" {
			p.stop(10 * time.Second)
		}
	}
}

func (n *node) procTail(name string, lines int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		if p.name == name {
			return p.tail(lines)
		}
	}
	return ""
}

// deleteEventListeners deletes every EventListener the suite made before the deploy test.
func (n *node) deleteEventListeners(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var els triggersv1beta1.EventListenerList
	if err := n.client.List(ctx, &els); err != nil {
		t.Fatal(err)
	}
	for i := range els.Items {
		if err := n.client.Delete(ctx, &els.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
}

// waitDeploymentReady waits until a Deployment has want updated, ready and available replicas.
func (n *node) waitDeploymentReady(t *testing.T, ns, name string, want int32, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	err := waitFor(timeout, "Deployment "+ns+"/"+name+" ready", func() (bool, error) {
		if err := n.client.Get(context.Background(), clientKey(ns, name), &d); err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration == d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		t.Fatalf("%v\nstatus: %s\n%s", err, statusJSON(d.Status), n.describePods(ns))
	}
	return &d
}

// describePods summarises a namespace's Pods and their container logs, for failure messages.
func (n *node) describePods(ns string) string {
	var b strings.Builder
	var pods corev1.PodList
	if err := n.client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		fmt.Fprintf(&b, "Pod %s: phase=%s node=%s conditions=%v\n", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.Conditions)
		for _, s := range p.Status.ContainerStatuses {
			fmt.Fprintf(&b, "  %s: ready=%v restarts=%d %s\n", s.Name, s.Ready, s.RestartCount, stateString(s.State))
		}
		logs := n.latestLogs(p)
		// A crashing Go program's last lines are its stack: show the panic itself too.
		if i := strings.Index(logs, "panic:"); i >= 0 {
			line, _, _ := strings.Cut(logs[i:], "\n")
			fmt.Fprintf(&b, "  | ... %s\n", line)
		}
		b.WriteString(indent(tailLines(logs, 20), "  | "))
	}
	var ev corev1.EventList
	if err := n.client.List(context.Background(), &ev, client.InNamespace(ns)); err == nil {
		for _, e := range ev.Items {
			if e.Type == corev1.EventTypeWarning {
				fmt.Fprintf(&b, "Event %s %s: %s %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}

// latestLogs is the text of each container's latest attempt (the kubelet keeps the last two: a crashing
// container's 0.log is gone after a few restarts).
func (n *node) latestLogs(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		dir := filepath.Join(n.run, "pod-logs", fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), c.Name)
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		latest, last := "", -1
		for _, f := range files {
			if i, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".log")); err == nil && i > last {
				latest, last = f, i
			}
		}
		if latest == "" {
			continue
		}
		lines, err := readLogLines(latest)
		if err != nil {
			continue
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "[%s#%d] %s\n", c.Name, last, l.Text)
		}
	}
	return b.String()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// checkDeployedPods checks that the Pods run as deploy/ declares: the image, the probes, the restricted
// security context with a read-only root FS, and in-cluster config from a projected ServiceAccount token
// (no kubeconfig anywhere).
func (n *node) checkDeployedPods(t *testing.T) {
	t.Helper()
	for _, app := range []string{"hookrun-listener", "hookrun-executor"} {
		var pods corev1.PodList
		if err := n.client.List(context.Background(), &pods, client.InNamespace(deployNamespace),
			client.MatchingLabels{"app.kubernetes.io/name": app}); err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || !podReady(&p) {
				continue
			}
			ready++
			c := p.Spec.Containers[0]
			sc := c.SecurityContext
			var problems []string
			if c.Image != deployImage {
				problems = append(problems, "image "+c.Image)
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				problems = append(problems, "probes missing")
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				problems = append(problems, "root FS not read-only")
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				problems = append(problems, "privilege escalation allowed")
			}
			if ps := p.Spec.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
				problems = append(problems, "runAsNonRoot unset")
			}
			if p.Spec.ServiceAccountName != app {
				problems = append(problems, "ServiceAccount "+p.Spec.ServiceAccountName)
			}
			token := false
			for _, v := range p.Spec.Volumes {
				if v.Projected == nil {
					continue
				}
				for _, s := range v.Projected.Sources {
					if s.ServiceAccountToken != nil {
						token = true
					}
				}
			}
			if !token {
				problems = append(problems, "no projected ServiceAccount token volume")
			}
			for _, a := range append(append([]string{}, c.Command...), c.Args...) {
				if strings.Contains(a, "kubeconfig") {
					problems = append(problems, "kubeconfig in args")
				}
			}
			for _, e := range c.Env {
				if e.Name == "KUBECONFIG" {
					problems = append(problems, "KUBECONFIG set")
				}
			}
			if len(problems) > 0 {
				t.Errorf("Pod %s: %s", p.Name, strings.Join(problems, "; "))
			}
		}
		if ready != 2 {
			t.Errorf("%s: %d Ready Pods, want 2", app, ready)
		}
	}
	n.logf("listener and executor: 2+2 Pods Ready from %s with deploy/'s probes, restricted security context, "+
		"read-only root FS and projected ServiceAccount tokens (in-cluster config)", deployImage)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// serviceURL returns http://CLUSTER-IP:PORT of a Service port.
func (n *node) serviceURL(t *testing.T, ns, name string, port int32) string {
	t.Helper()
	var svc corev1.Service
	if err := n.client.Get(context.Background(), clientKey(ns, name), &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatalf("Service %s/%s has no ClusterIP", ns, name)
	}
	return fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, port)
}

// deliver sends a signed GitHub push to url and returns the run the trigger created. It retries for a
// while: a listener that has just started may not have the EventListener in its cache yet (404).
// pushSucceeds delivers a signed push of revision to url and checks what the shared listener makes of
// it: a run in deployRunsNS that succeeds and logs the revision. It records phase (delivery → Succeeded)
// and returns the run and that duration.
func (n *node) pushSucceeds(t *testing.T, url, revision, phase string) (listener.Resource, time.Duration) {
	t.Helper()
	res, sent := deliver(t, url, revision)
	if res.Namespace != deployRunsNS {
		t.Errorf("run created in %q, want %s", res.Namespace, deployRunsNS)
	}
	pr := n.waitSucceeded(t, res.Namespace, res.Name, 3*time.Minute)
	d := time.Since(sent)
	n.phase(phase, sent)
	tr := n.taskRun(t, pr, "show")
	if logs := n.podLogs(n.pod(t, res.Namespace, tr.Status.PodName)); !strings.Contains(logs, "pushed "+revision[:16]) {
		t.Errorf("run logs:\n%s", logs)
	}
	return res, d
}

func deliver(t *testing.T, url string, revision string) (listener.Resource, time.Time) {
	t.Helper()
	var res listener.Resource
	var sent time.Time
	if err := waitFor(60*time.Second, "a signed push to "+url+" creates a run", func() (bool, error) {
		var err error
		res, sent, err = deliverOnce(url, revision)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	return res, sent
}

func deliverOnce(url string, revision string) (listener.Resource, time.Time, error) {
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"name":"repo","full_name":"e2e/repo"}}`, revision))
	req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: e2eSecret, Body: body}.Request(context.Background(), url)
	if err != nil {
		return listener.Resource{}, time.Time{}, err
	}
	sent := time.Now()
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return listener.Resource{}, sent, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var r listener.Response
	if err := json.Unmarshal(data, &r); err != nil || resp.StatusCode != http.StatusAccepted {
		return listener.Resource{}, sent, fmt.Errorf("POST %s: HTTP %d %s", url, resp.StatusCode, data)
	}
	if len(r.Triggers) == 0 || r.Triggers[0].Status != listener.StatusCreated || len(r.Triggers[0].Resources) == 0 {
		return listener.Resource{}, sent, fmt.Errorf("POST %s: the trigger did not create a run: %s", url, data)
	}
	return r.Triggers[0].Resources[0], sent, nil
}

// waitSucceeded waits for a PipelineRun to end and fails unless it Succeeded.
func (n *node) waitSucceeded(t *testing.T, ns, name string, timeout time.Duration) *pipelinev1.PipelineRun {
	t.Helper()
	pr := n.waitPR(t, ns, name, timeout)
	if c := condition(pr); c.Status != corev1.ConditionTrue {
		t.Fatalf("PipelineRun %s/%s: %+v\n%s", ns, name, c, n.describeRuns(ns))
	}
	return pr
}

// testDeployPush: a signed push through the listener's Service makes a run that Succeeds on the node, and
// /metrics, scraped through the Service, counts the delivery.
func (n *node) testDeployPush(t *testing.T) {
	if out, err := n.kubectl("apply", "--server-side", "-f", filepath.Join(n.root, "test", "e2enode", "testdata", "deploy", "shared-listener.yaml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	base := n.serviceURL(t, deployNamespace, "hookrun-listener", 8080)
	res, d := n.pushSucceeds(t, base+"/hooks", "0123456789abcdef0123456789abcdef01234567", "deploy-push-to-succeeded")
	n.logf("signed push to Service hookrun-listener (%s/hooks) → PipelineRun %s/%s Succeeded in %.1fs", base, res.Namespace, res.Name, d.Seconds())

	// Two replicas behind the Service: scrape until the one that took the delivery answers (a new
	// connection each time, for kube-proxy to pick a replica again).
	metrics := n.serviceURL(t, deployNamespace, "hookrun-listener", 9090) + "/metrics"
	scraper := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var line string
	for i := 0; i < 40 && line == ""; i++ {
		resp, err := scraper.Get(metrics)
		if err != nil {
			t.Fatalf("GET %s: %v", metrics, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "hookrun_events_total{") && strings.Contains(l, `listener="github-listener"`) && strings.Contains(l, `code="202"`) {
				line = l
			}
		}
	}
	if line == "" {
		t.Fatalf("no replica's %s counts the delivery in hookrun_events_total", metrics)
	}
	n.logf("metrics through Service hookrun-listener:9090: %s", line)
}

// leaseHolder returns the executor Lease's holder (the Pod name: controller-runtime's identity is
// HOSTNAME_UUID) and the lease duration.
func (n *node) leaseHolder() (string, time.Duration, error) {
	var l coordinationv1.Lease
	if err := n.client.Get(context.Background(), clientKey(deployNamespace, "hookrun-executor"), &l); err != nil {
		return "", 0, err
	}
	holder, dur := "", time.Duration(0)
	if l.Spec.HolderIdentity != nil {
		holder, _, _ = strings.Cut(*l.Spec.HolderIdentity, "_")
	}
	if l.Spec.LeaseDurationSeconds != nil {
		dur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return holder, dur, nil
}

// testDeployFailover: a run is in progress when the leading executor's Pod is deleted; the other replica
// takes the Lease within the lease duration and finishes the run with no duplicate TaskRun or Pod.
func (n *node) testDeployFailover(t *testing.T) {
	ctx := context.Background()
	leader, leaseDur, err := n.leaseHolder()
	if err != nil || leader == "" {
		t.Fatalf("executor Lease: holder %q, %v", leader, err)
	}
	pr := fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: failover
spec:
  pipelineSpec:
    tasks:
    - name: slow
      taskSpec:
        steps:
        - {name: sleep, image: %[1]s, script: "#!/bin/sh\necho slow start; sleep 12; echo slow done"}
    - name: after
      runAfter: [slow]
      taskSpec:
        steps:
        - {name: echo, image: %[1]s, script: "#!/bin/sh\necho after the failover"}
`, busyboxImage)
	n.apply(t, deployRunsNS, pr)
	if err := waitFor(2*time.Minute, "failover's slow step running", func() (bool, error) {
		cur, err := n.getPR(deployRunsNS, "failover")
		if err != nil {
			return false, err
		}
		tr, err := n.findTaskRun(cur, "slow")
		if err != nil || tr.Status.PodName == "" {
			return false, err
		}
		var p corev1.Pod
		if err := n.client.Get(ctx, clientKey(deployRunsNS, tr.Status.PodName), &p); err != nil {
			return false, err
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Running != nil {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describeRuns(deployRunsNS))
	}

	deleted := time.Now()
	if err := n.client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: deployNamespace, Name: leader}}); err != nil {
		t.Fatal(err)
	}
	var next string
	if err := waitFor(2*leaseDur+10*time.Second, "another executor takes the Lease", func() (bool, error) {
		h, _, err := n.leaseHolder()
		if err != nil {
			return false, err
		}
		next = h
		return h != "" && h != leader, nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, n.describePods(deployNamespace))
	}
	failover := time.Since(deleted)
	timings.add("deploy-failover", failover)
	n.logf("executor leader %s deleted; %s holds the Lease after %.1fs (lease duration %s)", leader, next, failover.Seconds(), leaseDur)
	if failover > leaseDur {
		t.Errorf("failover took %s, more than the lease duration %s", failover, leaseDur)
	}

	done := n.waitSucceeded(t, deployRunsNS, "failover", 3*time.Minute)
	sel := client.MatchingLabels{"tekton.dev/pipelineRun": "failover"}
	var trs pipelinev1.TaskRunList
	if err := n.client.List(ctx, &trs, client.InNamespace(deployRunsNS), sel); err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	if err := n.client.List(ctx, &pods, client.InNamespace(deployRunsNS), sel); err != nil {
		t.Fatal(err)
	}
	perTask := map[string]int{}
	for _, tr := range trs.Items {
		perTask[tr.Labels["tekton.dev/pipelineTask"]]++
	}
	podsPerTask := map[string]int{}
	for _, p := range pods.Items {
		podsPerTask[p.Labels["tekton.dev/pipelineTask"]]++
	}
	want := map[string]int{"slow": 1, "after": 1}
	if fmt.Sprint(perTask) != fmt.Sprint(want) || fmt.Sprint(podsPerTask) != fmt.Sprint(want) {
		t.Errorf("after the failover: TaskRuns per task %v, Pods per task %v, want one each %v", perTask, podsPerTask, want)
	}
	n.logf("run failover Succeeded across the failover (%s): TaskRuns %v, Pods %v", condition(done).Reason, perTask, podsPerTask)
	// The Deployment replaces the deleted Pod.
	n.waitDeploymentReady(t, deployNamespace, "hookrun-executor", 2, 2*time.Minute)
}

// testELDeployment (#22): an EventListener without the shared annotation gets el-NAME from the executor's
// EventListener reconciler; kubectl wait --for=condition=Ready returns; a delivery to the Service el-NAME
// creates a run; replicas: 2 gives two Pods; deleting the EventListener deletes both objects.
func (n *node) testELDeployment(t *testing.T) {
	ctx := context.Background()
	const name = "github-listener"
	start := time.Now()
	if out, err := n.kubectl("apply", "-f", filepath.Join(n.root, "test", "e2enode", "testdata", "deploy", "el-listener.yaml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := n.kubectl("wait", "-n", deployELNS, "--for=condition=Ready", "eventlistener/"+name, "--timeout=120s"); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, n.describePods(deployELNS))
	}
	ready := time.Since(start)
	timings.add("el-apply-to-ready", ready)
	n.logf("EventListener %s/%s: kubectl apply → kubectl wait --for=condition=Ready returned after %.1fs", deployELNS, name, ready.Seconds())

	gen := "el-" + name
	var d appsv1.Deployment
	if err := n.client.Get(ctx, clientKey(deployELNS, gen), &d); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := n.client.Get(ctx, clientKey(deployELNS, gen), &svc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"app.kubernetes.io/managed-by": "EventListener", "app.kubernetes.io/part-of": "Triggers", "eventlistener": name} {
		if d.Labels[k] != v || svc.Labels[k] != v {
			t.Errorf("label %s: Deployment %q, Service %q, want %q", k, d.Labels[k], svc.Labels[k], v)
		}
	}
	if sa := d.Spec.Template.Spec.ServiceAccountName; sa != "el-sa" {
		t.Errorf("el- Pods run as %q, want el-sa", sa)
	}
	var el triggersv1beta1.EventListener
	if err := n.client.Get(ctx, clientKey(deployELNS, name), &el); err != nil {
		t.Fatal(err)
	}
	addr, _ := json.Marshal(el.Status.Address)
	n.logf("EventListener status: address %s, conditions %s", addr, conditionsLine(el.Status.Conditions))

	pod := n.elPod(t, gen)
	time.Sleep(3 * time.Second)
	rssIdle, err := n.containerRSS(pod)
	if err != nil {
		t.Errorf("el- Pod RSS: %v", err)
	}

	port := int32(8080)
	for _, p := range svc.Spec.Ports {
		if p.Name == "http-listener" {
			port = p.Port
		}
	}
	url := n.serviceURL(t, deployELNS, gen, port) + "/hooks"
	res, sent := deliver(t, url, "89abcdef0123456789abcdef0123456789abcdef")
	if res.Namespace != deployELNS {
		t.Errorf("run created in %q, want %s", res.Namespace, deployELNS)
	}
	n.waitSucceeded(t, res.Namespace, res.Name, 3*time.Minute)
	n.logf("signed push to Service %s (%s) → PipelineRun %s/%s Succeeded in %.1fs", gen, url, res.Namespace, res.Name, time.Since(sent).Seconds())
	rssAfter, err := n.containerRSS(pod)
	if err != nil {
		t.Errorf("el- Pod RSS: %v", err)
	}
	timings.note("el-%s Pod RSS: %.1f MiB at rest after Ready, %.1f MiB after one delivery; apply → Ready %.1fs",
		name, float64(rssIdle)/(1<<20), float64(rssAfter)/(1<<20), ready.Seconds())

	// replicas: 2 → two Pods.
	patch := []byte(`{"spec":{"resources":{"kubernetesResource":{"replicas":2}}}}`)
	if err := n.client.Patch(ctx, &el, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	n.waitDeploymentReady(t, deployELNS, gen, 2, 2*time.Minute)

	// Deleting the EventListener: the garbage collector deletes what it owns.
	if err := n.client.Delete(ctx, &el); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(90*time.Second, "el- Deployment and Service deleted", func() (bool, error) {
		errD := n.client.Get(ctx, clientKey(deployELNS, gen), &appsv1.Deployment{})
		errS := n.client.Get(ctx, clientKey(deployELNS, gen), &corev1.Service{})
		return apierrors.IsNotFound(errD) && apierrors.IsNotFound(errS), nil
	}); err != nil {
		t.Error(err)
	}
}

func conditionsLine(cs []triggersv1beta1.Condition) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Type+"="+c.Status)
	}
	return strings.Join(parts, " ")
}

// elPod returns the Ready Pod of the el- Deployment.
func (n *node) elPod(t *testing.T, gen string) *corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := n.client.List(context.Background(), &pods, client.InNamespace(deployELNS), client.MatchingLabels{"eventlistener": strings.TrimPrefix(gen, "el-")}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].DeletionTimestamp == nil {
			return &pods.Items[i]
		}
	}
	t.Fatalf("no Ready Pod of %s:\n%s", gen, n.describePods(deployELNS))
	return nil
}

// containerRSS is the resident set of a Pod's first container's process, from /proc (its PID from ctr).
func (n *node) containerRSS(p *corev1.Pod) (int64, error) {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0, fmt.Errorf("pod %s has no container status", p.Name)
	}
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	out, err := n.ctr("tasks", "ls")
	if err != nil {
		return 0, err
	}
	pid := ""
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == id {
			pid = f[1]
		}
	}
	if pid == "" {
		return 0, fmt.Errorf("container %s not among containerd's tasks", id)
	}
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0, err
	}
	for _, l := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(l, []byte("VmRSS:")); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
}

// TestDeployOverlay checks, without a node, that the overlay the deploy test applies changes exactly the
// images: every hookrun container runs deployImage, the executor's image args name deployImage and
// kanikoImage, and nothing else differs from deploy/ as kustomize renders it.
func TestDeployOverlay(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(root, "bin", "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Skip("bin/kubectl not built (make tools builds it)")
	}
	dir := t.TempDir()
	if _, err := overlay(dir, filepath.Join(root, "deploy")); err != nil {
		t.Fatal(err)
	}
	got, err := run(root, kubectl, "kustomize", dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := run(root, kubectl, "kustomize", filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	replaced := strings.NewReplacer(
		"image: ghcr.io/hookrun/hookrun:latest", "image: "+deployImage,
		"--hookrun-image=ghcr.io/hookrun/hookrun:latest", "--hookrun-image="+deployImage,
	).Replace(want)
	idx, args, err := executorImageArgs(filepath.Join(root, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	replaced = strings.Replace(replaced, args[idx["--kaniko-image="]], "--kaniko-image="+kanikoImage, 1)
	if got != replaced {
		t.Errorf("the overlay changes more than the images:\n--- overlay\n%s\n--- deploy/ with the images replaced\n%s", got, replaced)
	}
	if !strings.Contains(got, "--kaniko-image="+kanikoImage) || strings.Contains(got, "hookrun:latest") {
		t.Errorf("overlay output:\n%s", got)
	}
}
