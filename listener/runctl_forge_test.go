package listener_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/runctl"
)

// prFixture: one trigger per forge on pull/merge request events, with path filters; the GitHub and
// GitLab runs report their status to the fake forge (the credentials the changed files are read with),
// the Bitbucket trigger reads the diffstat anonymously from the fake's Bitbucket API.
func prFixture(ns string, fake *forgetest.Server) string {
	status := func(name, provider, api string) string {
		return fmt.Sprintf(`
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: %s}
spec:
  params: [{name: repo}, {name: sha}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata:
      generateName: build-
      annotations:
        hookrun.dev/status: %s
        hookrun.dev/status-secret: forge
        hookrun.dev/status-repo: $(tt.params.repo)
        hookrun.dev/status-sha: $(tt.params.sha)
        hookrun.dev/status-api: %s
    spec:
      pipelineRef: {name: build}
---`, name, provider, api)
	}
	return status("gh", "github", fake.GitHubAPI()) + status("gl", "gitlab", fake.GitLabAPI()) + fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: hooks}
stringData: {github: %[1]s, gitlab: %[2]s}
---
apiVersion: v1
kind: Secret
metadata: {name: forge}
stringData: {token: %[3]s}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: plain}
spec:
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: build-}
    spec:
      pipelineRef: {name: build}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: bb
  annotations:
    %[4]s: "src/**"
    %[5]s: "**/*.md"
    %[6]s: %[7]q
spec:
  interceptors:
  - bitbucket: {eventTypes: ["pullrequest:created"]}
  template: {ref: plain}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: hooks
  annotations:
    %[4]s: "src/**"
    %[5]s: "**/*.md"
spec:
  triggers:
  - name: gh
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}, eventTypes: [pull_request]}
    bindings:
    - {name: repo, value: $(body.repository.full_name)}
    - {name: sha, value: $(body.pull_request.head.sha)}
    template: {ref: gh}
  - name: gl
    interceptors:
    - gitlab: {secretRef: {secretName: hooks, secretKey: gitlab}, eventTypes: ["Merge Request Hook"]}
    bindings:
    - {name: repo, value: $(body.project.id)}
    - {name: sha, value: $(body.object_attributes.last_commit.id)}
    template: {ref: gl}
  - triggerRef: bb
