package e2enode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// The upgrade check (#16 item 3): deploy/ of the commit before the last one that changed it is applied
// first (with this image: the previous binary is not built), user resources are made, then this commit's
// deploy/ is applied over it. The resources must survive with their UIDs, the CRDs' stored versions must
// not change, and a run made before the upgrade is run to success after it.

// previousDeploy extracts deploy/ as it was before the last commit that changed it into dir/deploy and
// returns that commit's name, or "" with the reason when there is no git history (a source tarball).
func (n *node) previousDeploy(dir string) (string, string, error) {
	last, err := run(n.root, "git", "log", "-1", "--format=%H", "--", "deploy")
	if err != nil || strings.TrimSpace(last) == "" {
		return "", "no git history of deploy/ here", nil
	}
	prev := strings.TrimSpace(last) + "^"
	rev, err := run(n.root, "git", "rev-parse", "--short", prev)
	if err != nil {
		return "", "deploy/ has no earlier version (" + strings.TrimSpace(last) + " made it)", nil
	}
	archive := exec.Command("sh", "-c", `git archive "$1" deploy | tar -x -C "$2"`, "sh", prev, dir)
	archive.Dir = n.root
	if out, err := archive.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("git archive %s deploy: %w\n%s", prev, err, out)
	}
	return strings.TrimSpace(rev), "", nil
}

// crdVersions returns each hookrun CRD's status.storedVersions.
func (n *node) crdVersions(t *testing.T) map[string]string {
	t.Helper()
	var crds unstructured.UnstructuredList
	crds.SetAPIVersion("apiextensions.k8s.io/v1")
	crds.SetKind("CustomResourceDefinitionList")
	if err := n.client.List(context.Background(), &crds); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range crds.Items {
		if !strings.HasSuffix(c.GetName(), "tekton.dev") {
			continue
		}
		v, _, _ := unstructured.NestedStringSlice(c.Object, "status", "storedVersions")
		sort.Strings(v)
		out[c.GetName()] = strings.Join(v, ",")
	}
	return out
}

// userObjects are the user resources made before the upgrade, by kind/namespace/name → UID.
type userObjects map[string]types.UID

