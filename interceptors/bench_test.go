package interceptors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// pushPayload generates a realistic GitHub push payload of about 7 KB.
func pushPayload() []byte {
	user := func(name string) map[string]any {
		return map[string]any{"name": name, "email": strings.ToLower(name) + "@example.com", "username": strings.ToLower(name)}
	}
	repoOwner := map[string]any{
		"name": "hookrun", "email": nil, "login": "hookrun", "id": 21031067, "node_id": "MDQ6VXNlcjIxMDMxMDY3",
		"avatar_url": "https://avatars.githubusercontent.com/u/21031067?v=4", "gravatar_id": "",
		"url": "https://api.github.com/users/hookrun", "html_url": "https://github.com/hookrun",
		"type": "Organization", "site_admin": false,
	}
	var commits []any
	for i := range 6 {
		id := fmt.Sprintf("%040x", 0x6113728f27ae82c7+i)
		commits = append(commits, map[string]any{
			"id": id, "tree_id": fmt.Sprintf("%040x", 0xfeed+i), "distinct": true,
			"message":   fmt.Sprintf("listener: handle redeliveries (#%d)\n\nSigned-off-by: Dev %d <dev@example.com>", 100+i, i),
			"timestamp": "2025-06-01T12:34:56+02:00",
			"url":       "https://github.com/hookrun/hookrun/commit/" + id,
			"author":    user("Alice"), "committer": user("GitHub"),
			"added":    []any{fmt.Sprintf("listener/redelivery_%d.go", i)},
			"removed":  []any{},
			"modified": []any{"listener/listener.go", "go.mod", fmt.Sprintf("docs/notes-%d.md", i)},
		})
	}
	payload := map[string]any{
		"ref": "refs/heads/main", "before": fmt.Sprintf("%040x", 0xabc), "after": fmt.Sprintf("%040x", 0x6113728f27ae82c9),
		"created": false, "deleted": false, "forced": false, "base_ref": nil,
		"compare": "https://github.com/hookrun/hookrun/compare/0000000000ab...6113728f27ae",
		"commits": commits, "head_commit": commits[len(commits)-1],
		"repository": map[string]any{
			"id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "hookrun", "full_name": "hookrun/hookrun",
			"private": false, "owner": repoOwner, "html_url": "https://github.com/hookrun/hookrun",
			"description": "Tekton-Triggers-compatible webhook listener", "fork": false,
			"url": "https://github.com/hookrun/hookrun", "created_at": 1557933565, "updated_at": "2025-06-01T10:00:00Z",
			"pushed_at": 1748773000, "git_url": "git://github.com/hookrun/hookrun.git",
			"ssh_url": "git@github.com:hookrun/hookrun.git", "clone_url": "https://github.com/hookrun/hookrun.git",
			"svn_url": "https://github.com/hookrun/hookrun", "homepage": nil, "size": 1234, "stargazers_count": 42,
			"watchers_count": 42, "language": "Go", "has_issues": true, "has_projects": true, "has_downloads": true,
			"has_wiki": true, "has_pages": false, "forks_count": 3, "mirror_url": nil, "archived": false,
			"disabled": false, "open_issues_count": 7, "license": nil, "forks": 3, "open_issues": 7, "watchers": 42,
			"default_branch": "main", "stargazers": 42, "master_branch": "main", "organization": "hookrun",
			"topics": []any{"tekton", "webhooks", "ci"}, "visibility": "public",
		},
		"pusher": map[string]any{"name": "alice", "email": "alice@example.com"},
		"organization": map[string]any{
			"login": "hookrun", "id": 21031067, "node_id": "MDEyOk9yZ2FuaXphdGlvbjIxMDMxMDY3",
			"url": "https://api.github.com/orgs/hookrun", "repos_url": "https://api.github.com/orgs/hookrun/repos",
			"events_url": "https://api.github.com/orgs/hookrun/events", "hooks_url": "https://api.github.com/orgs/hookrun/hooks",
			"avatar_url": "https://avatars.githubusercontent.com/u/21031067?v=4", "description": "",
		},
		"sender": repoOwner,
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return b
}

func TestPushPayloadSize(t *testing.T) {
	n := len(pushPayload())
	t.Logf("generated push payload: %d bytes", n)
	if n < 6000 || n > 8500 {
		t.Fatalf("generated push payload is %d bytes, want about 7 KB", n)
	}
}

func BenchmarkGitHubVerify(b *testing.B) {
	body := pushPayload()
	const secret = "benchmark-webhook-secret"
	ic := mustBuild(b, "github", params(b, "secretRef", secretRefParam("gh", "token"), "eventTypes", []string{"push", "pull_request"}),
		newSecrets("ns/gh/token", secret), Options{})
	req := &Request{Body: body, Header: http.Header{
		"X-Github-Event":      {"push"},
		"X-Hub-Signature-256": {sha256Sig(secret, body)},
		"Content-Type":        {"application/json"},
	}, Namespace: "ns"}
	ctx := context.Background()
	if r := ic.Process(ctx, req); r.Code != OK {
		b.Fatal(r.Message)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := ic.Process(ctx, req); r.Code != OK {
			b.Fatal(r.Message)
		}
	}
}

func BenchmarkCELFilterOverlay(b *testing.B) {
	body := pushPayload()
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		b.Fatal(err)
	}
	ic := mustBuild(b, "cel", params(b,
		"filter", "header.match('X-GitHub-Event', 'push') && body.ref.startsWith('refs/heads/') && !body.deleted && body.repository.full_name == 'hookrun/hookrun'",
		"overlays", []map[string]string{
			{"key": "branch_name", "expression": "body.ref.split('/')[2]"},
			{"key": "short_sha", "expression": "body.head_commit.id.truncate(7)"},
			{"key": "git.url", "expression": "body.repository.clone_url"},
			{"key": "git.author", "expression": "body.head_commit.author.name"},
		}), nil, Options{})
	req := &Request{Body: body, Decoded: decoded, Header: http.Header{"X-Github-Event": {"push"}}, Namespace: "ns",
		Context: Context{EventURL: "http://el-listener.ns.svc:8080/hooks"}}
	ctx := context.Background()
	if r := ic.Process(ctx, req); r.Code != OK || r.Extensions["short_sha"] == nil {
		b.Fatal(r.Message, r.Extensions)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := ic.Process(ctx, req); r.Code != OK {
			b.Fatal(r.Message)
		}
	}
}

// BenchmarkRunGitHubCEL is the whole interceptor stage of a typical trigger.
func BenchmarkRunGitHubCEL(b *testing.B) {
	body := pushPayload()
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		b.Fatal(err)
	}
	const secret = "benchmark-webhook-secret"
	chain := []Interceptor{
		mustBuild(b, "github", params(b, "secretRef", secretRefParam("gh", "token"), "eventTypes", []string{"push"},
			"addChangedFiles", map[string]any{"enabled": true}), newSecrets("ns/gh/token", secret), Options{}),
		mustBuild(b, "cel", params(b, "filter", "body.ref == 'refs/heads/main' && extensions.changed_files.contains('listener/')",
			"overlays", []map[string]string{{"key": "short_sha", "expression": "body.after.truncate(7)"}}), nil, Options{}),
	}
	h := http.Header{"X-Github-Event": {"push"}, "X-Hub-Signature-256": {sha256Sig(secret, body)}}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := &Request{Body: body, Decoded: decoded, Header: h, Namespace: "ns"}
		if r := Run(ctx, chain, req); r.Code != OK {
			b.Fatal(r.Message)
		}
	}
}
