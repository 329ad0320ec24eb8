package forge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

func TestCheckAnnotations(t *testing.T) {
	ok := map[string]string{
		forge.AnnotationStatus: "github", forge.AnnotationSecret: "tok", forge.AnnotationRepo: "o/r", forge.AnnotationSHA: sha,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range ok {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<del>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		ann  map[string]string
		want []string // "key: reason fragment"
	}{
		{"valid github", ok, nil},
		{"off when empty", map[string]string{forge.AnnotationStatus: ""}, nil},
		{"off when absent", map[string]string{"a": "b"}, nil},
		{"unknown provider", with(forge.AnnotationStatus, "bitbucket"), []string{"hookrun.dev/status: unknown provider"}},
		{"missing secret", with(forge.AnnotationSecret, "<del>"), []string{"hookrun.dev/status-secret: required"}},
		{"missing repo and sha", with(forge.AnnotationRepo, "<del>", forge.AnnotationSHA, ""),
			[]string{"hookrun.dev/status-repo: required", "hookrun.dev/status-sha: required"}},
		{"github repo shape", with(forge.AnnotationRepo, "just-a-name"), []string{"hookrun.dev/status-repo: \"just-a-name\": GitHub wants OWNER/REPO"}},
		{"gitlab nested path ok", with(forge.AnnotationStatus, "gitlab", forge.AnnotationRepo, "group/sub/project"), nil},
		{"sha not hex", with(forge.AnnotationSHA, "main"), []string{"hookrun.dev/status-sha: \"main\" is not a commit SHA"}},
		{"params not checked", with(forge.AnnotationStatus, "$(tt.params.status)", forge.AnnotationRepo, "$(tt.params.repo)",
			forge.AnnotationSHA, "$(tt.params.sha)", forge.AnnotationAPI, "$(tt.params.api)"), nil},
		{"param status still needs secret", with(forge.AnnotationStatus, "$(tt.params.status)", forge.AnnotationSecret, "<del>"),
			[]string{"hookrun.dev/status-secret: required"}},
		{"api not a URL", with(forge.AnnotationAPI, "ghe.example.com"), []string{"hookrun.dev/status-api: \"ghe.example.com\" is not an http(s) URL"}},
		{"misspelt key", with("hookrun.dev/status-commit", sha), []string{"hookrun.dev/status-commit: unknown annotation"}},
		{"secret name", with(forge.AnnotationSecret, "My_Token"), []string{"hookrun.dev/status-secret: \"My_Token\" is not a Secret name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := forge.CheckAnnotations(tc.ann)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %+v, want %d %q", len(got), got, len(tc.want), tc.want)
			}
			for i, p := range got {
				if s := p.Key + ": " + p.Reason; !strings.HasPrefix(s, tc.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, s, tc.want[i])
				}
			}
		})
	}
}

func TestParseTargetDefaults(t *testing.T) {
	tg, err := forge.ParseTarget(map[string]string{forge.AnnotationStatus: " GitLab ", forge.AnnotationSecret: "s",
		forge.AnnotationRepo: "42", forge.AnnotationSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Provider != forge.GitLab || tg.SecretKey != forge.DefaultSecretKey || tg.Repo != "42" {
		t.Fatalf("target = %+v", tg)
	}
	if _, err := forge.ParseTarget(map[string]string{forge.AnnotationStatus: "github"}); err == nil ||
		!strings.Contains(err.Error(), forge.AnnotationRepo) {
		t.Fatalf("err = %v, want the missing annotation named", err)
	}
}

func TestClassify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name      string
		code      int
		header    map[string]string
		permanent bool
		wait      time.Duration
	}{
		{"401", 401, nil, true, 0},
		{"404", 404, nil, true, 0},
		{"422", 422, nil, true, 0},
		{"403 forbidden", 403, nil, true, 0},
		{"403 rate limited", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000042"}, false, 42 * time.Second},
		{"429 retry-after seconds", 429, map[string]string{"Retry-After": "7"}, false, 7 * time.Second},
		{"429 gitlab reset", 429, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "1700000003"}, false, 3 * time.Second},
		{"503 date", 503, map[string]string{"Retry-After": now.Add(5 * time.Second).UTC().Format(http.TimeFormat)}, false, 5 * time.Second},
		{"500", 500, nil, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.code, Header: http.Header{}}
			for k, v := range tc.header {
				resp.Header.Set(k, v)
			}
			e := forge.Classify(forge.GitHub, resp, "x", now)
			if e.Permanent != tc.permanent || e.RetryAfter != tc.wait {
				t.Fatalf("permanent=%v wait=%v, want %v %v", e.Permanent, e.RetryAfter, tc.permanent, tc.wait)
			}
		})
	}
}

func TestGitHubBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "https://api.github.com/",
		"https://api.github.com":          "https://api.github.com/",
		"https://ghe.example.com":         "https://ghe.example.com/api/v3/",
		"https://ghe.example.com/api/v3":  "https://ghe.example.com/api/v3/",
		"http://127.0.0.1:8080/custom/v3": "http://127.0.0.1:8080/custom/v3/",
	} {
		u, err := github.BaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("BaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	if _, err := github.BaseURL("ftp://x"); err == nil {
		t.Error("ftp URL accepted")
	}
}

// clients builds one client per provider against srv with token.
func clients(t *testing.T, srv *forgetest.Server, token string) map[string]forge.Client {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	g, err := github.New(srv.GitHubAPI(), token, hc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := gitlab.New(srv.GitLabAPI(), token, hc)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]forge.Client{forge.GitHub: g, forge.GitLab: l}
}

