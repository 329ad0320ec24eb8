package runctl

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		err  string // substring naming the annotation; "" = valid
	}{
		{name: "none", in: nil},
		{name: "group", in: map[string]string{AnnotationGroup: "body.ref", AnnotationPolicy: "cancel-in-progress"}},
		{name: "bad cel", in: map[string]string{AnnotationGroup: "body.ref +"}, err: AnnotationGroup},
		{name: "not a string", in: map[string]string{AnnotationGroup: "1 + 2"}, err: "want string"},
		{name: "bad policy", in: map[string]string{AnnotationGroup: "body.ref", AnnotationPolicy: "cancel"}, err: AnnotationPolicy},
		{name: "policy without group", in: map[string]string{AnnotationPolicy: "queue"}, err: AnnotationGroup},
		{name: "bad bool", in: map[string]string{AnnotationCancelDefaultBranch: "yes"}, err: AnnotationCancelDefaultBranch},
		{name: "bad glob", in: map[string]string{AnnotationPaths: "src/[a"}, err: AnnotationPaths},
		{name: "bad skip-ci", in: map[string]string{AnnotationSkipCI: "never"}, err: AnnotationSkipCI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrAnnotation)):
				t.Fatalf("error %v, want one naming %q", err, tc.err)
			}
		})
	}
}

func TestKey(t *testing.T) {
	p, err := Parse(map[string]string{AnnotationGroup: "body.repository.full_name + '/' + body.ref + '/' + header['x-github-event'][0]"})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "o/r"}}
	h := http.Header{"X-Github-Event": {"push"}}
	got, err := p.Key(context.Background(), Event{Body: body, Header: h})
	if err != nil || got != "o/r/refs/heads/main/push" {
		t.Fatalf("key %q, %v", got, err)
	}
	if _, err := p.Key(context.Background(), Event{Body: map[string]any{}}); err == nil || !strings.Contains(err.Error(), AnnotationGroup) {
		t.Fatalf("missing field: %v", err)
	}
	empty, _ := Parse(map[string]string{AnnotationGroup: "''"})
	if _, err := empty.Key(context.Background(), Event{}); err == nil {
		t.Fatal("an empty key must be refused")
	}
	if a, b := GroupLabel("x"), GroupLabel("y"); a == b || len(a) != 40 {
		t.Fatalf("labels %q %q", a, b)
	}
}

func TestStamp(t *testing.T) {
	p, _ := Parse(map[string]string{AnnotationGroup: "body.ref", AnnotationPolicy: "cancel-in-progress"})
	_, ann := p.Stamp("k", true)
	if ann[AnnotationProtected] != "true" || ann[AnnotationRunPolicy] != "cancel-in-progress" || ann[AnnotationKey] != "k" {
		t.Fatalf("annotations %v", ann)
	}
	p.CancelDefaultBranch = true
	if _, ann := p.Stamp("k", true); ann[AnnotationProtected] != "" {
		t.Fatalf("cancel-default-branch: %v", ann)
	}
}

func TestFilterPaths(t *testing.T) {
	for _, tc := range []struct {
		paths, ignore string
		files         []string
		known, want   bool
	}{
		{files: []string{"a"}, known: true, want: true},
		{paths: "src/**", files: []string{"README.md", "src/x/y.go"}, known: true, want: true},
		{paths: "src/**", files: []string{"README.md"}, known: true, want: false},
		{ignore: "docs/**, **/*.md", files: []string{"docs/a.txt", "x/README.md"}, known: true, want: false},
		{ignore: "docs/**", files: []string{"docs/a.txt", "main.go"}, known: true, want: true},
		{paths: "src/**", ignore: "src/gen/**", files: []string{"src/gen/a.go"}, known: true, want: false},
		{paths: "src/**", known: false, want: true},
		{paths: "/go.mod", files: []string{"go.mod"}, known: true, want: true},
	} {
		p, err := Parse(map[string]string{AnnotationPaths: tc.paths, AnnotationPathsIgnore: tc.ignore})
		if err != nil {
			t.Fatal(err)
		}
		if got, why := p.FilterPaths(tc.files, tc.known); got != tc.want {
			t.Errorf("paths %q ignore %q files %v: run %v (%s), want %v", tc.paths, tc.ignore, tc.files, got, why, tc.want)
		}
	}
}

