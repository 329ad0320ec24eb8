package listener_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/pac"
)

const (
	pacHook  = "pac-webhook-secret"
	pacToken = "pac-forge-token"
	shaA     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB     = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	shaFork  = "cccccccccccccccccccccccccccccccccccccccc"
)

// pacRun is a `.tekton/` PipelineRun printing word, on push and pull_request to main, with a
// Pipeline defined in another file (inlined by pac).
func pacRun(word string) map[string]string {
	return map[string]string{
		".tekton/push.yaml": `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: ci
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push, pull_request]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
    pipelinesascode.tekton.dev/cancel-in-progress: "true"
spec:
  params:
  - {name: word, value: "` + word + `"}
  - {name: rev, value: "{{ revision }}"}
  - {name: who, value: "{{sender}}/{{ repo_owner }}/{{repo_name}}/{{ source_branch }}->{{target_branch}}#{{ pull_request_number }}"}
  pipelineRef:
    name: echo
`,
		".tekton/pipeline.yaml": `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: echo
spec:
  params: [{name: word}, {name: rev}, {name: who}]
  tasks:
  - name: say
    params: [{name: word, value: $(params.word)}]
    taskRef: {name: say}
`,
		".tekton/task.yaml": `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: say
spec:
  params: [{name: word}]
  steps:
  - name: echo
    image: busybox
    script: echo $(params.word)
`,
		".tekton/hello.yaml": `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: hello
  annotations:
    pipelinesascode.tekton.dev/on-comment: "^/hello"
spec:
  params: [{name: said, value: "{{ trigger_comment }}"}]
  pipelineSpec:
    params: [{name: said}]
    tasks:
    - name: t
      taskSpec:
        steps: [{name: s, image: busybox, script: "true"}]
`,
		".tekton/docs-only.yaml": `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: docs
  annotations:
    pipelinesascode.tekton.dev/on-cel-expression: event == "push" && "docs/**".pathChanged()
spec:
  pipelineSpec:
    tasks:
    - name: t
      taskSpec:
        steps: [{name: s, image: busybox, script: "true"}]
`,
	}
}

func pacFixture(provider, url, api string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: pac-secrets}
stringData: {token: %s, webhook: %s, api: key-from-secret, deploy: token-from-secret}
---
apiVersion: pipelinesascode.tekton.dev/v1alpha1
kind: Repository
metadata: {name: app}
spec:
  url: %s
  git_provider:
    type: %s
    url: %s
    secret: {name: pac-secrets, key: token}
    webhook_secret: {name: pac-secrets, key: webhook}
  params:
  - {name: extra, value: "x"}
  - {name: enable_ci, value: "true"}
  - {name: environment, value: staging, filter: 'event == "pull_request"'}
  - {name: environment, value: never-used}
  - {name: api_key, secret_ref: {name: pac-secrets, key: api}}
  - {name: deploy_token, secret_ref: {name: pac-secrets, key: deploy}}
