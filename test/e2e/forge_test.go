package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
)

// TestDevForgeStatus: under `hookrun dev`, the github-push example with its status param turned on (and
// the API pointed at a fake GitHub on 127.0.0.1) sets pending, then success, on the pushed commit.
func TestDevForgeStatus(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git is not installed: the github-push example clones a local repository (%v)", err)
	}
	root, bin := buildHookrun(t)
	tmp := filepath.Dir(bin)
	const token = "e2e-forge-token"
	srv := forgetest.NewServer(token)
	defer srv.Close()
	state := filepath.Join(tmp, "state")
	d := startDev(t, root, bin, state)
	ctx := context.Background()

	// What a user does to turn statuses on: the token Secret, and the template's status param set to github
	// (here also the API URL, pointing at the fake forge).
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github-status-token", Namespace: "default"},
		StringData: map[string]string{"token": token}}
	if err := d.client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	var tt triggersv1beta1.TriggerTemplate
	if err := d.client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "github-push"}, &tt); err != nil {
		t.Fatal(err)
	}
	for i := range tt.Spec.Params {
		if tt.Spec.Params[i].Name == "status" {
			v := forge.GitHub
			tt.Spec.Params[i].Default = &v
		}
	}
	var rt map[string]any
	if err := json.Unmarshal(tt.Spec.ResourceTemplates[0].Raw, &rt); err != nil {
		t.Fatal(err)
	}
	ann := rt["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[forge.AnnotationStatus] != "$(tt.params.status)" {
		t.Fatalf("the example's annotations changed: %v", ann)
	}
	ann[forge.AnnotationAPI] = srv.GitHubAPI()
	raw, _ := json.Marshal(rt)
	tt.Spec.ResourceTemplates[0].Raw = raw
	if err := d.client.Update(ctx, &tt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the listener's informer sees the new template

	body, err := os.ReadFile(filepath.Join(state, "push.json"))
	if err != nil {
		t.Fatal(err)
	}
	var push struct {
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &push); err != nil {
		t.Fatal(err)
	}
	secrets := devSecrets(t, state)
	r := d.send(t, "/hooks", listener.Outgoing{Provider: "github", Event: "push", Secret: secrets["default/github-secret/secretToken"], Body: body})
	run := r.Triggers[0].Resources[0].Name
	pr := d.waitRun(t, run)
	if c := pr.Status.GetCondition("Succeeded"); c.Status != corev1.ConditionTrue {
		t.Fatalf("run %s: %+v", run, c)
	}
	var got []forgetest.Request
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = srv.Statuses(forge.GitHub, push.Repository.FullName, push.After)
		if len(got) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	var states []string
	for _, g := range got {
		states = append(states, g.State)
		if g.Context != "hookrun/github-push" || !strings.HasPrefix(g.Description, run+" ") {
			t.Errorf("status %+v: want context hookrun/github-push and the run named", g)
		}
		// The link goes to the run's page on the dashboard hookrun dev serves (its address is printed).
		if !strings.HasSuffix(g.TargetURL, "/runs/default/pipelineruns/"+run) || !strings.Contains(d.out.String(), strings.TrimSuffix(g.TargetURL, "/runs/default/pipelineruns/"+run)) {
			t.Errorf("status target_url %q: want the dashboard's page of %s", g.TargetURL, run)
		}
	}
	if s := strings.Join(states, ","); s != "pending,success" {
		t.Fatalf("statuses on %s@%s: %q, want pending,success; requests %+v\n%s", push.Repository.FullName, push.After, s, srv.Requests(), d.out)
	}
	// The reporter records a state on the run just after the forge answered it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := d.client.Get(ctx, client.ObjectKeyFromObject(pr), pr); err != nil {
			t.Fatal(err)
		}
		if v := pr.Annotations[forge.AnnotationReported]; v == "running,success" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want running,success", forge.AnnotationReported, v)
		}
	}
}
