package interceptors

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GitHub's documented test vector.
const (
	ghDocSecret = "It's a Secret to Everybody"
	ghDocBody   = "Hello, World!"
	ghDocSig256 = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestGitHubSignature(t *testing.T) {
	body := []byte(ghDocBody)
	if got := sha256Sig(ghDocSecret, body); got != ghDocSig256 {
		t.Fatalf("test HMAC helper disagrees with GitHub's vector: %s", got)
	}
	forged := ghDocSig256[:len(ghDocSig256)-1] + "f"
	cases := []struct {
		name      string
		allowSHA1 bool
		h         []string
		code      Code
		msg       string
	}{
		{"docs vector", false, []string{"X-Hub-Signature-256", ghDocSig256}, OK, ""},
		{"docs vector upper-case hex", false, []string{"X-Hub-Signature-256", "sha256=" + strings.ToUpper(ghDocSig256[7:])}, OK, ""},
		{"forged", false, []string{"X-Hub-Signature-256", forged}, Unauthenticated, "X-Hub-Signature-256 does not match"},
		{"other secret", false, []string{"X-Hub-Signature-256", sha256Sig("another secret", body)}, Unauthenticated, "does not match"},
		{"missing", false, nil, Unauthenticated, "X-Hub-Signature-256 header missing"},
		{"empty", false, []string{"X-Hub-Signature-256", ""}, Unauthenticated, "X-Hub-Signature-256 header missing"},
		{"sha1 only refused", false, []string{"X-Hub-Signature", sha1Sig(ghDocSecret, body)}, Unauthenticated, "allowSHA1"},
		{"sha1 allowed", true, []string{"X-Hub-Signature", sha1Sig(ghDocSecret, body)}, OK, ""},
		{"sha1 allowed but forged", true, []string{"X-Hub-Signature", sha1Sig("nope", body)}, Unauthenticated, "X-Hub-Signature does not match"},
		{"sha256 wins over sha1", true, []string{"X-Hub-Signature-256", forged, "X-Hub-Signature", sha1Sig(ghDocSecret, body)}, Unauthenticated, "X-Hub-Signature-256"},
		{"sha1 value in sha256 header", false, []string{"X-Hub-Signature-256", sha1Sig(ghDocSecret, body)}, Unauthenticated, "malformed"},
		{"sha512 value in sha256 header", false, []string{"X-Hub-Signature-256", "sha512=00"}, Unauthenticated, "malformed"},
		{"not hex", false, []string{"X-Hub-Signature-256", "sha256=zz"}, Unauthenticated, "malformed"},
		{"no digest", false, []string{"X-Hub-Signature-256", "sha256="}, Unauthenticated, "malformed"},
		{"truncated digest", false, []string{"X-Hub-Signature-256", ghDocSig256[:21]}, Unauthenticated, "does not match"},
		{"odd-length digest", false, []string{"X-Hub-Signature-256", ghDocSig256[:20]}, Unauthenticated, "malformed"},
		{"lower-case header name", false, []string{"x-hub-signature-256", ghDocSig256}, OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sg := newSecrets("ns1/gh/token", ghDocSecret)
			ic := mustBuild(t, "github", params(t, "secretRef", secretRefParam("gh", "token"), "allowSHA1", tc.allowSHA1), sg, Options{})
			got := ic.Process(context.Background(), &Request{Body: body, Header: header(tc.h...), Namespace: "ns1"})
			expect(t, got, tc.code, tc.msg, ghDocSecret)
		})
	}
}

