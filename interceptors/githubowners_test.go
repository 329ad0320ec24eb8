package interceptors

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fakeOwnersAPI serves the GitHub API calls of the owners check for octo/repo: public members of the org
// octo (org-member, on two pages), collaborators of the repository (collab) and an OWNERS file
// (approver, Reviewer-Two).
func fakeOwnersAPI(t *testing.T, withOwnersFile bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v3/orgs/octo/public_members":
			if r.URL.Query().Get("page") == "2" {
				fmt.Fprint(w, `[{"login":"org-member"}]`)
				return
			}
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=2>; rel="next"`, r.Host, r.URL.Path))
			fmt.Fprint(w, `[{"login":"someone"}]`)
		case "/api/v3/repos/octo/repo/collaborators":
			fmt.Fprint(w, `[{"login":"collab"}]`)
		case "/api/v3/repos/octo/repo/contents/OWNERS":
			if !withOwnersFile {
				http.NotFound(w, r)
				return
			}
			content := base64.StdEncoding.EncodeToString([]byte("approvers:\n- approver\nreviewers:\n- Reviewer-Two\n"))
			fmt.Fprintf(w, `{"type":"file","encoding":"base64","name":"OWNERS","path":"OWNERS","content":%q}`, content)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubOwners(t *testing.T) {
	api := fakeOwnersAPI(t, true)
	noOwnersFile := fakeOwnersAPI(t, false)
	sg := newSecrets("ci/gh-token/token", "tok-9")
	build := func(checkType string, token bool, url string) Interceptor {
		own := map[string]any{"enabled": true, "checkType": checkType}
		if token {
			own["personalAccessToken"] = map[string]string{"secretName": "gh-token", "secretKey": "token"}
		}
		return mustBuild(t, "github", params(t, "githubOwners", own), sg, Options{GitHubAPIURL: url})
	}
	repo := map[string]any{"full_name": "octo/repo", "html_url": "https://github.com/octo/repo"}
	pr := func(sender string) *Request {
		return &Request{Body: []byte("{}"), Namespace: "ci", Header: header("X-GitHub-Event", "pull_request"),
			Decoded: map[string]any{"number": 3.0, "repository": repo, "sender": map[string]any{"login": sender}}}
	}
	comment := func(sender, text string) *Request {
		return &Request{Body: []byte("{}"), Namespace: "ci", Header: header("X-GitHub-Event", "issue_comment"),
			Decoded: map[string]any{"issue": map[string]any{"number": 3.0}, "comment": map[string]any{"body": text},
				"repository": repo, "sender": map[string]any{"login": sender}}}
	}
	cases := []struct {
		name string
		ic   Interceptor
		req  *Request
		code Code
		msg  string
	}{
		{"org member (second page)", build("orgMembers", true, api.URL), pr("org-member"), OK, ""},
		{"collaborator", build("repoMembers", true, api.URL), pr("collab"), OK, ""},
		{"all: collaborator", build("all", true, api.URL), pr("collab"), OK, ""},
		{"OWNERS approver", build("none", false, api.URL), pr("approver"), OK, ""},
		{"OWNERS reviewer, any case", build("none", false, api.URL), pr("reviewer-two"), OK, ""},
		{"stranger", build("all", true, api.URL), pr("stranger"), Skip, "stranger is not an owner of octo/repo"},
		{"org members not asked", build("repoMembers", true, api.URL), pr("org-member"), Skip, "requirements not met"},
		{"no OWNERS file", build("none", false, noOwnersFile.URL), pr("approver"), Skip, "requirements not met"},
		{"members asked without token", build("orgMembers", false, api.URL), pr("org-member"), Skip, "no personalAccessToken"},
		{"owner's /ok-to-test", build("none", false, api.URL), comment("approver", "looks fine\n/ok-to-test\n"), OK, ""},
		{"owner's other comment", build("none", false, api.URL), comment("approver", "please /ok-to-test later"), Skip, "requirements not met"},
		{"stranger's /ok-to-test", build("none", false, api.URL), comment("stranger", "/ok-to-test"), Skip, "requirements not met"},
		{"push is not checked", build("all", true, api.URL), &Request{Body: []byte("{}"), Header: header("X-GitHub-Event", "push")}, OK, ""},
		{"no sender", build("none", false, api.URL), &Request{Body: []byte("{}"), Header: header("X-GitHub-Event", "pull_request"),
			Decoded: map[string]any{"number": 3.0, "repository": repo}}, InvalidArgument, "sender.login"},
		{"API down", build("all", true, "http://127.0.0.1:1"), pr("collab"), Internal, "checking collab on octo/repo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, c.ic.Process(context.Background(), c.req), c.code, c.msg, "tok-9")
		})
	}
}

// FuzzOwnersPayload: whatever JSON a delivery carries, reading its pull request, sender and comment
// never panics, and what it accepts has an owner, a repository and a positive number.
func FuzzOwnersPayload(f *testing.F) {
	f.Add(`{"number":3,"repository":{"full_name":"o/r","html_url":"https://github.com/o/r"},"sender":{"login":"u"}}`, false)
	f.Add(`{"issue":{"number":1.5},"comment":{"body":"/ok-to-test"},"repository":{"full_name":"o/r/x"}}`, true)
	f.Add(`[1,{"number":-1}]`, false)
	f.Fuzz(func(t *testing.T, body string, comment bool) {
		var decoded any
		if json.Unmarshal([]byte(body), &decoded) != nil {
			return
		}
		event := "pull_request"
		if comment {
			event = "issue_comment"
		}
		p, err := ownersPayloadOf(event, decoded)
		if err != nil {
			return
		}
		if p.pr.owner == "" || p.pr.repo == "" || p.pr.number < 1 || p.sender == "" {
			t.Fatalf("accepted %+v from %s", p, body)
		}
	})
}
