package resolve

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const taskYAML = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
spec:
  steps:
  - name: echo
    image: alpine
    script: echo hello
`

// gitRepo makes a repository with task.yaml on main (commit 1: "v1", commit 2: "v2", tagged v2) and
// returns its directory and the two commit SHAs.
func gitRepo(t *testing.T) (dir, c1, c2 string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not found: the git resolver tests serve a repository with git http-backend")
	}
	root := t.TempDir()
	dir = filepath.Join(root, "catalog.git")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(filepath.Join(dir, "task"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("init", "-q", "-b", "main")
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(dir, "task", "task.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(taskYAML, "echo hello", "echo v1", 1))
	run("add", ".")
	run("commit", "-q", "-m", "v1")
	c1 = run("rev-parse", "HEAD")
	write(strings.Replace(taskYAML, "echo hello", "echo v2", 1))
	run("commit", "-q", "-am", "v2")
	run("tag", "-a", "-m", "v2", "v2")
	c2 = run("rev-parse", "HEAD")
	run("update-server-info")
	return dir, c1, c2
}

// serveGit serves the repositories under root with git http-backend (smart HTTP) behind net/http/cgi.
func serveGit(t *testing.T, root string) *httptest.Server {
	t.Helper()
	gitBin, _ := exec.LookPath("git")
	h := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newTest(t *testing.T, opts Options) *Resolvers {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute // a loaded machine
	}
	return New(opts)
}

func TestGit(t *testing.T) {
	dir, c1, c2 := gitRepo(t)
	srv := serveGit(t, filepath.Dir(dir))
	httpURL := srv.URL + "/catalog.git"
	fileURL := "file://" + dir
	r := newTest(t, Options{})
	for _, tc := range []struct {
		name, url, revision, path string
		want, commit              string
		perm                      string // param a permanent error names
	}{
		{name: "http default branch", url: httpURL, path: "task/task.yaml", want: "echo v2", commit: c2},
		{name: "http branch", url: httpURL, revision: "main", path: "task/task.yaml", want: "echo v2", commit: c2},
		{name: "http annotated tag", url: httpURL, revision: "v2", path: "task/task.yaml", want: "echo v2", commit: c2},
		{name: "http commit sha", url: httpURL, revision: c1, path: "/task/task.yaml", want: "echo v1", commit: c1},
		{name: "file default", url: fileURL, path: "task/task.yaml", want: "echo v2", commit: c2},
		{name: "file commit", url: fileURL, revision: c1, path: "task/task.yaml", want: "echo v1", commit: c1},
		{name: "unknown revision", url: httpURL, revision: "nope", path: "task/task.yaml", perm: "revision"},
		{name: "missing path", url: httpURL, revision: "main", path: "task/none.yaml", perm: "pathInRepo"},
		{name: "no such repository", url: srv.URL + "/other.git", path: "task/task.yaml", perm: "url"},
		{name: "file missing path", url: fileURL, path: "x.yaml", perm: "pathInRepo"},
		{name: "bad scheme", url: "ftp://example.com/r.git", path: "x.yaml", perm: "url"},
		{name: "ssh needs keys", url: "ssh://git@example.com/r.git", path: "x.yaml", perm: "url"},
		{name: "scp-like", url: "git@example.com:org/r.git", path: "x.yaml", perm: "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]string{"url": tc.url, "pathInRepo": tc.path}
			if tc.revision != "" {
				params["revision"] = tc.revision
			}
			res, err := r.Resolve(context.Background(), Request{Resolver: Git, Params: params, Kind: KindTask})
			if tc.perm != "" {
				var re *Error
				if !errors.As(err, &re) || !errors.Is(err, ErrPermanent) || re.Param != tc.perm || re.Resolver != Git {
					t.Fatalf("want a permanent error naming param %s, got %v", tc.perm, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Data), tc.want) {
				t.Errorf("data %q does not contain %q", res.Data, tc.want)
			}
			if res.Source.Digest["sha1"] != tc.commit {
				t.Errorf("digest %v, want sha1 %s", res.Source.Digest, tc.commit)
			}
			if res.Source.URI != "git+"+tc.url || res.Source.EntryPoint != strings.TrimPrefix(tc.path, "/") {
				t.Errorf("source %+v", res.Source)
			}
		})
	}
}

func TestGitCacheAndUnreachable(t *testing.T) {
	dir, _, c2 := gitRepo(t)
	var requests int
	gitBin, _ := exec.LookPath("git")
	h := &cgi.Handler{Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(dir), "GIT_HTTP_EXPORT_ALL=1"}}
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests++
		h.ServeHTTP(w, req)
	}))
	defer counting.Close()
	r := newTest(t, Options{})
	req := Request{Resolver: Git, Params: map[string]string{"url": counting.URL + "/catalog.git", "revision": "main", "pathInRepo": "task/task.yaml"}}
	if _, err := r.Resolve(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	first := requests
	res, err := r.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Digest["sha1"] != c2 {
		t.Fatalf("digest %v", res.Source.Digest)
	}
	// The second resolution only lists refs (one request): the commit is cached.
	if second := requests - first; second != 1 {
		t.Errorf("second resolution made %d requests, want 1 (ls-remote, then the cache)", second)
	}

	counting.Close()
	_, err = r.Resolve(context.Background(), req)
	var re *Error
	if !errors.Is(err, ErrTransient) || !errors.As(err, &re) || re.Param != "url" {
		t.Fatalf("unreachable server: want a transient error naming url, got %v", err)
	}
}

func TestGitAPIModeRefused(t *testing.T) {
	err := CheckParams(Git, map[string]string{"repo": "catalog", "org": "tektoncd", "pathInRepo": "x"})
	var re *Error
	if !errors.As(err, &re) || re.Param != "org" || !strings.Contains(err.Error(), "API mode") {
		t.Fatalf("got %v", err)
	}
}

// tarOf is a tar holding one file.
func tarOf(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushBundle builds a Tekton bundle of the given objects (kind, name → YAML) and pushes it as ref.
func pushBundle(t *testing.T, ref string, objs map[[2]string]string) v1.Hash {
	t.Helper()
	img := empty.Image
	for k, y := range objs {
		data := tarOf(t, k[1]+".yaml", []byte(y))
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: map[string]string{
			AnnotationAPIVersion: "v1", AnnotationKind: k[0], AnnotationName: k[1],
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBundles(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/catalog/hello:v1"
	digest := pushBundle(t, ref, map[[2]string]string{
		{"task", "hello"}:     taskYAML,
		{"pipeline", "hello"}: "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: hello}\nspec: {tasks: []}\n",
	})
	r := newTest(t, Options{})
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   string
		perm   string
	}{
		{"task by tag", map[string]string{"bundle": ref, "name": "hello"}, "kind: Task", ""},
		{"pipeline by digest", map[string]string{"bundle": host + "/catalog/hello@" + digest.String(), "name": "hello", "kind": "pipeline"}, "kind: Pipeline", ""},
		{"no such object", map[string]string{"bundle": ref, "name": "other"}, "", "name"},
		{"no such image", map[string]string{"bundle": host + "/catalog/none:v1", "name": "hello"}, "", "bundle"},
		{"bad reference", map[string]string{"bundle": "UPPER/Case::", "name": "hello"}, "", "bundle"},
		{"bad kind", map[string]string{"bundle": ref, "name": "hello", "kind": "secret"}, "", "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Resolve(context.Background(), Request{Resolver: Bundles, Params: tc.params})
			if tc.perm != "" {
				var re *Error
				if !errors.As(err, &re) || !errors.Is(err, ErrPermanent) || re.Param != tc.perm {
					t.Fatalf("want a permanent error naming %s, got %v", tc.perm, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Data), tc.want) {
				t.Errorf("data %q", res.Data)
			}
			if res.Source.Digest["sha256"] != digest.Hex || res.Source.URI != host+"/catalog/hello" || res.Source.EntryPoint != "hello" {
				t.Errorf("source %+v, want digest %s", res.Source, digest.Hex)
			}
		})
	}
	srv.Close()
	_, err := r.Resolve(context.Background(), Request{Resolver: Bundles, Params: map[string]string{"bundle": host + "/catalog/x:v9", "name": "hello"}})
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("registry down: want transient, got %v", err)
	}
}

func TestHTTP(t *testing.T) {
	var fail503 bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fail503 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch req.URL.Path {
		case "/task.yaml":
			fmt.Fprint(w, taskYAML)
		case "/private.yaml":
			if u, p, ok := req.BasicAuth(); !ok || u != "me" || p != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, taskYAML)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	r := newTest(t, Options{Reader: fakeSecrets{"default/auth": {"password": "s3cret"}}})
	ok := func(params map[string]string) {
		t.Helper()
		res, err := r.Resolve(context.Background(), Request{Resolver: HTTP, Params: params, Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Data) != taskYAML || res.Source.URI != params["url"] || len(res.Source.Digest["sha256"]) != 64 {
			t.Errorf("result %+v", res)
		}
	}
	ok(map[string]string{"url": srv.URL + "/task.yaml"})
	ok(map[string]string{"url": srv.URL + "/private.yaml", "http-username": "me", "http-password-secret": "auth", "http-password-secret-key": "password"})
	for _, tc := range []struct {
		params map[string]string
		param  string
	}{
		{map[string]string{"url": srv.URL + "/none.yaml"}, "url"},
		{map[string]string{"url": srv.URL + "/private.yaml"}, "url"},
		{map[string]string{"url": "ftp://x/y"}, "url"},
		{map[string]string{"url": srv.URL + "/private.yaml", "http-username": "me", "http-password-secret": "missing", "http-password-secret-key": "password"}, "http-password-secret"},
		{map[string]string{"url": srv.URL + "/private.yaml", "http-password-secret": "auth", "http-password-secret-key": "password"}, "http-username"},
	} {
		_, err := r.Resolve(context.Background(), Request{Resolver: HTTP, Params: tc.params, Namespace: "default"})
		var re *Error
		if !errors.As(err, &re) || !errors.Is(err, ErrPermanent) || re.Param != tc.param {
			t.Errorf("%v: want permanent naming %s, got %v", tc.params, tc.param, err)
		}
	}
	fail503 = true
	_, err := r.Resolve(context.Background(), Request{Resolver: HTTP, Params: map[string]string{"url": srv.URL + "/task.yaml"}})
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("503: want transient, got %v", err)
	}
}

func TestHub(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		paths = append(paths, req.URL.Path)
		switch req.URL.Path {
		case "/v1/resource/Tekton/task/git-clone/0.9/yaml":
			fmt.Fprintf(w, `{"data":{"yaml":%q}}`, taskYAML)
		case "/api/v1/packages/tekton-task/tekton-catalog-tasks/git-clone/0.9.0":
			fmt.Fprintf(w, `{"data":{"manifestRaw":%q}}`, taskYAML)
		case "/api/v1/packages/tekton-pipeline/tekton-catalog-pipelines/build/1.2.3":
			fmt.Fprintf(w, `{"data":{"manifestRaw":%q}}`, "kind: Pipeline")
		case "/api/v1/packages/tekton-task/tekton-catalog-tasks/broken/0.1.0":
			fmt.Fprint(w, `{"data":{}}`)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	r := newTest(t, Options{TektonHubURL: srv.URL, ArtifactHubURL: srv.URL + "/"})
	for _, tc := range []struct {
		params map[string]string
		want   string
		perm   string
	}{
		{map[string]string{"type": "tekton", "name": "git-clone", "version": "0.9"}, "kind: Task", ""},
		{map[string]string{"type": "tekton", "name": "git-clone", "version": "0.9.0"}, "kind: Task", ""},
		{map[string]string{"name": "git-clone", "version": "0.9"}, "kind: Task", ""},
		{map[string]string{"type": "artifact", "kind": "pipeline", "name": "build", "version": "1.2.3"}, "kind: Pipeline", ""},
		{map[string]string{"name": "missing", "version": "0.1"}, "", "name"},
		{map[string]string{"name": "broken", "version": "0.1"}, "", "name"},
		{map[string]string{"name": "git-clone", "version": ">= 0.5"}, "", "version"},
		{map[string]string{"name": "git-clone"}, "", "version"},
		{map[string]string{"name": "git-clone", "version": "0.9", "type": "other"}, "", "type"},
		{map[string]string{"name": "git-clone", "version": "0.9", "url": "ftp://x"}, "", "url"},
	} {
		res, err := r.Resolve(context.Background(), Request{Resolver: Hub, Params: tc.params})
		if tc.perm != "" {
			var re *Error
			if !errors.As(err, &re) || !errors.Is(err, ErrPermanent) || re.Param != tc.perm {
				t.Errorf("%v: want permanent naming %s, got %v", tc.params, tc.perm, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.params, err)
			continue
		}
		if !strings.Contains(string(res.Data), tc.want) || !strings.HasPrefix(res.Source.URI, srv.URL) {
			t.Errorf("%v: result %+v", tc.params, res)
		}
	}
	// Tekton's url param points one reference at another hub.
	other := New(Options{TektonHubURL: "http://127.0.0.1:1", ArtifactHubURL: "http://127.0.0.1:1"})
	if _, err := other.Resolve(context.Background(), Request{Resolver: Hub, Params: map[string]string{"name": "git-clone", "version": "0.9", "url": srv.URL}}); err != nil {
		t.Errorf("url param: %v", err)
	}
	n := len(paths)
	if _, err := r.Resolve(context.Background(), Request{Resolver: Hub, Params: map[string]string{"name": "git-clone", "version": "0.9"}}); err != nil {
		t.Fatal(err)
	}
	if len(paths) != n {
		t.Errorf("an exact hub version was fetched again instead of cached")
	}
}

func TestCheckParams(t *testing.T) {
	for _, tc := range []struct {
		resolver string
		params   map[string]string
		param    string // "" = valid
	}{
		{"git", map[string]string{"url": "u", "pathInRepo": "p"}, ""},
		{"git", map[string]string{"url": "u"}, "pathInRepo"},
		{"git", map[string]string{"url": "u", "pathInRepo": "p", "gitToken": "s"}, "gitToken"},
		{"cluster", map[string]string{"name": "n", "kind": "pipeline"}, ""},
		{"cluster", map[string]string{"name": "n", "kind": "secret"}, "kind"},
		{"cluster", map[string]string{}, "name"},
		{"bundles", map[string]string{"bundle": "b"}, "name"},
		{"hub", map[string]string{"name": "n", "version": "0.1", "kind": "stepaction"}, "kind"},
		{"http", map[string]string{}, "url"},
		{"nope", map[string]string{}, ""},
	} {
		err := CheckParams(tc.resolver, tc.params)
		var re *Error
		switch {
		case tc.resolver == "nope":
			if err == nil || !strings.Contains(err.Error(), "unknown resolver") {
				t.Errorf("unknown resolver: %v", err)
			}
		case tc.param == "" && err != nil:
			t.Errorf("%s %v: %v", tc.resolver, tc.params, err)
		case tc.param != "" && (!errors.As(err, &re) || re.Param != tc.param || !errors.Is(err, ErrPermanent)):
			t.Errorf("%s %v: want error naming %s, got %v", tc.resolver, tc.params, tc.param, err)
		}
	}
}

func TestLRUBytes(t *testing.T) {
	c := newLRU(10, 10)
	c.put("a", Result{Data: []byte("123456")})
	c.put("b", Result{Data: []byte("1234")})
	c.put("c", Result{Data: []byte("12")}) // 12 bytes: a goes
	if _, ok := c.get("a"); ok || c.len() != 2 {
		t.Errorf("a should be evicted by size (len %d)", c.len())
	}
	c.put("big", Result{Data: make([]byte, 11)}) // larger than the whole cache: not kept
	if _, ok := c.get("big"); ok {
		t.Error("an object larger than the cache was kept")
	}
	c.put("b", Result{Data: []byte("123456789")}) // replacing b: 9+2 > 10, c goes
	if _, ok := c.get("c"); ok {
		t.Error("c should be evicted when b grew")
	}
}

func TestLRU(t *testing.T) {
	c := newLRU(2, 1<<20)
	c.put("a", Result{Data: []byte("a")})
	c.put("b", Result{Data: []byte("b")})
	c.get("a")
	c.put("c", Result{Data: []byte("c")})
	if _, ok := c.get("b"); ok {
		t.Error("b (least recently used) should be evicted")
	}
	if _, ok := c.get("a"); !ok || c.len() != 2 {
		t.Error("a should stay")
	}
}