func TestGitHubSecretProblems(t *testing.T) {
	body := []byte(ghDocBody)
	h := header("X-Hub-Signature-256", ghDocSig256)
	p := params(t, "secretRef", secretRefParam("gh", "token"))

	// The secret is looked up in the request's namespace, not anywhere else.
	sg := newSecrets("other/gh/token", ghDocSecret)
	got := mustBuild(t, "github", p, sg, Options{}).Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ns1"})
	expect(t, got, Internal, `secret ns1/gh`)
	if len(sg.calls) != 1 || sg.calls[0] != "ns1/gh/token" {
		t.Fatalf("secret lookups = %v", sg.calls)
	}

	sg = newSecrets()
	sg.err = errors.New("forbidden")
	got = mustBuild(t, "github", p, sg, Options{}).Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ns1"})
	expect(t, got, Internal, "forbidden")

	// An empty secret would make the HMAC forgeable: refuse it.
	sg = newSecrets("ns1/gh/token", "")
	h2 := header("X-Hub-Signature-256", sha256Sig("", body))
	got = mustBuild(t, "github", p, sg, Options{}).Process(context.Background(), &Request{Body: body, Header: h2, Namespace: "ns1"})
	expect(t, got, Internal, "is empty")
}

func TestGitHubEventTypesAndContentType(t *testing.T) {
	body := []byte(`{"action":"opened"}`)
	sg := newSecrets("ns/s/k", "topsecret")
	ic := mustBuild(t, "github", params(t, "secretRef", secretRefParam("s", "k"), "eventTypes", []string{"pull_request", "push"}), sg, Options{})
	sig := sha256Sig("topsecret", body)
	cases := []struct {
		name string
		h    []string
		code Code
		msg  string
	}{
		{"allowed", []string{"X-GitHub-Event", "pull_request", "X-Hub-Signature-256", sig}, OK, ""},
		{"not allowed", []string{"X-GitHub-Event", "issues", "X-Hub-Signature-256", sig}, Skip, `"issues"`},
		{"missing event", []string{"X-Hub-Signature-256", sig}, Skip, "not allowed"},
		// Tekton checks the event type before the signature: a wrong event is a skip, never OK.
		{"not allowed and unsigned", []string{"X-GitHub-Event", "issues"}, Skip, "issues"},
		{"allowed but unsigned", []string{"X-GitHub-Event", "push"}, Unauthenticated, "X-Hub-Signature-256 header missing"},
		{"form encoded", []string{"Content-Type", "application/x-www-form-urlencoded", "X-GitHub-Event", "push", "X-Hub-Signature-256", sig}, InvalidArgument, "form parameter encoding"},
		{"json content type", []string{"Content-Type", "application/json; charset=utf-8", "X-GitHub-Event", "push", "X-Hub-Signature-256", sig}, OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ic.Process(context.Background(), &Request{Body: body, Header: header(tc.h...), Namespace: "ns"})
			expect(t, got, tc.code, tc.msg, "topsecret")
		})
	}

	// An explicitly empty list allows nothing (Tekton: a non-nil list is an allow-list).
	none := mustBuild(t, "github", params(t, "eventTypes", []string{}), nil, Options{})
	expect(t, none.Process(context.Background(), &Request{Header: header("X-GitHub-Event", "push")}), Skip, "")

	// Without a secretRef nothing is verified.
	open := mustBuild(t, "github", nil, nil, Options{})
	expect(t, open.Process(context.Background(), &Request{Body: body, Header: header("X-GitHub-Event", "push")}), OK, "")
}

