package pac

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hookrun/hookrun/forge"
)

func TestParseCommands(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Command
	}{
		{"/retest", []Command{{Name: CmdRetest}}},
		{"  /RETEST  ", []Command{{Name: CmdRetest}}},
		{"LGTM\n/ok-to-test\nthanks", []Command{{Name: CmdOKToTest}}},
		{"/ok-to-test please", []Command{{Name: CmdOKToTest}}},
		{"/test unit-tests\n/test e2e\n/test unit-tests", []Command{{Name: CmdTest, Arg: "unit-tests"}, {Name: CmdTest, Arg: "e2e"}}},
		{"/cancel\r\n/cancel build", []Command{{Name: CmdCancel}, {Name: CmdCancel, Arg: "build"}}},
		{"> /retest\nplease /retest\n/retesting\n/lgtm", nil},
		{"/test ../../etc", []Command{{Name: CmdTest}}},
	} {
		if got := ParseCommands(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCommands(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{"/retest", "/test a\n/cancel b", "/ok-to-test\n> /retest", strings.Repeat("/test x\n", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmds := ParseCommands(s)
		if len(cmds) > maxCommands {
			t.Fatalf("%d commands", len(cmds))
		}
		for _, c := range cmds {
			if c.Arg != "" && labelValue(c.Arg) != c.Arg {
				t.Fatalf("arg %q is not a name", c.Arg)
			}
			switch c.Name {
			case CmdRetest, CmdTest, CmdCancel, CmdOKToTest:
			default:
				t.Fatalf("command %q", c.Name)
			}
		}
	})
}

func TestSplitDocs(t *testing.T) {
	files := []forge.File{
		{Path: ".tekton/a.yaml", Content: []byte("# comment\n---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: a}\n---\n---\nkind: Task\nmetadata: {name: t}\n")},
		{Path: ".tekton/values.yaml", Content: []byte("just: values\n")},
		{Path: ".tekton/README.md", Content: []byte("kind: Task\n")},
		{Path: ".tekton/b.yml", Content: []byte("kind: Pipeline\nmetadata: {generateName: p-}\n")},
	}
	docs, err := SplitDocs(files)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.File+"#"+d.Kind+"/"+d.Name)
	}
	want := []string{".tekton/a.yaml#PipelineRun/a", ".tekton/a.yaml#Task/t", ".tekton/b.yml#Pipeline/p-"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docs = %q, want %q", got, want)
	}
	if _, err := SplitDocs([]forge.File{{Path: ".tekton/bad.yaml", Content: []byte("kind: [\n")}}); err == nil || !strings.Contains(err.Error(), ".tekton/bad.yaml: document 1") {
		t.Errorf("bad YAML: %v", err)
	}
}