`, pacToken, pacHook, url, provider, api)
}

func (h *harness) sendPAC(t *testing.T, o listener.Outgoing) (int, listener.Response) {
	t.Helper()
	req, err := o.Request(context.Background(), h.url+listener.PACPath)
	if err != nil {
		t.Fatal(err)
	}
	code, resp, _ := do(t, req)
	return code, resp
}

func ghPush(url, sha, ref string, files ...string) []byte {
	fs, _ := json.Marshal(files)
	return fmt.Appendf(nil, `{"ref":%q,"before":"%s","after":%q,"head_commit":{"id":%q,"message":"change"},
"commits":[{"id":%q,"added":[],"removed":[],"modified":%s}],
"repository":{"full_name":"o/r","name":"r","html_url":%q,"default_branch":"main","owner":{"login":"o"}},"sender":{"login":"alice"}}`,
		ref, shaA, sha, sha, sha, fs, url)
}

func ghPR(url, sha, author, headRepo string, number int) []byte {
	return fmt.Appendf(nil, `{"action":"opened","number":%d,"pull_request":{"number":%d,"title":"t","user":{"login":%q},
"head":{"sha":%q,"ref":"feature","repo":{"full_name":%q,"html_url":"https://github.example/%s"}},
"base":{"ref":"main","repo":{"full_name":"o/r","html_url":%q}}},
"repository":{"full_name":"o/r","name":"r","html_url":%q,"default_branch":"main","owner":{"login":"o"}},"sender":{"login":%q}}`,
		number, number, author, sha, headRepo, headRepo, url, url, author)
}

func ghComment(url, who, text string, number, id int) []byte {
	return fmt.Appendf(nil, `{"action":"created","issue":{"number":%d,"title":"t","pull_request":{"url":"x"}},
"comment":{"id":%d,"body":%q,"user":{"login":%q}},
"repository":{"full_name":"o/r","name":"r","html_url":%q,"default_branch":"main","owner":{"login":"o"}},"sender":{"login":%q}}`,
		number, id, text, who, url, who)
}

func pacRunsOf(t *testing.T, ns string) map[string]pipelinev1.PipelineRun {
	t.Helper()
	out := map[string]pipelinev1.PipelineRun{}
	for _, pr := range pipelineRuns(t, ns) {
		out[pr.Name] = pr
	}
	return out
}

func pacCreated(t *testing.T, code int, resp listener.Response, name string) listener.Resource {
	t.Helper()
	for _, tr := range resp.Triggers {
		if tr.Name == "app/"+name && tr.Status == listener.StatusCreated && len(tr.Resources) == 1 {
			return tr.Resources[0]
		}
	}
	t.Fatalf("%d %+v: want app/%s created", code, resp, name)
	return listener.Resource{}
}

func getPR(t *testing.T, ns, name string) *pipelinev1.PipelineRun {
	t.Helper()
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pr); err != nil {
		t.Fatal(err)
	}
	return &pr
}

// TestPACGitHub: a push runs the pushed commit's `.tekton/`; a fork PR waits for /ok-to-test, then runs
// the base branch's definitions; a stranger's comment gets a reply and runs nothing; /retest re-creates a
// failed run; /cancel cancels.
func TestPACGitHub(t *testing.T) {
	ns := env.Namespace(t)
	srv := forgetest.NewServer(pacToken)
	defer srv.Close()
	url := "https://github.example/o/r"
	apply(t, ns, pacFixture("github", url, srv.GitHubAPI()))
	srv.SetFiles("o/r", shaA, pacRun("one"))
	srv.SetFiles("o/r", shaB, pacRun("two"))
	srv.SetFiles("o/r", "main", pacRun("two"))
	srv.SetFiles("o/r", shaFork, pacRun("evil"))
	srv.SetPermission("o/r", "alice", "write")
	srv.SetPermission("o/r", "mallory", "read")
	h := start(t, ns, nil)
	send := func(event string, body []byte) (int, listener.Response) {
		return h.sendPAC(t, listener.Outgoing{Provider: "github", Event: event, Secret: pacHook, Body: body})
	}

	// A push of the second commit runs the second commit's pipeline, inlined, variables substituted.
	code, resp := send("push", ghPush(url, shaB, "refs/heads/main", "src/a.go"))
	res := pacCreated(t, code, resp, "ci")
	pr := getPR(t, ns, res.Name)
	if got := params(pr); got["word"] != "two" || got["rev"] != shaB || got["who"] != "alice/o/r/main->main#" {
		t.Errorf("params = %v", got)
	}
	if pr.Spec.PipelineSpec == nil || len(pr.Spec.PipelineSpec.Tasks) != 1 || pr.Spec.PipelineSpec.Tasks[0].TaskSpec == nil {
		t.Fatalf("pipeline and task not inlined: %+v", pr.Spec)
	}
	for k, want := range map[string]string{pac.LabelRepository: "app", pac.LabelSHA: shaB, pac.LabelEventType: "push", pac.LabelOriginalName: "ci"} {
		if pr.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, pr.Labels[k], want)
		}
	}
	if pr.Annotations["hookrun.dev/status"] != "github" || pr.Annotations["hookrun.dev/status-sha"] != shaB || pr.Labels["hookrun.dev/concurrency-group"] == "" {
		t.Errorf("status/concurrency annotations missing: %v %v", pr.Annotations, pr.Labels)
	}
	for _, tr := range resp.Triggers {
		if tr.Name == "app/docs" && tr.Status != listener.StatusSkipped {
			t.Errorf("docs run: %+v, want skipped (no docs/ change)", tr)
		}
	}
	// The same delivery again: the same run, nothing new.
	code, resp = send("push", ghPush(url, shaB, "refs/heads/main", "src/a.go"))
	if again := pacCreated(t, code, resp, "ci"); again.Name != res.Name {
		t.Errorf("redelivery made %s, want %s", again.Name, res.Name)
	}
	// A wrong secret is refused.
	if code, _ := h.sendPAC(t, listener.Outgoing{Provider: "github", Event: "push", Secret: "nope", Body: ghPush(url, shaB, "refs/heads/main")}); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}

	// A fork PR by someone without write access waits for /ok-to-test.
	srv.SetPullRequest("o/r", forgetest.PullRequest{Number: 7, Title: "t", HeadSHA: shaFork, HeadRef: "feature", BaseRef: "main", Author: "mallory", HeadRepo: "mallory/r"})
	before := len(pipelineRuns(t, ns))
	code, resp = send("pull_request", ghPR(url, shaFork, "mallory", "mallory/r", 7))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped || !strings.Contains(resp.Triggers[0].Reason, "/ok-to-test") {
		t.Fatalf("fork PR: %d %+v", code, resp)
	}
	if st := srv.Statuses("github", "o/r", shaFork); len(st) != 1 || st[0].State != "pending" || !strings.Contains(st[0].Description, "/ok-to-test") {
		t.Errorf("pending status = %+v", st)
	}
	// A stranger's /ok-to-test: a reply, nothing runs.
	code, resp = send("issue_comment", ghComment(url, "eve", "/ok-to-test", 7, 1))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped || len(pipelineRuns(t, ns)) != before {
		t.Fatalf("stranger's comment: %d %+v", code, resp)
	}
	if cs := srv.Comments(); len(cs) != 1 || cs[0].Number != 7 || !strings.Contains(cs[0].Body, "@eve is not allowed") {
		t.Errorf("reply = %+v", cs)
	}
	// A collaborator's /ok-to-test runs the base branch's definitions at the PR's head.
	code, resp = send("issue_comment", ghComment(url, "alice", "LGTM\n/ok-to-test", 7, 2))
	pr = getPR(t, ns, pacCreated(t, code, resp, "ci").Name)
	if got := params(pr); got["word"] != "two" || got["rev"] != shaFork || pr.Labels[pac.LabelPullRequest] != "7" {
		t.Errorf("ok-to-test run params = %v labels %v (want base branch's definitions at the fork's head)", got, pr.Labels)
	}

	// /retest re-creates the failed run; with none failed it runs nothing.
	code, resp = send("issue_comment", ghComment(url, "alice", "/retest", 7, 3))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped {
		t.Fatalf("retest with nothing failed: %d %+v", code, resp)
	}
	pr.Status.SetCondition(pipelinev1.Condition{Type: pipelinev1.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: "Failed"})
	if err := env.Client.Status().Update(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	code, resp = send("issue_comment", ghComment(url, "alice", "/retest", 7, 4))
	retried := pacCreated(t, code, resp, "ci")
	if retried.Name == pr.Name {
		t.Errorf("retest reused %s", pr.Name)
	}
	// /cancel cancels the PR's unfinished runs.
	code, resp = send("issue_comment", ghComment(url, "alice", "/cancel ci", 7, 5))
	if len(resp.Triggers) != 1 || len(resp.Triggers[0].Cancelled) != 1 || resp.Triggers[0].Cancelled[0] != ns+"/"+retried.Name {
		t.Fatalf("cancel: %d %+v", code, resp)
	}
	if got := getPR(t, ns, retried.Name).Spec.Status; got != pipelinev1.PipelineRunSpecStatusCancelled {
		t.Errorf("spec.status = %q", got)
	}
	// A comment matching a PipelineRun's on-comment runs it, for collaborators; a stranger's runs nothing.
	code, resp = send("issue_comment", ghComment(url, "alice", "/hello world", 7, 8))
	if hello := getPR(t, ns, pacCreated(t, code, resp, "hello").Name); params(hello)["said"] != "/hello world" || len(resp.Triggers) != 1 {
		t.Errorf("on-comment run: %v %+v", params(hello), resp)
	}
	replies := len(srv.Comments())
	code, resp = send("issue_comment", ghComment(url, "eve", "/hello", 7, 9))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped || len(srv.Comments()) != replies {
		t.Errorf("stranger's on-comment: %d %+v (no run, no reply)", code, resp)
	}
	// Someone without write access but listed in the base branch's OWNERS may run commands.
	code, resp = send("issue_comment", ghComment(url, "bob", "/test ci", 7, 6))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped {
		t.Fatalf("bob before OWNERS: %d %+v", code, resp)
	}
	srv.SetFiles("o/r", "main", map[string]string{"OWNERS": "approvers:\n- Bob\n"})
	code, resp = send("issue_comment", ghComment(url, "bob", "/test ci", 7, 7))
	bobs := pacCreated(t, code, resp, "ci").Name

	// Closing the pull request cancels its unfinished cancel-in-progress runs.
	code, resp = send("pull_request", bytes.Replace(ghPR(url, shaFork, "mallory", "mallory/r", 7), []byte(`"opened"`), []byte(`"closed"`), 1))
	if len(resp.Triggers) != 1 || !slices.Contains(resp.Triggers[0].Cancelled, ns+"/"+bobs) {
		t.Fatalf("close: %d %+v, want %s cancelled", code, resp, bobs)
	}

	// A fork PR whose author has write access runs its own head's definitions.
	code, resp = send("pull_request", ghPR(url, shaFork, "alice", "alice/r", 8))
	if got := params(getPR(t, ns, pacCreated(t, code, resp, "ci").Name)); got["word"] != "evil" {
		t.Errorf("collaborator's fork PR ran %v, want its own definitions", got)
	}
}

func glBody(kind, url string, extra string) []byte {
	return fmt.Appendf(nil, `{"object_kind":%q,"project":{"id":1,"name":"p","web_url":%q,"path_with_namespace":"g/p","default_branch":"main"},
"user":{"id":7,"username":"dev"},%s}`, kind, url, extra)
}

// TestPACGitLab: a push and a merge request run the commit's `.tekton/`; a note by a non-member is
// answered and runs nothing; a developer's /test NAME runs that PipelineRun.
func TestPACGitLab(t *testing.T) {
	ns := env.Namespace(t)
	srv := forgetest.NewServer(pacToken)
	defer srv.Close()
	url := "https://gitlab.example/g/p"
	apply(t, ns, pacFixture("gitlab", url, srv.GitLabAPI()))
	srv.SetFiles("g/p", shaA, pacRun("one"))
	srv.SetFiles("g/p", shaB, pacRun("two"))
	srv.SetAccessLevel("g/p", "7", 30)
	h := start(t, ns, nil)
	send := func(event string, body []byte) (int, listener.Response) {
		return h.sendPAC(t, listener.Outgoing{Provider: "gitlab", Event: event, Secret: pacHook, Body: body})
	}
	code, resp := send("push", glBody("push", url, fmt.Sprintf(`"ref":"refs/heads/main","after":%q,"checkout_sha":%q,"user_username":"dev","user_id":7,
