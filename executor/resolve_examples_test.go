package executor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
)

// upstreamExamples is Tekton's examples/v1 directory of the release hack/conformance pins, from the Go
// module cache (not copied into this repository). Tests using it skip when it is absent.
func upstreamExamples(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "tektoncd", "pipeline@v1.15.1", "examples", "v1")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Tekton's examples not in the module cache (cd hack/conformance && go mod download): %v", err)
	}
	return dir
}

// standInGitClone stands in for the catalog's git-clone Task the examples fetch (its params and workspace;
// its step is never run: the status writer plays the kubelet).
const standInGitClone = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: git-clone
spec:
  params:
    - {name: url}
    - {name: revision, default: ""}
    - {name: deleteExisting, default: "true"}
  workspaces:
    - {name: output}
  steps:
    - name: clone
      image: alpine/git
      script: git clone "$(params.url)" "$(workspaces.output.path)"
`

const standInStepAction = `apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: git-clone
spec:
  params:
    - {name: url}
    - {name: revision, default: main}
    - {name: output-path}
  image: alpine/git
  script: git clone "$(params.url)" "$(params.output-path)"
`

// rewriteRefs sets, in every reference (a map with resolver and params) of obj, the params named in
// loc[resolver] — the location params the examples point at the internet.
func rewriteRefs(obj any, loc map[string]map[string]string) {
	switch o := obj.(type) {
	case map[string]any:
		if r, ok := o["resolver"].(string); ok {
			if ps, ok := o["params"].([]any); ok {
				for _, p := range ps {
					pm, _ := p.(map[string]any)
					if v, ok := loc[r][fmt.Sprint(pm["name"])]; ok {
						pm["value"] = v
					}
				}
			}
		}
		for _, v := range o {
			rewriteRefs(v, loc)
		}
	case []any:
		for _, v := range o {
			rewriteRefs(v, loc)
		}
	}
}

// runToSuccess ends every Pod of ns successfully until every run in ns has succeeded.
func runToSuccess(t *testing.T, ns string, runs int) {
	t.Helper()
	ctx := context.Background()
	finished := map[string]bool{}
	eventually(t, 60*time.Second, fmt.Sprintf("%d runs in %s succeeded", runs, ns), func() (bool, error) {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if !finished[p.Name] {
				if err := kubelet().Finish(ctx, ns, p.Name, nil); err != nil {
					return false, err
				}
				finished[p.Name] = true
			}
		}
		var trs pipelinev1.TaskRunList
		var prs pipelinev1.PipelineRunList
		if err := env.Client.List(ctx, &trs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		if err := env.Client.List(ctx, &prs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		done, top := 0, len(prs.Items)
		var pending []string
		check := func(kind, name string, s *pipelinev1.Status) {
			c := s.GetCondition(pipelinev1.ConditionSucceeded)
			switch {
			case c != nil && c.Status == corev1.ConditionTrue:
				done++
			default:
				pending = append(pending, fmt.Sprintf("%s %s: %+v", kind, name, c))
			}
		}
		for i := range prs.Items {
			check("PipelineRun", prs.Items[i].Name, &prs.Items[i].Status.Status)
		}
		for i := range trs.Items {
			if trs.Items[i].Labels[executor.LabelPipelineRun] == "" {
				top++
			}
			check("TaskRun", trs.Items[i].Name, &trs.Items[i].Status.Status)
		}
		if top == runs && len(pending) == 0 {
			return true, nil
		}
		return false, fmt.Errorf("%d of %d runs made; waiting for %s", top, runs, strings.Join(pending, "; "))
	})
}

// exampleWeb serves the stand-in Task over http (basic auth checked when given: git/token, as the
// credentials example's Secret) and a hub API answering for it; sawCredentials reports an authenticated GET.
func exampleWeb(t *testing.T) (srv *httptest.Server, sawCredentials *atomic.Bool) {
	t.Helper()
	sawCredentials = &atomic.Bool{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); ok {
			if u != "git" || p != "token" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			sawCredentials.Store(true)
		}
		switch req.URL.Path {
		case "/tektoncd/catalog/main/task/git-clone/0.10/git-clone.yaml":
			_, _ = io.WriteString(w, standInGitClone)
		case "/api/v1/packages/tekton-task/tekton-catalog-tasks/git-clone/0.10.0":
			js, _ := yaml.YAMLToJSON([]byte("data: {manifestRaw: " + fmt.Sprintf("%q", standInGitClone) + "}"))
			_, _ = w.Write(js)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, sawCredentials
}

// clusterExampleObjects makes the namespaces and objects Tekton's cluster-resolver examples name.
func clusterExampleObjects(t *testing.T) {
	t.Helper()
	for _, nsName := range []string{"namespace-containing-task", "namespace-containing-pipeline"} {
		err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	var existing pipelinev1.Task
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "namespace-containing-task", Name: "some-task"}, &existing); err == nil {
		t.Skip("the examples' fixed namespaces are left from an earlier run in this control plane")
	}
	apply(t, "namespace-containing-task", strings.Replace(echoTask, "name: echo", "name: some-task", 1))
	apply(t, "namespace-containing-pipeline", `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: some-pipeline