`, ghSecret, glToken, fake.Token, runctl.AnnotationPaths, runctl.AnnotationPathsIgnore, runctl.AnnotationForgeAPI, fake.BitbucketAPI())
}

// prPayload is a corpus payload with its head SHA replaced (a new head is a new diff) and a marker field
// (another delivery of the same head).
func prPayload(t *testing.T, file, head, marker string, path ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	obj := m
	for _, p := range path[:len(path)-1] {
		obj = obj[p].(map[string]any)
	}
	obj[path[len(path)-1]] = head
	m["hookrun_test_delivery"] = marker
	out, _ := json.Marshal(m)
	return out
}

func (h *harness) trigger(t *testing.T, o listener.Outgoing, name string) listener.TriggerResult {
	t.Helper()
	code, resp, _ := h.send(t, o)
	for _, tr := range resp.Triggers {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no trigger %s in %d %+v", name, code, resp)
	return listener.TriggerResult{}
}

// TestPathFiltersPullRequestFiles: pull/merge request events of the corpus, whose payloads list no files,
// are filtered on the files the fake forge says they change: run or skip as the globs say, one file-list
// walk per head SHA, a skipped status on the commit when the run would have reported one, and a forge
// that fails leaves the filter unevaluated (the trigger runs and says so).
func TestPathFiltersPullRequestFiles(t *testing.T) {
	dir := corpus(t)
	fake := forgetest.NewServer("forge-api-token-xyz")
	t.Cleanup(fake.Close)
	ns := env.Namespace(t)
	apply(t, ns, prFixture(ns, fake))
	h := start(t, ns, nil)

	type forgeCase struct {
		trigger, repo, file string
		number              int
		head                []string // path of the head SHA in the payload
		out                 func(body []byte) listener.Outgoing
		statusState         string // what a skipped status is called on this forge ("": none reported)
	}
	forges := []forgeCase{
		{"gh", "Codertocat/Hello-World", "github/pull_request/opened.payload.json", 2, []string{"pull_request", "head", "sha"},
			func(b []byte) listener.Outgoing {
				return listener.Outgoing{Provider: "github", Event: "pull_request", Secret: ghSecret, Body: b}
			}, "success"},
		{"gl", "1", "gitlab/merge_request.json", 1, []string{"object_attributes", "last_commit", "id"},
			func(b []byte) listener.Outgoing {
				return listener.Outgoing{Provider: "gitlab", Event: "Merge Request Hook", Secret: glToken, Body: b}
			}, "skipped"},
		{"bb", "team_name/repo_name", "bitbucket/cloud-pull-request-created.json", 1, []string{"pullrequest", "source", "commit", "hash"},
			func(b []byte) listener.Outgoing {
				return listener.Outgoing{Provider: "bitbucket", Event: "pullrequest:created", Body: b}
			}, ""},
	}
	many := make([]string, 0, 251)
	for i := range 250 {
		many = append(many, fmt.Sprintf("docs/page%03d.md", i))
	}
	for _, f := range forges {
		t.Run(f.trigger, func(t *testing.T) {
			for i, tc := range []struct {
				name    string
				files   []string
				fault   int
				want    string
				calls   int // file-list pages asked for
				because string
			}{
				{"docs only: skipped", []string{"README.md", "docs/guide.md"}, 0, listener.StatusSkipped, 1, runctl.AnnotationPaths},
				{"markdown under src is ignored", []string{"src/NOTES.md"}, 0, listener.StatusSkipped, 1, runctl.AnnotationPaths},
				{"code changed: runs", []string{"docs/a.md", "src/main.go"}, 0, listener.StatusCreated, 1, ""},
				{"last of three pages matches", append(many, "src/x.go"), 0, listener.StatusCreated, pages(f.trigger, 251), ""},
				{"forge fails: runs unfiltered", []string{"docs/a.md"}, 503, listener.StatusCreated, 1, "path filter not evaluated"},
			} {
				head := fmt.Sprintf("%039d%d", i, len(f.trigger))
				fake.SetChangedFiles(f.repo, f.number, tc.files)
				fake.SetFilesFault(tc.fault)
				before := fake.FileListRequests()
				file := filepath.Join(dir, f.file)
				body := prPayload(t, file, head, "first", f.head...)
				r := h.trigger(t, f.out(body), f.trigger)
				if r.Status != tc.want || !strings.Contains(r.Reason, tc.because) {
					t.Fatalf("%s: %+v: want %s naming %q", tc.name, r, tc.want, tc.because)
				}
				if got := fake.FileListRequests() - before; got != tc.calls {
					t.Fatalf("%s: %d file-list requests, want %d", tc.name, got, tc.calls)
				}
				if tc.fault != 0 {
					continue
				}
				// Another event on the same head (a label, an edit): the files come from the cache.
				before = fake.FileListRequests()
				if r2 := h.trigger(t, f.out(prPayload(t, file, head, "second", f.head...)), f.trigger); r2.Status != tc.want {
					t.Fatalf("%s again: %+v", tc.name, r2)
				}
				if got := fake.FileListRequests() - before; got != 0 {
					t.Fatalf("%s again: %d file-list requests, want 0 (cached per head SHA)", tc.name, got)
				}
				checkSkippedStatus(t, fake, f.trigger, f.repo, head, f.statusState, tc.want == listener.StatusSkipped, r.Reason)
			}
			fake.SetFilesFault(0)
		})
	}
}

// pages is how many pages a forge's client asks for n files (GitHub and GitLab 100 a page, Bitbucket 500).
func pages(trigger string, n int) int {
	per := 100
	if trigger == "bb" {
		per = 500
	}
	return (n + per - 1) / per
}

func checkSkippedStatus(t *testing.T, fake *forgetest.Server, trigger, repo, head, state string, skipped bool, reason string) {
	t.Helper()
	provider := map[string]string{"gh": "github", "gl": "gitlab"}[trigger]
	if provider == "" {
		return
	}
	sts := fake.Statuses(provider, repo, head)
	if !skipped {
		if len(sts) != 0 {
			t.Fatalf("a run that was not skipped got listener statuses %+v", sts)
		}
		return
	}
	if len(sts) == 0 {
		t.Fatalf("no skipped status on %s", head)
	}
	for _, st := range sts { // GitHub takes the second event's status again, GitLab refuses a repeat
		if st.State != state || st.Context != "hookrun/build" || !strings.HasPrefix(st.Description, "skipped: ") {
			t.Fatalf("skipped status on %s: %+v, want %q named hookrun/build", head, sts, state)
		}
	}
	if !strings.Contains(reason, "skipped status \"hookrun/build\" reported to "+provider) {
		t.Fatalf("the answer does not say the skipped status was reported: %q", reason)
	}
}