func (n *node) snapshotUserObjects(t *testing.T) userObjects {
	t.Helper()
	ctx := context.Background()
	out := userObjects{}
	var els triggersv1beta1.EventListenerList
	var tbs triggersv1beta1.TriggerBindingList
	var tts triggersv1beta1.TriggerTemplateList
	var prs pipelinev1.PipelineRunList
	for _, l := range []struct {
		kind string
		list client.ObjectList
	}{{"EventListener", &els}, {"TriggerBinding", &tbs}, {"TriggerTemplate", &tts}, {"PipelineRun", &prs}} {
		if err := n.client.List(ctx, l.list, client.InNamespace(deployNamespace)); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range els.Items {
		out["EventListener/"+o.Namespace+"/"+o.Name] = o.UID
	}
	for _, o := range tbs.Items {
		out["TriggerBinding/"+o.Namespace+"/"+o.Name] = o.UID
	}
	for _, o := range tts.Items {
		out["TriggerTemplate/"+o.Namespace+"/"+o.Name] = o.UID
	}
	if err := n.client.List(ctx, &prs, client.InNamespace(deployRunsNS)); err != nil {
		t.Fatal(err)
	}
	for _, o := range prs.Items {
		out["PipelineRun/"+o.Namespace+"/"+o.Name] = o.UID
	}
	return out
}

// installPrevious applies the previous deploy/ and the user resources; it returns what to compare after
// the upgrade, or nil when there is nothing to upgrade from (said in the log).
func (n *node) installPrevious(t *testing.T) (before userObjects, versions map[string]string) {
	t.Helper()
	dir := t.TempDir()
	rev, why, err := n.previousDeploy(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rev == "" {
		n.logf("upgrade not checked: %s", why)
		return nil, nil
	}
	ov := filepath.Join(dir, "overlay")
	if err := os.MkdirAll(ov, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := overlay(ov, filepath.Join(dir, "deploy")); err != nil {
		t.Fatal(err)
	}
	// --force-conflicts: envtest created this commit's CRDs when the control plane started; the previous
	// ones may differ (a real cluster has no other owner of them).
	if out, err := n.kubectl("apply", "--server-side", "--force-conflicts", "-k", ov); err != nil {
		t.Fatalf("apply deploy/ of %s: %v\n%s", rev, err, out)
	}
	if out, err := n.kubectl("apply", "--server-side", "-f", filepath.Join(n.root, "test", "e2enode", "testdata", "deploy", "shared-listener.yaml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	n.apply(t, deployRunsNS, fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: before-upgrade
spec:
  pipelineSpec:
    tasks:
    - name: hello
      taskSpec:
        steps:
        - {name: hello, image: %s, script: "#!/bin/sh\necho made before the upgrade"}
`, busyboxImage))
	before, versions = n.snapshotUserObjects(t), n.crdVersions(t)
	n.logf("deploy/ of %s applied (the commit before the last change to deploy/), with %d user resources", rev, len(before))
	return before, versions
}

// checkUpgraded compares the user resources and CRD stored versions after this commit's deploy/ is applied.
func (n *node) checkUpgraded(t *testing.T, before userObjects, versions map[string]string) {
	t.Helper()
	if before == nil {
		return
	}
	after := n.snapshotUserObjects(t)
	for k, uid := range before {
		if after[k] != uid {
			t.Errorf("after the upgrade %s has UID %q, before %q", k, after[k], uid)
		}
	}
	now := n.crdVersions(t)
	for name, v := range versions {
		if now[name] != v {
			t.Errorf("CRD %s stored versions %q after the upgrade, %q before", name, now[name], v)
		}
	}
	n.waitSucceeded(t, deployRunsNS, "before-upgrade", runTimeout)
	n.logf("upgrade: %d user resources kept with their UIDs, %d CRDs' stored versions unchanged, the run made before it Succeeded",
		len(before), len(versions))
}

// testUninstall: the order README "Deploy on Kubernetes" gives. First everything hookrun installed but the
// CRDs (its namespaces, with the Deployments, Services, Ingress, Secrets in them, and its cluster RBAC):
// the users' resources stay. Then `kubectl delete -k` of the same kustomization: the CRDs, and with them
// every resource of their kinds.
func (n *node) testUninstall(t *testing.T, overlayDir string) {
	ctx := context.Background()
	const sel = "app.kubernetes.io/part-of=hookrun"
	start := time.Now()
	if out, err := n.kubectl("delete", "namespace,clusterrole,clusterrolebinding", "-l", sel, "--wait=true", "--timeout=120s"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var prs pipelinev1.PipelineRunList
	if err := n.client.List(ctx, &prs, client.InNamespace(deployRunsNS)); err != nil {
		t.Fatal(err)
	}
	if len(prs.Items) == 0 {
		t.Errorf("no PipelineRun left in %s after removing hookrun but its CRDs", deployRunsNS)
	}
	for _, kind := range []string{"namespace", "clusterrole", "clusterrolebinding", "deployment", "service"} {
		out, err := n.kubectl("get", kind, "-A", "-l", sel, "-o", "name")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if s := strings.TrimSpace(out); s != "" {
			t.Errorf("left after removing hookrun but its CRDs: %s", s)
		}
	}
	n.logf("uninstall without the CRDs: %d PipelineRuns kept in %s, nothing labelled %s but the CRDs left (%.1fs)",
		len(prs.Items), deployRunsNS, sel, time.Since(start).Seconds())

	start = time.Now()
	if out, err := n.kubectl("delete", "-k", overlayDir, "--ignore-not-found", "--wait=true", "--timeout=120s"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := n.kubectl("get", "crd", "-l", sel, "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("CRDs left after kubectl delete -k (%v): %s", err, out)
	}
	n.logf("kubectl delete -k: the CRDs and the resources of their kinds deleted (%.1fs)", time.Since(start).Seconds())
}
