package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	payload := filepath.Join(dir, "push.json")
	must(t, os.WriteFile(good, []byte("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps: [{name: s, image: alpine, script: echo hi}]\n"), 0o644))
	must(t, os.WriteFile(bad, []byte("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps: [{name: s, image: alpine, scirpt: echo hi}]\n"), 0o644))
	must(t, os.WriteFile(payload, []byte(`{"ref":"refs/heads/main"}`), 0o644))
	open := filepath.Join(t.TempDir(), "open.yaml")
	must(t, os.WriteFile(open, []byte("apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\n"+
		"spec:\n  triggers:\n  - name: anyone\n    template: {spec: {resourcetemplates: []}}\n"), 0o644))

	var got http.Header
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"eventID":"e1","triggers":[]}`))
	}))
	defer srv.Close()

	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"no args", nil, 2, "Usage: hookrun COMMAND", ""},
		{"help", []string{"--help"}, 0, "Commands:", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, 0, "hookrun dev", ""},
		{"validate ok", []string{"validate", "-f", good}, 0, "1 object(s) in 1 file(s): ok", ""},
		{"validate bad", []string{"validate", "-f", dir}, 1, `bad.yaml: document 1 (Task t): spec.steps[0].scirpt: unknown field`, "problem(s) in 2 object(s) from 3 file(s)"},
		{"validate nothing", []string{"validate"}, 2, "", "give at least one file"},
		{"test dry run fires", []string{"test", "-f", "../../examples/gitlab-mr", "--provider", "gitlab", "--event", "merge_request", "--payload", "../../examples/payloads/gitlab-merge-request.json"}, 0,
			"trigger default/gitlab-mr: fired\n  params:\n    commit: \"3f1a9c0e5b7d2468ace13579bdf02468ace13579\"", ""},
		{"test dry run skipped", []string{"test", "-f", "../../examples/gitlab-mr", "--provider", "gitlab", "--event", "push", "--payload", "../../examples/payloads/gitlab-merge-request.json"}, 0,
			"trigger default/gitlab-mr: skipped", ""},
		{"test bad manifests", []string{"test", "-f", dir, "--payload", payload}, 1, "scirpt: unknown field", "fix them first"},
		{"test two listeners", []string{"test", "-f", "../../examples/github-push", "-f", "../../examples/gitlab-mr", "--payload", payload}, 1, "", "choose one with --eventlistener"},
		{"test no payload", []string{"test", "-f", "../../examples/gitlab-mr"}, 2, "", "give the manifests with -f and the body with --payload"},
		{"test help", []string{"test", "--help"}, 0, "", "Usage: hookrun test"},
		{"validate flags example placeholder secrets", []string{"validate", "-f", "../../examples/github-push"}, 0,
			`warning: ../../examples/github-push/00-secret.yaml: document 1 (Secret github-secret): stringData.secretToken: holds the placeholder "generated-by-hookrun-dev"`, ""},
		{"validate warns on open triggers", []string{"validate", "-f", open}, 0,
			`warning: ` + open + `: document 1 (EventListener el): spec.triggers[0].interceptors: trigger "anyone" accepts unauthenticated posts`, ""},
		{"validate missing file", []string{"validate", "-f", filepath.Join(dir, "nope.yaml")}, 1, "", "no such file"},
		{"validate help", []string{"validate", "--help"}, 0, "", "Usage: hookrun validate"},
		{"send", []string{"send", "--provider", "github", "--event", "push", "--secret", "s3cret", "--delivery", "d-1", "--url", srv.URL + "/hooks", payload}, 0, "202 Accepted (delivery d-1)", ""},
		{"send bad provider", []string{"send", "--provider", "svn", "--url", srv.URL, payload}, 1, "", `provider "svn"`},
		{"send no file", []string{"send", "--url", srv.URL}, 2, "", "exactly one payload FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), c.out) {
				t.Errorf("stdout lacks %q:\n%s", c.out, out.String())
			}
			if !strings.Contains(errb.String(), c.err) {
				t.Errorf("stderr lacks %q:\n%s", c.err, errb.String())
			}
		})
	}
	// The send case signed the payload with the secret, as GitHub does.
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(gotBody)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got.Get("X-Hub-Signature-256") != want {
		t.Errorf("signature %q, want %q", got.Get("X-Hub-Signature-256"), want)
	}
	if got.Get("X-GitHub-Event") != "push" || got.Get("X-GitHub-Delivery") != "d-1" {
		t.Errorf("headers: %v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
