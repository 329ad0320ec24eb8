package match

import (
	"context"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	for in, want := range map[string]string{
		"[push, pull_request]":          "push|pull_request",
		"push":                          "push",
		"[ branch&#44;with&#44;comma ]": "branch,with,comma",
		"[]":                            "",
		`["main", 'dev']`:               "main|dev",
	} {
		if got := strings.Join(List(in), "|"); got != want {
			t.Errorf("List(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	push := Event{Type: Push, TargetBranch: "main", SourceBranch: "main", Files: Files{All: []string{"docs/a.md", "src/b.go"}}, FilesKnown: true,
		Headers: map[string]string{"x-github-event": "push"}, Body: map[string]any{"ref": "refs/heads/main"}}
	pr := Event{Type: PullRequest, TargetBranch: "release-1.2", SourceBranch: "feature", Title: "WIP: x"}
	tag := Event{Type: Push, TargetBranch: "refs/tags/v1.0"}
	for _, tc := range []struct {
		name string
		ann  map[string]string
		ev   Event
		want bool
		why  string
	}{
		{"event and branch", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]"}, push, true, ""},
		{"refs/heads prefix", map[string]string{OnEvent: "[push]", OnTargetBranch: "[refs/heads/main]"}, push, true, ""},
		{"glob", map[string]string{OnEvent: "[pull_request]", OnTargetBranch: "[release-*]"}, pr, true, ""},
		{"tag glob", map[string]string{OnEvent: "[push]", OnTargetBranch: "[refs/tags/*]"}, tag, true, ""},
		{"other event", map[string]string{OnEvent: "[pull_request]", OnTargetBranch: "[main]"}, push, false, "does not list push"},
		{"other branch", map[string]string{OnEvent: "[push]", OnTargetBranch: "[dev, stable]"}, push, false, "does not match main"},
		{"no branch", map[string]string{OnEvent: "[push]"}, push, false, "no " + OnEvent},
		{"nothing", map[string]string{}, push, false, "no " + OnEvent},
		{"paths match", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", OnPathChanged: "[src/**]"}, push, true, ""},
		{"paths miss", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", OnPathChanged: "[pkg/**]"}, push, false, "no changed file"},
		{"all ignored", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", OnPathChangedIgnore: "[docs/**, src/*.go]"}, push, false, "no changed file"},
		{"some not ignored", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", OnPathChangedIgnore: "[docs/**]"}, push, true, ""},
		{"files unknown", map[string]string{OnEvent: "[pull_request]", OnTargetBranch: "[release-*]", OnPathChanged: "[pkg/**]"}, pr, true, ""},
		{"cel wins over event", map[string]string{OnEvent: "[pull_request]", OnCELExpression: `event == "push" && target_branch == "main"`}, push, true, ""},
		{"cel false", map[string]string{OnCELExpression: `event_title.startsWith("WIP")`}, push, false, "is false"},
		{"cel title", map[string]string{OnCELExpression: `event_title.startsWith("WIP") && source_branch == "feature"`}, pr, true, ""},
		{"cel pathChanged", map[string]string{OnCELExpression: `"src/***".pathChanged() && !"pkg/*".pathChanged()`}, push, true, ""},
		{"cel files and headers", map[string]string{OnCELExpression: `files.all.exists(f, f.endsWith(".md")) && headers["x-github-event"] == "push"`}, push, true, ""},
		{"cel body", map[string]string{OnCELExpression: `body.ref == "refs/heads/main"`}, push, true, ""},
		{"on-comment alone", map[string]string{OnComment: "^/hello"}, push, false, "runs on a pull request comment"},
		{"on-label", map[string]string{OnLabel: "[bug]"}, push, false, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compile(tc.ann)
			if err != nil {
				t.Fatal(err)
			}
			got, why, err := r.Match(context.Background(), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("Match = %v %q, want %v %q", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want []string // prefixes, in order
	}{
		{"ok", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]"}, nil},
		{"ok cel", map[string]string{OnCELExpression: `event == "push"`}, nil},
		{"bad event", map[string]string{OnEvent: "[pushed]", OnTargetBranch: "[main]"}, []string{OnEvent + `: "pushed" is not one of`}},
		{"cel syntax", map[string]string{OnCELExpression: `event ==`}, []string{OnCELExpression + ":"}},
		{"cel type", map[string]string{OnCELExpression: `event`}, []string{OnCELExpression + ": the expression gives string"}},
		{"cel param", map[string]string{OnCELExpression: `branch == "main"`}, nil}, // a Repository param, maybe: Undeclared
		{"cel param misused", map[string]string{OnCELExpression: `branch == 1`}, nil},
		{"bad glob", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", OnPathChanged: "[src/[a]"}, []string{OnPathChanged + `: "src/[a" is not a valid glob`}},
		{"branch without event", map[string]string{OnTargetBranch: "[main]"}, []string{OnEvent + ": required with " + OnTargetBranch}},
		{"remote task", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", RemoteTask + "-1": "git-clone"}, []string{RemoteTask + "-1: remote tasks"}},
		{"on-comment regexp", map[string]string{OnComment: "^/hello("}, []string{OnComment + ": error parsing regexp"}},
		{"misspelt", map[string]string{OnEvent: "[push]", OnTargetBranch: "[main]", Prefix + "on-path-change-ignore": "[a]"}, []string{Prefix + "on-path-change-ignore: unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.ann)
			if len(got) != len(tc.want) {
				t.Fatalf("Check = %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParamsInCEL(t *testing.T) {
	ann := map[string]string{OnCELExpression: `event == "push" && enable_ci == "true" && environment != ""`}
	if got := Undeclared(ann); strings.Join(got, ",") != "enable_ci,environment" {
		t.Errorf("Undeclared = %q", got)
	}
	r, err := Compile(ann)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params map[string]string
		want   bool
		err    string
	}{
		{map[string]string{"enable_ci": "true", "environment": "prod"}, true, ""},
		{map[string]string{"enable_ci": "false", "environment": "prod"}, false, ""},
		{map[string]string{"enable_ci": "true"}, false, "environment is neither"},
	} {
		got, _, err := r.Match(context.Background(), Event{Type: Push, Params: tc.params})
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("params %v: %v %v, want %v %q", tc.params, got, err, tc.want, tc.err)
		}
	}
}

func TestCommentMatches(t *testing.T) {
	ann := map[string]string{OnComment: "^/deploy (staging|prod)$"}
	for comment, want := range map[string]bool{"/deploy prod": true, "please\n/deploy staging\nthanks": true,
		"/deploy dev": false, "> /deploy prod x": false, "": false} {
		if got := CommentMatches(ann, comment); got != want {
			t.Errorf("CommentMatches(%q) = %v", comment, got)
		}
	}
	if CommentMatches(map[string]string{}, "/deploy prod") {
		t.Error("no on-comment matched")
	}
}