func TestClientsAgainstFakeForge(t *testing.T) {
	srv := forgetest.NewServer("good-token")
	defer srv.Close()
	repos := map[string]string{forge.GitHub: "octo/hello", forge.GitLab: "group/sub/project"}
	for provider, c := range clients(t, srv, "good-token") {
		t.Run(provider, func(t *testing.T) {
			ctx := context.Background()
			st := forge.Status{Repo: repos[provider], SHA: sha, Ref: "main", Context: "hookrun/build",
				State: forge.StateRunning, Description: "run-1 running", TargetURL: "http://dash/runs/ns/PipelineRun/run-1"}
			if err := c.Post(ctx, st); err != nil {
				t.Fatal(err)
			}
			// A second identical post: GitLab refuses the self-transition, which the client takes as done.
			if err := c.Post(ctx, st); err != nil {
				t.Fatalf("repeat post: %v", err)
			}
			found, err := c.Find(ctx, st)
			if err != nil || !found {
				t.Fatalf("Find = %v, %v", found, err)
			}
			done := st
			done.State, done.Description = forge.StateFailure, "run-1 failed in 3s: task unit-test failed"
			if found, err := c.Find(ctx, done); err != nil || found {
				t.Fatalf("Find(not posted) = %v, %v", found, err)
			}
			if err := c.Post(ctx, done); err != nil {
				t.Fatal(err)
			}
			got := srv.Statuses(provider, repos[provider], sha)
			wantFinal := map[string]string{forge.GitHub: "failure", forge.GitLab: "failed"}[provider]
			if n := len(got); n < 2 || got[n-1].State != wantFinal || got[n-1].Context != "hookrun/build" ||
				got[n-1].TargetURL != st.TargetURL {
				t.Fatalf("statuses = %+v", got)
			}
			if provider == forge.GitLab && got[0].Ref != "main" {
				t.Errorf("ref = %q", got[0].Ref)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	srv := forgetest.NewServer("good-token")
	defer srv.Close()
	repos := map[string]string{forge.GitHub: "octo/hello", forge.GitLab: "7"}
	tests := []struct {
		name      string
		token     string
		fault     *forgetest.Fault
		permanent bool
		wait      time.Duration
		code      int
		msg       string
	}{
		{"wrong token", "bad-token", nil, true, 0, 401, "401"},
		{"down", "good-token", &forgetest.Fault{Drop: true}, false, 0, 0, "unreachable"},
		{"503 retry-after", "good-token", &forgetest.Fault{Code: 503, RetryAfter: "2"}, false, 2 * time.Second, 503, "503"},
		{"429", "good-token", &forgetest.Fault{Code: 429, RetryAfter: "1"}, false, time.Second, 429, "429"},
	}
	for _, tc := range tests {
		for provider, c := range clients(t, srv, tc.token) {
			t.Run(tc.name+"/"+provider, func(t *testing.T) {
				srv.SetFault(tc.fault)
				defer srv.SetFault(nil)
				err := c.Post(context.Background(), forge.Status{Repo: repos[provider], SHA: sha, Context: "c", State: forge.StateSuccess, Description: "d"})
				var fe *forge.Error
				if err == nil || !asError(err, &fe) {
					t.Fatalf("err = %v (%T), want *forge.Error", err, err)
				}
				if fe.Permanent != tc.permanent || fe.StatusCode != tc.code || fe.RetryAfter != tc.wait {
					t.Fatalf("error %+v, want permanent=%v code=%d wait=%v", fe, tc.permanent, tc.code, tc.wait)
				}
				if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), tc.token) {
					t.Fatalf("message %q: want %q in it and no token", err.Error(), tc.msg)
				}
			})
		}
	}
}

func asError(err error, target **forge.Error) bool {
	fe, ok := err.(*forge.Error)
	*target = fe
	return ok
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", 100) // 200 bytes
	got := forge.Truncate(s, forge.MaxDescription)
	if len(got) > forge.MaxDescription || !strings.HasSuffix(got, "…") {
		t.Fatalf("Truncate: %d bytes %q", len(got), got)
	}
	if forge.Truncate("short", 10) != "short" {
		t.Fatal("short string changed")
	}
}

func TestProviderStateAndDefaultContext(t *testing.T) {
	for _, tc := range []struct {
		provider string
		state    forge.State
		want     string
	}{
		{forge.GitHub, forge.StateRunning, "pending"},
		{forge.GitHub, forge.StateCancelled, "error"},
		{forge.GitHub, forge.StateSkipped, "success"}, // commit statuses have no neutral/skipped state
		{forge.GitLab, forge.StateSkipped, "skipped"},
		{forge.GitLab, forge.StateError, "failed"},
		{"bitbucket", forge.StateSkipped, ""},
	} {
		if got := forge.ProviderState(tc.provider, tc.state); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.provider, tc.state, got, tc.want)
		}
	}
	if !forge.StateSkipped.Final() {
		t.Error("skipped is not final")
	}
	for _, tc := range []struct {
		t        forge.Target
		pipeline string
		want     string
	}{
		{forge.Target{}, "build", "hookrun/build"},
		{forge.Target{Context: "ci/test"}, "build", "ci/test"},
		{forge.Target{}, "", "hookrun"},
	} {
		if got := forge.DefaultContext(tc.t, tc.pipeline); got != tc.want {
			t.Errorf("DefaultContext(%+v, %q) = %q, want %q", tc.t, tc.pipeline, got, tc.want)
		}
	}
}
