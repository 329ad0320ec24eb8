package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/paccorpus"
)

// TestDevPAC: under `hookrun dev`, a Repository and a fake GitHub serving `.tekton/` at a commit; a push
// to /hooks/pac creates the commit's PipelineRun, the node agent runs it to success, and the commit gets
// pending then success under context hookrun/NAME.
func TestDevPAC(t *testing.T) {
	root, bin := buildHookrun(t)
	tmp := filepath.Dir(bin)
	const token, hook = "e2e-pac-token", "e2e-pac-hook"
	const sha = "0123456789abcdef0123456789abcdef01234567"
	srv := forgetest.NewServer(token)
	defer srv.Close()
	// Real `.tekton/` PipelineRuns of Pipelines-as-Code's own tests run beside ours, when ../shared is there.
	corpus := corpusTekton(t, root)
	srv.SetFiles("octo/app", sha, corpus)
	srv.SetFiles("octo/app", sha, map[string]string{".tekton/push.yaml": paccorpus.PushPipelineRun("busybox")})
	d := startDev(t, root, bin, filepath.Join(tmp, "state"))
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-forge", Namespace: "default"},
		StringData: map[string]string{"provider.token": token, "webhook.secret": hook}}
	if err := d.client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	repo := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: pipelinesascode.tekton.dev/v1alpha1
kind: Repository
metadata: {name: app, namespace: default}
spec:
  url: https://github.com/octo/app
  git_provider: {type: github, url: `+srv.GitHubAPI()+`, secret: {name: app-forge}, webhook_secret: {name: app-forge}}
`), &repo.Object); err != nil {
		t.Fatal(err)
	}
	if err := d.client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the listener's informer sees the Repository
	body := []byte(`{"ref":"refs/heads/main","after":"` + sha + `","head_commit":{"id":"` + sha + `","message":"m"},"commits":[{"modified":[".tekton/push.yaml"]}],
"repository":{"full_name":"octo/app","name":"app","html_url":"https://github.com/octo/app","default_branch":"main","owner":{"login":"octo"}},
"sender":{"login":"octo"}}`)
	r := d.send(t, listener.PACPath, listener.Outgoing{Provider: "github", Event: "push", Secret: hook, Body: body})
	want := 1 + paccorpus.PipelineRuns(corpus)
	if len(r.Triggers) != want {
		t.Fatalf("answer %+v, want %d results\n%s", r, want, d.out)
	}
	for _, tr := range r.Triggers {
		if tr.Status != listener.StatusCreated {
			t.Fatalf("%s: %+v\n%s", tr.Name, tr, d.out)
		}
		pr := d.waitRun(t, tr.Resources[0].Name)
		if c := pr.Status.GetCondition("Succeeded"); c.Status != corev1.ConditionTrue {
			t.Fatalf("%s run %s: %+v\n%s", tr.Name, pr.Name, c, d.out)
		}
	}
	var states []string
	for deadline := time.Now().Add(30 * time.Second); len(states) < 2 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		states = states[:0]
		for _, s := range srv.Statuses(forge.GitHub, "octo/app", sha) {
			if s.Context == "hookrun/build" {
				states = append(states, s.State)
			}
		}
	}
	if got := strings.Join(states, ","); got != "pending,success" {
		t.Fatalf("statuses %q, want pending,success; requests %+v", got, srv.Requests())
	}
}

// corpusTekton reads the Pipelines-as-Code corpus's runnable PipelineRuns for a push to main in default (none
// when ../shared is absent).
func corpusTekton(t *testing.T, root string) map[string]string {
	t.Helper()
	files, err := paccorpus.Files(paccorpus.Dir(root), paccorpus.Placeholders{Namespace: "default", Branch: "main", Event: "push"})
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("Pipelines-as-Code corpus not used: %v", err)
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}