// corpus reads a real provider payload from ../shared/corpus.
func corpus(t *testing.T, rel string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", rel))
	if err != nil {
		t.Fatalf("the shared corpus is beside the repository: %v", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEventFacts(t *testing.T) {
	ghPush := corpus(t, "github/push/1.payload.json")
	glPush := corpus(t, "gitlab/push.json")
	files, known := ChangedFiles("github", "push", ghPush)
	if !known {
		t.Fatal("a GitHub push lists its files")
	}
	t.Logf("github push: %d files %v", len(files), files)
	if files, known := ChangedFiles("gitlab", "Push Hook", glPush); !known || len(files) == 0 {
		t.Fatalf("gitlab push files %v %v", files, known)
	}
	if _, known := ChangedFiles("bitbucket", "repo:push", corpus(t, "bitbucket/cloud-repo-push.json")); known {
		t.Fatal("a Bitbucket push lists no files")
	}
	if !Closed("github", "pull_request", corpus(t, "github/pull_request/closed.payload.json")) {
		t.Fatal("closed PR")
	}
	if Closed("github", "pull_request", corpus(t, "github/pull_request/opened.payload.json")) {
		t.Fatal("opened PR is not closed")
	}
	if Closed("gitlab", "Merge Request Hook", corpus(t, "gitlab/merge_request.json")) {
		t.Fatal("an opened MR is not closed")
	}
	if !Closed("bitbucket", "pr:merged", corpus(t, "bitbucket/server-pr-merged.json")) {
		t.Fatal("merged Bitbucket Server PR")
	}
	for _, tc := range []struct {
		provider, event string
		body            any
		marker          string
	}{
		{"github", "push", map[string]any{"head_commit": map[string]any{"message": "fix: x [skip ci]"}}, "[skip ci]"},
		{"github", "push", map[string]any{"head_commit": map[string]any{"message": "[CI SKIP] docs"}}, "[CI SKIP]"},
		{"github", "push", map[string]any{"head_commit": map[string]any{"message": "skip ci"}}, ""},
		{"github", "pull_request", map[string]any{"head_commit": map[string]any{"message": "[skip ci]"}}, ""},
		{"gitlab", "Push Hook", map[string]any{"checkout_sha": "b", "commits": []any{
			map[string]any{"id": "a", "message": "[skip ci]"}, map[string]any{"id": "b", "message": "real"}}}, ""},
		{"gitlab", "Push Hook", map[string]any{"checkout_sha": "a", "commits": []any{
			map[string]any{"id": "a", "message": "wip [no ci]"}, map[string]any{"id": "b", "message": "x"}}}, "[no ci]"},
		{"bitbucket", "repo:push", map[string]any{"push": map[string]any{"changes": []any{
			map[string]any{"new": map[string]any{"target": map[string]any{"message": "[skip ci]"}}}}}}, "[skip ci]"},
	} {
		m, ok := SkipCI(tc.provider, tc.event, tc.body)
		if m != tc.marker || ok != (tc.marker != "") {
			t.Errorf("%s %s: marker %q %v, want %q", tc.provider, tc.event, m, ok, tc.marker)
		}
	}
	def := map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"default_branch": "main"}}
	if !DefaultBranchPush("github", "push", def) || DefaultBranchPush("github", "push", map[string]any{"ref": "refs/heads/x", "repository": map[string]any{"default_branch": "main"}}) {
		t.Fatal("default branch push")
	}
	if !DefaultBranchPush("gitlab", "Push Hook", glPush) == (dig(glPush, "ref") == "refs/heads/"+dig(glPush, "project", "default_branch").(string)) {
		t.Fatal("gitlab default branch disagrees with the payload")
	}
}

// FuzzEventFacts: a stranger's payload never panics the inspection.
func FuzzEventFacts(f *testing.F) {
	f.Add(`{"commits":[{"added":["a"],"message":"[skip ci]"}],"head_commit":{"message":1}}`, "push")
	f.Add(`{"push":{"changes":[{"new":null}]}}`, "repo:push")
	f.Add(`{"object_attributes":{"action":"merge"}}`, "Merge Request Hook")
	f.Fuzz(func(t *testing.T, body, event string) {
		var v any
		if json.Unmarshal([]byte(body), &v) != nil {
			return
		}
		for _, p := range []string{"github", "gitlab", "bitbucket"} {
			ChangedFiles(p, event, v)
			SkipCI(p, event, v)
			Closed(p, event, v)
			DefaultBranchPush(p, event, v)
		}
	})
}