"commits":[{"modified":["docs/x.md"]}]`, shaA, shaA)))
	if pr := getPR(t, ns, pacCreated(t, code, resp, "ci").Name); params(pr)["word"] != "one" {
		t.Errorf("push params = %v", params(pr))
	}
	pacCreated(t, code, resp, "docs") // docs/** changed: the CEL pathChanged() run too
	mr := fmt.Sprintf(`"object_attributes":{"iid":3,"title":"t","action":"open","source_branch":"f","target_branch":"main",
"source_project_id":1,"target_project_id":1,"author_id":7,"last_commit":{"id":%q}}`, shaB)
	code, resp = send("merge_request", glBody("merge_request", url, mr))
	if pr := getPR(t, ns, pacCreated(t, code, resp, "ci").Name); params(pr)["word"] != "two" || pr.Labels[pac.LabelPullRequest] != "3" {
		t.Errorf("MR run = %v %v", params(pr), pr.Labels)
	}
	note := func(user int, text string) []byte {
		return fmt.Appendf(nil, `{"object_kind":"note","project":{"id":1,"name":"p","web_url":%q,"path_with_namespace":"g/p","default_branch":"main"},
"user":{"id":%d,"username":"u%d"},"object_attributes":{"note":%q,"noteable_type":"MergeRequest"},
"merge_request":{"iid":3,"title":"t","source_branch":"f","target_branch":"main","source_project_id":1,"target_project_id":1,"author_id":7,"last_commit":{"id":%q}}}`,
			url, user, user, text, shaB)
	}
	before := len(pipelineRuns(t, ns))
	code, resp = send("note", note(99, "/test ci"))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped || len(pipelineRuns(t, ns)) != before {
		t.Fatalf("non-member note: %d %+v", code, resp)
	}
	if cs := srv.Comments(); len(cs) != 1 || cs[0].Repo != "g/p" || cs[0].Number != 3 || !strings.Contains(cs[0].Body, "not allowed") {
		t.Errorf("reply = %+v", cs)
	}
	code, resp = send("note", note(7, "/test docs"))
	pacCreated(t, code, resp, "docs")
	if len(resp.Triggers) != 1 {
		t.Errorf("/test docs ran more than docs: %+v", resp)
	}
	// A merge request from a fork by a non-member waits for /ok-to-test with a pending status.
	fork := fmt.Sprintf(`"object_attributes":{"iid":4,"title":"t","action":"open","source_branch":"f","target_branch":"main",
"source_project_id":2,"target_project_id":1,"author_id":99,"last_commit":{"id":%q}}`, shaFork)
	code, resp = send("merge_request", glBody("merge_request", url, fork))
	if len(resp.Triggers) != 1 || resp.Triggers[0].Status != listener.StatusSkipped || !strings.Contains(resp.Triggers[0].Reason, "/ok-to-test") {
		t.Fatalf("fork MR: %d %+v", code, resp)
	}
	if st := srv.Statuses("gitlab", "g/p", shaFork); len(st) != 1 || st[0].State != "pending" || st[0].Context != pac.OKToTestContext {
		t.Errorf("pending status = %+v", st)
	}
}

// corpusPAC reads Pipelines-as-Code's own test PipelineRuns (../shared/corpus/pac) with the placeholders
// of its harness filled as the corpus README says.
func corpusPAC(t *testing.T, ns, event, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus(t), "pac", file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(`\\ .TargetNamespace //`, ns, `\\ .TargetBranch //`, "main", `\\ .TargetEvent //`, event,
		`\\ .PipelineName //`, strings.TrimSuffix(strings.ReplaceAll(file, "_", "-"), ".yaml"),
		`\\ .RemoteTaskURL //`, "https://example.com/task.yaml").Replace(string(data))
}