func FuzzSplitDocs(f *testing.F) {
	f.Add([]byte("kind: PipelineRun\nmetadata: {name: a}\n---\nkind: Task\n"))
	f.Add([]byte("---\n---\n- a\n- b\n"))
	f.Add([]byte("kind: {a: b}\nmetadata: 3\n"))
	f.Add([]byte("kind: Task\nmetadata: {name: \"{{ revision }}\"}\nspec: {x: {{revision}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = SubstituteDocs([]forge.File{{Path: "x.yaml", Content: data}}, func(s string) string {
			return Substitute(s, map[string]string{"revision": "a\"b\n c: {d"}, nil, nil)
		})
		docs, _ := SplitDocs([]forge.File{{Path: "x.yaml", Content: data}})
		for _, d := range docs {
			if d.Kind == "" || d.Obj == nil {
				t.Fatalf("doc without kind: %+v", d)
			}
			_ = Inline(deepCopy(d.Obj), docs)
		}
	})
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"revision": "abc", "repo_name": "r", "pull_request_number": ""}
	body := map[string]any{"commits": []any{map[string]any{"id": "c1"}}, "n": 3.0, "obj": map[string]any{"a": "b"}}
	for in, want := range map[string]string{
		"{{revision}} {{ revision }} {{  repo_name}}": "abc abc r",
		"#{{ pull_request_number }}":                  "#",
		"{{ unknown }} $(params.x) {{":                "{{ unknown }} $(params.x) {{",
		"{{ body.commits[0].id }} {{body.n}}":         "c1 3",
		"{{ body.obj }} {{ body.nope }}":              `{"a":"b"} {{ body.nope }}`,
		"{{ body.commits[5].id }}":                    "{{ body.commits[5].id }}",
		"{{ headers.X-GitHub-Event }}":                "push",
	} {
		if got := Substitute(in, vars, body, map[string]string{"x-github-event": "push"}); got != want {
			t.Errorf("Substitute(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInline(t *testing.T) {
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	docs := []Doc{
		{Kind: "Pipeline", Name: "p", Obj: parse("kind: Pipeline\nspec: {tasks: [{name: a, taskRef: {name: t}}, {name: b, taskRef: {name: cluster-task}}, {name: c, taskRef: {resolver: git}}], finally: [{name: f, taskRef: {name: t, kind: Task}}]}")},
		{Kind: "Task", Name: "t", Obj: parse("kind: Task\nspec: {steps: [{name: s, image: x}]}")},
	}
	run := parse("kind: PipelineRun\nspec: {pipelineRef: {name: p}}")
	if err := Inline(run, docs); err != nil {
		t.Fatal(err)
	}
	got, _ := yaml.Marshal(run["spec"])
	want := `pipelineSpec:
  finally:
  - name: f
    taskSpec:
      steps:
      - image: x
        name: s
  tasks:
  - name: a
    taskSpec:
      steps:
      - image: x
        name: s
  - name: b
    taskRef:
      name: cluster-task
  - name: c
    taskRef:
      resolver: git
`
	if string(got) != want {
		t.Errorf("inlined:\n%s\nwant:\n%s", got, want)
	}
	// The Pipeline document itself is untouched (each run gets its own copy).
	if tasks := docs[0].Obj["spec"].(map[string]any)["tasks"].([]any); tasks[0].(map[string]any)["taskRef"] == nil {
		t.Error("Inline changed the Pipeline document")
	}
}

func TestParseOwnersAndURL(t *testing.T) {
	if got := ParseOwners([]byte("approvers:\n- Alice\n- bob\nreviewers: [carol]\noptions: {no_parent_owners: true}\n")); !reflect.DeepEqual(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("owners = %q", got)
	}
	if got := ParseOwners([]byte("approvers: [")); got != nil {
		t.Errorf("bad OWNERS = %q", got)
	}
	for _, pair := range [][2]string{{"https://GitHub.com/o/r.git", "https://github.com/o/r/"}, {"http://user:pw@gitlab.example/g/sub/p", "https://gitlab.example/g/sub/p"}} {
		if NormalizeURL(pair[0]) != NormalizeURL(pair[1]) {
			t.Errorf("%q and %q differ: %q %q", pair[0], pair[1], NormalizeURL(pair[0]), NormalizeURL(pair[1]))
		}
	}
}

// TestParseEventCorpus reads the providers' real payloads (../shared/corpus).
func TestParseEventCorpus(t *testing.T) {
	dir, _ := filepath.Abs("../../shared/corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not found at %s (CI has ../shared beside the checkout)", dir)
	}
	for _, tc := range []struct {
		provider, event, file string
		kind, target, sha     string
		number                int
	}{
		{"github", "push", "github/push/with-new-branch.payload.json", KindPush, "master", "", 0},
		{"github", "pull_request", "github/pull_request/opened.payload.json", KindPullRequest, "", "", 0},
		{"gitlab", "Push Hook", "gitlab/push.json", KindPush, "master", "", 0},
		{"gitlab", "Merge Request Hook", "gitlab/merge_request.json", KindPullRequest, "master", "", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			if tc.provider == "github" {
				h.Set("X-GitHub-Event", tc.event)
			} else {
				h.Set("X-Gitlab-Event", tc.event)
			}
			ev, err := ParseEvent(tc.provider, h, body)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != tc.kind || ev.RepoURL == "" || ev.Repo == "" || len(ev.SHA) != 40 || ev.TargetBranch == "" || ev.Sender == "" {
				t.Errorf("event = %+v", ev)
			}
			if tc.target != "" && ev.TargetBranch != tc.target {
				t.Errorf("target = %q, want %q", ev.TargetBranch, tc.target)
			}
			if tc.kind == KindPullRequest && ev.Number == 0 {
				t.Errorf("no number: %+v", ev)
			}
		})
	}
	h := http.Header{"X-Github-Event": {"push"}}
	body, _ := os.ReadFile(filepath.Join(dir, "github/push/payload.json"))
	if ev, err := ParseEvent("github", h, body); err != nil || !ev.Deleted || ev.TargetBranch != "refs/tags/simple-tag" {
		t.Errorf("tag deletion: %+v %v", ev, err)
	}
	h = http.Header{"X-Github-Event": {"pull_request"}}
	body, _ = os.ReadFile(filepath.Join(dir, "github/pull_request/closed.payload.json"))
	if ev, err := ParseEvent("github", h, body); err != nil || ev.Kind != KindClosed || ev.Number == 0 {
		t.Errorf("closed PR: %+v %v", ev, err)
	}
}