spec:
  tasks:
    - name: only
      taskSpec:
        steps: [{name: s, image: busybox, script: "true"}]
`)
}

// applyExample creates an example's documents in ns with the location params rewritten (loc) and the
// TaskRun params in params replaced.
func applyExample(t *testing.T, ns, file string, loc map[string]map[string]string, params map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		rewriteRefs(u.Object, loc)
		spec, _ := u.Object["spec"].(map[string]any)
		if ps, ok := spec["params"].([]any); ok && u.GetKind() == "TaskRun" {
			for _, p := range ps {
				pm, _ := p.(map[string]any)
				if v, ok := params[fmt.Sprint(pm["name"])]; ok {
					pm["value"] = v
				}
			}
		}
		u.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), &u); err != nil {
			t.Fatalf("create %s: %v", u.GetKind(), err)
		}
	}
}

// Tekton's resolver examples run unchanged but for the resolver's location param, pointed at servers on this
// machine (a git repository over smart HTTP, an HTTP server, an OCI registry, a hub API); hub needs no change
// but the executor's --artifact-hub-url, and the cluster examples none at all.
func TestUpstreamResolverExamples(t *testing.T) {
	dir := upstreamExamples(t)
	repo, _ := gitServer(t, map[string]string{
		"task/git-clone/0.10/git-clone.yaml":      standInGitClone,
		"stepaction/git-clone/0.1/git-clone.yaml": standInStepAction,
	})
	web, sawCredentials := exampleWeb(t)
	bundle, digest := bundleRegistry(t, "git-clone", standInGitClone)
	loc := map[string]map[string]string{
		"git":     {"url": repo},
		"http":    {"url": web.URL + "/tektoncd/catalog/main/task/git-clone/0.10/git-clone.yaml"},
		"bundles": {"bundle": strings.SplitN(bundle, ":v1", 2)[0] + "@sha256:" + digest},
	}
	clusterExampleObjects(t)
	for _, tc := range []struct {
		file string
		runs int
		// TaskRun params to point elsewhere (the stepaction example passes its git URL as a param)
		params map[string]string
	}{
		{file: "taskruns/beta/git-resolver.yaml", runs: 1},
		{file: "taskruns/beta/bundles-resolver.yaml", runs: 1},
		{file: "taskruns/beta/hub-resolver.yaml", runs: 2},
		{file: "taskruns/beta/stepaction-git-resolver.yaml", runs: 1, params: map[string]string{"repoUrl": repo}},
		{file: "taskruns/no-ci/cluster-resolver.yaml", runs: 1},
		{file: "pipelineruns/beta/git-resolver.yaml", runs: 1},
		{file: "pipelineruns/beta/http-resolver.yaml", runs: 1},
		{file: "pipelineruns/beta/http-resolver-credentials.yaml", runs: 1},
		{file: "pipelineruns/no-ci/cluster-resolver.yaml", runs: 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ns := newNamespace(t)
			startExecutor(t, ns, func(o *executor.Options) { o.ArtifactHubURL = web.URL })
			applyExample(t, ns, filepath.Join(dir, tc.file), loc, tc.params)
			runToSuccess(t, ns, tc.runs)
			if strings.Contains(tc.file, "credentials") && !sawCredentials.Load() {
				t.Error("the http resolver sent no credentials from http-password-secret")
			}
		})
	}
}