// TestPACCorpus runs real `.tekton/` PipelineRuns of Pipelines-as-Code's end-to-end tests through
// selection and creation: each is created, skipped (does not match) or refused (needs the network).
func TestPACCorpus(t *testing.T) {
	ns := env.Namespace(t)
	srv := forgetest.NewServer(pacToken)
	defer srv.Close()
	url := "https://github.example/o/r"
	apply(t, ns, pacFixture("github", url, srv.GitHubAPI()))
	srv.SetPermission("o/r", "alice", "write")
	h := start(t, ns, nil)
	for i, tc := range []struct {
		files   []string
		event   string // push or pull_request
		branch  string
		changed []string
		name    string // the PipelineRun's name in .tekton/
		want    string // created, skipped, failed
		reason  string
		check   func(t *testing.T, pr *pipelinev1.PipelineRun)
	}{
		{files: []string{"always-good-pipelinerun.yaml"}, event: "push", name: "always-good-pipelinerun", want: listener.StatusCreated},
		{files: []string{"pipelinerun-on-push.yaml"}, event: "push", name: "pipelinerun-on-push", want: listener.StatusCreated},
		{files: []string{"pipelinerun-cancel-in-progress.yaml"}, event: "pull_request", name: "pipelinerun-cancel-in-progress", want: listener.StatusCreated,
			check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				if pr.Annotations["hookrun.dev/concurrency-policy"] != "cancel-in-progress" || pr.Labels["hookrun.dev/concurrency-group"] == "" {
					t.Errorf("not in a cancel-in-progress group: %v %v", pr.Labels, pr.Annotations)
				}
			}},
		{files: []string{"pipelinerun_with_tekton_params.yaml", "pipeline_with_tekton_params.yaml"}, event: "push",
			name: "piplinerun-with-tekton-params", want: listener.StatusCreated,
			check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				ps := pr.Spec.PipelineSpec
				if ps == nil || len(ps.Params) != 1 || ps.Params[0].Default == nil || ps.Params[0].Default.StringVal != "r" {
					t.Errorf("Pipeline not inlined with {{ repo_name }} substituted: %+v", ps)
				}
			}},
		{files: []string{"pipelinerun-cel-path-changed.yaml"}, event: "push", changed: []string{".tekton/x.yaml"},
			name: "pipelinerun-cel-path-changed", want: listener.StatusCreated},
		{files: []string{"pipelinerun-cel-path-changed.yaml"}, event: "push", changed: []string{"src/x.go"},
			name: "pipelinerun-cel-path-changed", want: listener.StatusSkipped, reason: "on-cel-expression is false"},
		{files: []string{"pipelinerun-target-branch-with-comma.yaml"}, event: "push", branch: "branch,with,comma",
			name: "pipelinerun-target-branch-with-comma", want: listener.StatusCreated},
		{files: []string{"pipelinerun-match-push-pullr.yaml"}, event: "pull_request", name: "pipelinerun-match-push-pullr", want: listener.StatusCreated,
			check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				if s := pr.Spec.PipelineSpec.Tasks[0].TaskSpec.Steps[0].Script; !strings.Contains(s, "echo pull_request") {
					t.Errorf("{{ event_type }} not substituted: %q", s)
				}
			}},
		{files: []string{"pipelinerun-pr-cel-expression.yaml"}, event: "pull_request", name: "pipelinerun-pr-cel-expression", want: listener.StatusCreated},
		{files: []string{"pipelinerun-changed-files-push.yaml"}, event: "push", changed: []string{"modified.txt"},
			name: "pipelinerun-changed-files-push", want: listener.StatusCreated,
			check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				if s := pr.Spec.PipelineSpec.Tasks[0].TaskSpec.Steps[0].Script; !strings.Contains(s, `files.all: ["modified.txt"]`) {
					t.Errorf("{{ files.all }} not substituted: %q", s)
				}
			}},
		// Its misspelt on-path-change-ignore is ignored at run time, as Pipelines-as-Code does (validate names it).
		{files: []string{"pipelinerun-on-path-change-ignore.yaml"}, event: "push", changed: []string{"doc/foo/a.md"},
			name: "pipelinerun-on-path-change-ignore", want: listener.StatusCreated},
		{files: []string{"pipelinerun_git_clone_private.yaml"}, event: "push", name: "git-clone-private", want: listener.StatusFailed, reason: "remote task"},
		// The same run with its git-clone Task kept in .tekton/ instead of fetched from the hub: created, with the
		// {{ git_auth_secret }} Secret it mounts, owned by the run.
		{files: []string{"pipelinerun_git_clone_private.yaml", "git-clone-task.yaml"}, event: "push", name: "git-clone-private", want: listener.StatusCreated,
			check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				name := pr.Spec.Workspaces[1].Secret.SecretName
				var sec corev1.Secret
				if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &sec); err != nil {
					t.Fatalf("git auth secret %q: %v", name, err)
				}
				if !strings.Contains(string(sec.Data[".git-credentials"]), "https://git:"+pacToken+"@github.example") ||
					len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pr.UID {
					t.Errorf("secret = %v owners %+v", sec.Data, sec.OwnerReferences)
				}
				if ps := pr.Spec.PipelineSpec; ps.Tasks[0].TaskSpec == nil {
					t.Errorf("git-clone Task not inlined")
				}
			}},
		// Repository params are CEL variables and {{ vars }}: a value, the first whose filter holds, a Secret's key.
		{files: []string{"pipelinerun-cel-custom-params-pullrequest.yaml"}, event: "pull_request", name: "pipelinerun-cel-custom-params-pullrequest",
			want: listener.StatusCreated, check: func(t *testing.T, pr *pipelinev1.PipelineRun) {
				if s := pr.Spec.PipelineSpec.Tasks[0].TaskSpec.Steps[0].Script; !strings.Contains(s, "enable_ci=true environment=staging") {
					t.Errorf("params not substituted: %q", s)
				}
			}},
		{files: []string{"pipelinerun-cel-secret-params.yaml"}, event: "pull_request", name: "pipelinerun-cel-secret-params", want: listener.StatusCreated},
		{files: []string{"pipelinerun-cel-secret-params.yaml"}, event: "push", name: "pipelinerun-cel-secret-params", want: listener.StatusSkipped},
		{files: []string{"pipelinerun-nomatch.yaml"}, event: "push", name: "no-match", want: listener.StatusSkipped, reason: "does not list push"},
		{files: []string{"pipelinerun-hub-task-not-found.yaml"}, event: "push", name: "pipelinerun-hub-task-not-found",
			want: listener.StatusFailed, reason: "remote task"},
		{files: []string{"pipelinerun1_remote_task_annotations.yaml"}, event: "push", name: "piplinerun1-remote-annotations",
			want: listener.StatusFailed, reason: "remote task"},
	} {
		t.Run(tc.files[0]+"/"+tc.event, func(t *testing.T) {
			sha := fmt.Sprintf("%040x", 0xc0ffee00+i)
			files := map[string]string{}
			for _, f := range tc.files {
				if f == "git-clone-task.yaml" {
					files[".tekton/"+f] = gitCloneTask
					files[".tekton/pipelinerun_git_clone_private.yaml"] = strings.Replace(files[".tekton/pipelinerun_git_clone_private.yaml"],
						`pipelinesascode.tekton.dev/task: "[git-clone]"`, "", 1)
					continue
				}
				files[".tekton/"+f] = corpusPAC(t, ns, tc.event, f)
			}
			srv.SetFiles("o/r", sha, files)
			branch := tc.branch
			if branch == "" {
				branch = "main"
			}
			var body []byte
			if tc.event == "push" {
				body = ghPush(url, sha, "refs/heads/"+branch, tc.changed...)
			} else {
				body = ghPR(url, sha, "alice", "o/r", 100+i)
			}
			code, resp := h.sendPAC(t, listener.Outgoing{Provider: "github", Event: tc.event, Secret: pacHook, Body: body})
			var got *listener.TriggerResult
			for j := range resp.Triggers {
				if resp.Triggers[j].Name == "app/"+tc.name {
					got = &resp.Triggers[j]
				}
			}
			if got == nil || got.Status != tc.want || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("%d %+v: want app/%s %s (%q)", code, resp, tc.name, tc.want, tc.reason)
			}
			if tc.want == listener.StatusCreated && tc.check != nil {
				tc.check(t, getPR(t, ns, got.Resources[0].Name))
			}
		})
	}
}

// gitCloneTask stands in for the catalog's git-clone Task (kept in .tekton/).
const gitCloneTask = `apiVersion: tekton.dev/v1
kind: Task
metadata: {name: git-clone}
spec:
  params: [{name: url}, {name: revision}]
  workspaces: [{name: output}, {name: basic-auth, optional: true}]
  steps:
  - name: clone
    image: alpine/git
    script: git clone $(params.url) $(workspaces.output.path) && git -C $(workspaces.output.path) checkout $(params.revision)
`
