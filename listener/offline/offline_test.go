package offline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/listener/offline"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

// serve runs the real listener for namespace ns against the control plane and returns its URL.
func serve(t *testing.T, ns string) string {
	t.Helper()
	url, _ := env.ServeListener(t, ns, listener.Options{})
	return url
}

func loadDir(t *testing.T, dir string) []load.Object {
	t.Helper()
	paths, err := load.Paths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var objs []load.Object
	for _, p := range paths {
		o, probs := load.File(p)
		if len(probs) > 0 {
			t.Fatalf("%s: %v", p, probs)
		}
		objs = append(objs, o...)
	}
	return objs
}

// payload reads a corpus file, or falls back to a minimal body of our own when ../shared is absent.
func payload(t *testing.T, corpus, fallback string) []byte {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if corpus != "" {
		if data, err := os.ReadFile(filepath.Join(root, "..", "shared", "corpus", corpus)); err == nil {
			return data
		}
		t.Logf("corpus file %s absent: using a minimal payload", corpus)
	}
	return []byte(fallback)
}

// TestSameAsHooks: `hookrun test` (offline.Run) and the listener's POST /hooks against a real API server
// give the same answer code, the same outcome and reason per trigger, and the same resources (names,
// params) for the examples, real provider payloads and bad signatures.
func TestSameAsHooks(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	push := `{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"clone_url":"https://example.com/r.git"}}`
	for _, tc := range []struct {
		name, dir, provider, event, secret string
		body                               []byte
		want                               int
	}{
		{"github push to main fires", "examples/github-push", "github", "push", "", []byte(push), http.StatusAccepted},
		{"github corpus push (master) skipped", "examples/github-push", "github", "push", "", payload(t, "github/push/payload.json", strings.Replace(push, "main", "master", 1)), http.StatusAccepted},
		{"github wrong event skipped", "examples/github-push", "github", "pull_request", "", []byte(push), http.StatusAccepted},
		{"github forged signature refused", "examples/github-push", "github", "push", "not-the-secret", []byte(push), http.StatusUnauthorized},
		{"gitlab merge request fires", "examples/gitlab-mr", "gitlab", "merge_request", "", payload(t, "gitlab/merge_request.json", `{"object_kind":"merge_request","object_attributes":{"title":"t","source_branch":"b","last_commit":{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}}}`), http.StatusAccepted},
		{"gitlab push skipped by event type", "examples/gitlab-mr", "gitlab", "push", "", payload(t, "gitlab/push.json", push), http.StatusAccepted},
		{"gitlab payload missing a field", "examples/gitlab-mr", "gitlab", "merge_request", "", []byte(`{"object_kind":"merge_request"}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			objs := loadDir(t, filepath.Join(root, tc.dir))
			for _, o := range objs {
				u := &unstructured.Unstructured{}
				if err := u.UnmarshalJSON(o.JSON); err != nil {
					t.Fatal(err)
				}
				u.SetNamespace(ns)
				if err := env.Client.Create(context.Background(), u); err != nil {
					t.Fatal(err)
				}
			}
			out := listener.Outgoing{Provider: tc.provider, Event: tc.event, Secret: tc.secret, ID: "same-delivery", Body: tc.body}

			dry, err := offline.Run(context.Background(), env.Scheme, offline.Input{Objects: objs, Namespace: ns, Delivery: out})
			if err != nil {
				t.Fatal(err)
			}
			if tc.secret == "" {
				out.Secret = "generated-by-hookrun-dev" // what the example Secrets hold, and dry run signed with
			}
			url := serve(t, ns)
			elName := dry.EventListener
			req, err := out.Request(context.Background(), url+"/hooks/"+elName)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var live listener.Response
			if err := json.NewDecoder(resp.Body).Decode(&live); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want || dry.Code != tc.want {
				t.Errorf("answer: /hooks %d, hookrun test %d, want %d\n/hooks: %+v\ntest: %+v", resp.StatusCode, dry.Code, tc.want, live, dry.Response)
			}
			if len(live.Triggers) != len(dry.Response.Triggers) {
				t.Fatalf("triggers: /hooks %+v, hookrun test %+v", live.Triggers, dry.Response.Triggers)
			}
			for i, l := range live.Triggers {
				d := dry.Response.Triggers[i]
				if l.Name != d.Name || l.Status != d.Status || l.Reason != d.Reason || !reflect.DeepEqual(l.Resources, d.Resources) {
					t.Errorf("trigger %d:\n /hooks       %+v\n hookrun test %+v", i, l, d)
				}
				for _, r := range l.Resources {
					got := &unstructured.Unstructured{}
					got.SetAPIVersion(r.APIVersion)
					got.SetKind(r.Kind)
					if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, got); err != nil {
						t.Fatal(err)
					}
					var rendered *unstructured.Unstructured
					for _, tr := range dry.Traces {
						for _, o := range tr.Resources {
							if o.GetName() == r.Name {
								rendered = o
							}
						}
					}
					if rendered == nil {
						t.Fatalf("hookrun test rendered no %s %s", r.Kind, r.Name)
					}
					if !reflect.DeepEqual(got.Object["spec"], rendered.Object["spec"]) {
						t.Errorf("%s %s spec:\n /hooks created %v\n hookrun test   %v", r.Kind, r.Name, got.Object["spec"], rendered.Object["spec"])
					}
				}
			}
			if dry.ConfigError {
				t.Errorf("a payload problem reported as a configuration error")
			}
		})
	}
}

// TestInputErrors: what `hookrun test` refuses before running anything.
func TestInputErrors(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	both := append(loadDir(t, filepath.Join(root, "examples/github-push")), loadDir(t, filepath.Join(root, "examples/gitlab-mr"))...)
	for _, tc := range []struct {
		name string
		in   offline.Input
		want string
	}{
		{"two listeners, none chosen", offline.Input{Objects: both}, "2 EventListeners in the files (github-listener, gitlab-listener): choose one with --eventlistener"},
		{"no such listener", offline.Input{Objects: both, EventListener: "nope"}, `no EventListener "nope"`},
		{"bad --secret", offline.Input{Objects: both, EventListener: "github-listener", Secrets: []string{"default/github-secret=x"}}, "want NAMESPACE/NAME/KEY=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := offline.Run(context.Background(), env.Scheme, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// --secret overrides the file's value: the delivery is signed with it.
	res, err := offline.Run(context.Background(), env.Scheme, offline.Input{Objects: both, EventListener: "github-listener",
		Secrets:  []string{"default/github-secret/secretToken=s3cret"},
		Delivery: listener.Outgoing{Provider: "github", Event: "push", Body: []byte(`{"ref":"refs/heads/main","after":"a","repository":{"clone_url":"u"}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != http.StatusAccepted || res.Response.Triggers[0].Status != listener.StatusCreated {
		t.Errorf("with --secret: %d %+v", res.Code, res.Response)
	}
	if strings.Contains(res.Signing, "s3cret") {
		t.Errorf("the signing note shows the secret: %s", res.Signing)
	}
}