func TestGitHubChangedFiles(t *testing.T) {
	payload := map[string]any{
		"ref": "refs/heads/main",
		"commits": []any{
			map[string]any{"added": []any{"a.go", "docs/x.md"}, "modified": []any{"b.go"}, "removed": []any{}},
			map[string]any{"added": []any{}, "modified": []any{"a.go", "c.go"}, "removed": []any{"old.txt"}},
			map[string]any{"id": "no file lists"},
		},
	}
	body, _ := json.Marshal(payload)
	ic := mustBuild(t, "github", params(t, "addChangedFiles", map[string]any{"enabled": true}), nil, Options{})
	const want = "a.go,docs/x.md,b.go,c.go,old.txt"
	for _, decoded := range []any{payload, nil} {
		got := ic.Process(context.Background(), &Request{Body: body, Decoded: decoded, Header: header("X-GitHub-Event", "push")})
		expect(t, got, OK, "")
		if got.Extensions["changed_files"] != want {
			t.Fatalf("changed_files = %#v, want %q", got.Extensions["changed_files"], want)
		}
	}
	// Not a push: no extension.
	got := ic.Process(context.Background(), &Request{Body: body, Decoded: payload, Header: header("X-GitHub-Event", "issues")})
	expect(t, got, OK, "")
	if got.Extensions != nil {
		t.Fatalf("extensions for a non-push event: %v", got.Extensions)
	}
	// Disabled: no extension.
	off := mustBuild(t, "github", params(t, "addChangedFiles", map[string]any{"enabled": false}), nil, Options{})
	if got := off.Process(context.Background(), &Request{Body: body, Decoded: payload, Header: header("X-GitHub-Event", "push")}); got.Extensions != nil {
		t.Fatalf("extensions with addChangedFiles disabled: %v", got.Extensions)
	}
	// Bad JSON with nothing decoded by the caller.
	got = ic.Process(context.Background(), &Request{Body: []byte("{"), Header: header("X-GitHub-Event", "push")})
	expect(t, got, InvalidArgument, "JSON")
}

func TestGitHubCorpus(t *testing.T) {
	dir := corpusDir(t, "github")
	const secret = "corpus-secret-😀"
	sg := newSecrets("ci/github-secret/token", secret)
	api := newFakeGitHubAPI(t) // pull_request changed files come from the GitHub API
	verify := mustBuild(t, "github", params(t, "secretRef", secretRefParam("github-secret", "token"),
		"eventTypes", []string{"push", "pull_request"}, "addChangedFiles", map[string]any{"enabled": true}), sg, Options{GitHubAPIURL: api.URL})
	pingOnly := mustBuild(t, "github", params(t, "secretRef", secretRefParam("github-secret", "token"), "eventTypes", []string{"ping"}), sg, Options{})

	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) == 0 {
		t.Fatalf("no payloads under %s", dir)
	}
	for _, f := range files {
		event := filepath.Base(filepath.Dir(f))
		t.Run(event+"/"+filepath.Base(f), func(t *testing.T) {
			body := readFile(t, f)
			var decoded any
			if err := json.Unmarshal(body, &decoded); err != nil {
				t.Fatal(err)
			}
			h := header("X-GitHub-Event", event, "X-Hub-Signature-256", sha256Sig(secret, body), "Content-Type", "application/json")
			req := &Request{Body: body, Decoded: decoded, Header: h, Namespace: "ci"}
			got := verify.Process(context.Background(), req)
			if event == "ping" {
				expect(t, got, Skip, "ping")
			} else {
				expect(t, got, OK, "")
			}
			if event == "pull_request" && got.Extensions["changed_files"] != "a.go,b.go,docs/c.md" {
				t.Fatalf("pull_request changed_files = %v", got.Extensions["changed_files"])
			}
			if event == "push" {
				want := pushChangedFiles(decoded)
				if got.Extensions["changed_files"] != want {
					t.Fatalf("changed_files = %v, want %q", got.Extensions["changed_files"], want)
				}
				if strings.Contains(f, "with-new-branch") && want != "README.md" {
					t.Fatalf("with-new-branch changed files = %q, want README.md", want)
				}
			}
			// A tampered body (one byte appended) must fail.
			bad := &Request{Body: append(append([]byte{}, body...), ' '), Decoded: decoded, Header: h, Namespace: "ci"}
			if event != "ping" {
				expect(t, verify.Process(context.Background(), bad), Unauthenticated, "does not match", secret)
			}
			// eventTypes mismatch.
			if event != "ping" {
				expect(t, pingOnly.Process(context.Background(), req), Skip, event)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "push", "with-new-branch.payload.json")); err != nil {
		t.Fatalf("expected corpus file missing: %v", err)
	}
}
