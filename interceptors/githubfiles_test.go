package interceptors

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeGitHubAPI answers GET /api/v3/repos/OWNER/REPO/pulls/N/files in two pages (a.go, b.go; then
// docs/c.md) and records the Authorization header of each call.
type fakeGitHubAPI struct {
	*httptest.Server
	mu    sync.Mutex
	auth  []string
	paths []string
}

func newFakeGitHubAPI(t *testing.T) *fakeGitHubAPI {
	t.Helper()
	f := &fakeGitHubAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.paths = append(f.paths, r.URL.Path)
		f.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/api/v3/repos/") || !strings.HasSuffix(r.URL.Path, "/files") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page") == "2" {
			fmt.Fprint(w, `[{"filename":"docs/c.md"}]`)
			return
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=2&per_page=100>; rel="next"`, f.URL, r.URL.Path))
		fmt.Fprint(w, `[{"filename":"a.go"},{"filename":"b.go"}]`)
	}))
	t.Cleanup(f.Close)
	return f
}

func TestGitHubPullRequestChangedFiles(t *testing.T) {
	api := newFakeGitHubAPI(t)
	sg := newSecrets("ci/gh-token/token", "tok-123")
	withToken := mustBuild(t, "github", params(t, "addChangedFiles",
		map[string]any{"enabled": true, "personalAccessToken": map[string]string{"secretName": "gh-token", "secretKey": "token"}}),
		sg, Options{GitHubAPIURL: api.URL})
	anonymous := mustBuild(t, "github", params(t, "addChangedFiles", map[string]any{"enabled": true}), nil, Options{GitHubAPIURL: api.URL})
	pr := map[string]any{"number": 7.0, "repository": map[string]any{"full_name": "octo/repo", "html_url": "https://github.com/octo/repo"}}
	req := func(body any, kv ...string) *Request {
		return &Request{Body: []byte("{}"), Decoded: body, Header: header(append([]string{"X-GitHub-Event", "pull_request"}, kv...)...), Namespace: "ci"}
	}
	cases := []struct {
		name string
		ic   Interceptor
		req  *Request
		code Code
		msg  string
		auth string
	}{
		{"token, two pages", withToken, req(pr), OK, "", "Bearer tok-123"},
		{"anonymous", anonymous, req(pr), OK, "", ""},
		{"no number", anonymous, req(map[string]any{"repository": map[string]any{"full_name": "octo/repo"}}), InvalidArgument, "'number'", ""},
		{"no full_name", anonymous, req(map[string]any{"number": 1.0}), InvalidArgument, "full_name", ""},
		{"enterprise host not the payload's", Interceptor(mustBuild(t, "github", params(t, "addChangedFiles", map[string]any{"enabled": true}), nil, Options{})),
			req(pr, enterpriseHostHeader, "evil.example"), InvalidArgument, "not the host of the payload's repository.html_url", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api.mu.Lock()
			api.auth, api.paths = nil, nil
			api.mu.Unlock()
			got := c.ic.Process(context.Background(), c.req)
			expect(t, got, c.code, c.msg, "tok-123")
			if c.code != OK {
				return
			}
			if got.Extensions["changed_files"] != "a.go,b.go,docs/c.md" {
				t.Errorf("changed_files = %v", got.Extensions["changed_files"])
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.auth) != 2 || api.auth[0] != c.auth || api.paths[0] != "/api/v3/repos/octo/repo/pulls/7/files" {
				t.Errorf("API calls: auth %q paths %q", api.auth, api.paths)
			}
		})
	}
	// The API failing fails the trigger with the pull request named (never the token).
	down := mustBuild(t, "github", params(t, "addChangedFiles",
		map[string]any{"enabled": true, "personalAccessToken": map[string]string{"secretName": "gh-token", "secretKey": "token"}}),
		sg, Options{GitHubAPIURL: "http://127.0.0.1:1"})
	expect(t, down.Process(context.Background(), req(pr)), Internal, "octo/repo#7", "tok-123")
	// A personalAccessToken without its key is refused when the trigger is loaded.
	if _, err := Build("github", params(t, "addChangedFiles", map[string]any{"enabled": true, "personalAccessToken": map[string]string{"secretName": "x"}}), sg, Options{}); err == nil {
		t.Error("personalAccessToken without secretKey accepted")
	}
}