func TestParseEventCases(t *testing.T) {
	repo := `"repository":{"full_name":"o/r","name":"r","html_url":"https://github.com/o/r","owner":{"login":"o"}},"sender":{"login":"s"}`
	pr := func(head string) string {
		return `{"action":"synchronize","pull_request":{"number":1,"user":{"login":"a"},"head":{"sha":"` + strings.Repeat("a", 40) +
			`","ref":"f","repo":` + head + `},"base":{"ref":"main","repo":{"full_name":"o/r"}}},` + repo + `}`
	}
	mr := func(action, oldrev string) string {
		return `{"object_kind":"merge_request","project":{"web_url":"https://gitlab.com/g/p","path_with_namespace":"g/p"},"user":{"id":3,"username":"u"},
"object_attributes":{"iid":2,"action":"` + action + `","oldrev":"` + oldrev + `","source_project_id":1,"target_project_id":1,"last_commit":{"id":"x"}}}`
	}
	for _, tc := range []struct {
		name, provider, event, body string
		kind                        string // "" = ignored
		fork                        bool
	}{
		{"same repo", "github", "pull_request", pr(`{"full_name":"o/r"}`), KindPullRequest, false},
		{"fork", "github", "pull_request", pr(`{"full_name":"m/r"}`), KindPullRequest, true},
		{"deleted fork", "github", "pull_request", pr(`null`), KindPullRequest, true},
		{"issue comment", "github", "issue_comment", `{"action":"created","issue":{"number":1},"comment":{"body":"/retest","user":{"login":"x"}},` + repo + `}`, "", false},
		{"pr comment", "github", "issue_comment", `{"action":"created","issue":{"number":1,"pull_request":{}},"comment":{"body":"/retest","user":{"login":"x"}},` + repo + `}`, KindComment, false},
		{"edited comment", "github", "issue_comment", `{"action":"edited","issue":{"number":1,"pull_request":{}},"comment":{"body":"/retest","user":{"login":"x"}},` + repo + `}`, "", false},
		{"ping", "github", "ping", `{"zen":"x"}`, "", false},
		{"mr update with commits", "gitlab", "Merge Request Hook", mr("update", "abc"), KindPullRequest, false},
		{"mr update without commits", "gitlab", "Merge Request Hook", mr("update", ""), "", false},
		{"mr merged", "gitlab", "Merge Request Hook", mr("merge", ""), KindClosed, false},
		{"mr approved", "gitlab", "Merge Request Hook", mr("approved", ""), "", false},
		{"issue note", "gitlab", "Note Hook", `{"object_attributes":{"note":"/retest","noteable_type":"Issue"}}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Github-Event": {tc.event}, "X-Gitlab-Event": {tc.event}}
			ev, err := ParseEvent(tc.provider, h, []byte(tc.body))
			var ign *ErrIgnored
			if tc.kind == "" {
				if !errors.As(err, &ign) {
					t.Fatalf("want ignored, got %+v %v", ev, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != tc.kind || ev.Fork != tc.fork {
				t.Errorf("kind %s fork %v, want %s %v", ev.Kind, ev.Fork, tc.kind, tc.fork)
			}
		})
	}
}

// TestSubstituteDocs: variables in string values are substituted after parsing (an event's value cannot
// change the YAML's structure); a file with unquoted variables is substituted as text first.
func TestSubstituteDocs(t *testing.T) {
	evil := "x\"\n    injected: true"
	sub := func(s string) string {
		return Substitute(s, map[string]string{"source_branch": evil, "revision": "abc"}, nil, nil)
	}
	docs, err := SubstituteDocs([]forge.File{
		{Path: "a.yaml", Content: []byte("kind: PipelineRun\nmetadata: {name: \"ci-{{ revision }}\"}\nspec:\n  params:\n  - {name: b, value: \"{{ source_branch }}\"}\n")},
		{Path: "b.yaml", Content: []byte("kind: PipelineRun\nmetadata: {name: unquoted}\nspec:\n  params:\n  - {name: r, value: {{ revision }}}\n")},
	}, sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Name != "ci-abc" || docs[1].Name != "unquoted" {
		t.Fatalf("docs = %+v", docs)
	}
	p := docs[0].Obj["spec"].(map[string]any)["params"].([]any)[0].(map[string]any)
	if p["value"] != evil || len(p) != 2 {
		t.Errorf("param = %#v, want the branch name as its value", p)
	}
	if v := docs[1].Obj["spec"].(map[string]any)["params"].([]any)[0].(map[string]any)["value"]; v != "abc" {
		t.Errorf("unquoted value = %#v", v)
	}
}
