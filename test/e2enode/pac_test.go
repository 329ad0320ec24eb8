package e2enode

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/paccorpus"
)

// pacMirrored is the registry the Pipelines-as-Code corpus's steps pull from (ubi10/ubi-micro). The node
// has no internet: containerd pulls it through a mirror on this host (certs.d/REGISTRY/hosts.toml, read at
// each pull) that holds the busybox image under that name — the way an air-gapped cluster mirrors images.
const pacMirrored = "registry.access.redhat.com"

// testPAC: Pipelines-as-Code on the real node. A Repository in the listener's namespace and a fake GitHub
// (forgetest) serving `.tekton/` at the pushed commit: the corpus's real PipelineRuns, unchanged but for the
// placeholders its README names, and one of ours. A signed push to /hooks/pac creates one run per
// PipelineRun; each ends Succeeded on the kubelet, its steps' output is in the containers' logs, and the
// commit gets pending then success under hookrun/NAME.
func (n *node) testPAC(t *testing.T, root, ns string) {
	mirror := n.startMirror(t)
	t.Logf("%s mirrored at %s", pacMirrored, mirror)
	const token, hook = "e2e-pac-token", "e2e-pac-hook"
	const sha = "89abcdef0123456789abcdef0123456789abcdef"
	srv := forgetest.NewServer(token)
	t.Cleanup(srv.Close)
	corpus, err := paccorpus.Files(paccorpus.Dir(root), paccorpus.Placeholders{Namespace: ns, Branch: "main", Event: "push"})
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("Pipelines-as-Code corpus absent, only the suite's own PipelineRun runs: %v", err)
		corpus = map[string]string{}
	} else if err != nil {
		t.Fatal(err)
	}
	srv.SetFiles("octo/app", sha, corpus)
	srv.SetFiles("octo/app", sha, map[string]string{".tekton/push.yaml": paccorpus.PushPipelineRun(busyboxImage)})
	n.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: app-forge}
stringData: {provider.token: %s, webhook.secret: %s}
---
apiVersion: pipelinesascode.tekton.dev/v1alpha1
kind: Repository
metadata: {name: app}
spec:
  url: https://github.com/octo/app
  git_provider: {type: github, url: %s, secret: {name: app-forge}, webhook_secret: {name: app-forge}}
`, token, hook, srv.GitHubAPI()))

	body := []byte(`{"ref":"refs/heads/main","after":"` + sha + `","head_commit":{"id":"` + sha + `","message":"m"},"commits":[{"modified":[".tekton/push.yaml"]}],
"repository":{"full_name":"octo/app","name":"app","html_url":"https://github.com/octo/app","default_branch":"main","owner":{"login":"octo"}},
"sender":{"login":"octo"}}`)
	r := n.sendPAC(t, listener.Outgoing{Provider: "github", Event: "push", Secret: hook, Body: body})
	if want := 1 + paccorpus.PipelineRuns(corpus); len(r.Triggers) != want {
		t.Fatalf("answer %+v, want %d results", r, want)
	}
	for _, tr := range r.Triggers {
		if tr.Status != listener.StatusCreated || len(tr.Resources) == 0 {
			t.Fatalf("%s: %+v", tr.Name, tr)
		}
		pr := n.waitPR(t, tr.Resources[0].Namespace, tr.Resources[0].Name, runTimeout)
		if c := condition(pr); c.Status != corev1.ConditionTrue {
			t.Errorf("%s run %s: %+v\n%s", tr.Name, pr.Name, c, n.describeRuns(pr.Namespace))
			continue
		}
		n.checkPACLogs(t, tr.Name, pr.Namespace, pr.Status.ChildReferences[0].Name, sha)
	}
	n.waitStatuses(t, srv, sha, "hookrun/build", "pending,success")
}

// checkPACLogs checks a run's first TaskRun printed what its PipelineRun makes it print.
func (n *node) checkPACLogs(t *testing.T, trigger, ns, taskRun, sha string) {
	t.Helper()
	want := map[string]string{
		"app/build":                         "built octo/app at " + sha,
		"app/always-good-pipelinerun":       "HELLOMOTO",
		"app/piplinerun-with-tekton-params": "Hello",
		"app/pipelinerun-match-push-pullr":  "push",
	}[trigger]
	if want == "" {
		return
	}
	var tr pipelinev1.TaskRun
	if err := n.client.Get(context.Background(), clientKey(ns, taskRun), &tr); err != nil {
		t.Fatal(err)
	}
	if logs := n.podLogs(n.pod(t, ns, tr.Status.PodName)); !strings.Contains(logs, want) {
		t.Errorf("%s: the step's log lacks %q:\n%s", trigger, want, logs)
	}
}

// sendPAC posts a delivery to /hooks/pac, retried while the listener's cache has not seen the Repository
// yet (401: no Repository's webhook secret matches).
func (n *node) sendPAC(t *testing.T, o listener.Outgoing) listener.Response {
	t.Helper()
	var r listener.Response
	err := waitFor(30*time.Second, "a Repository answering /hooks/pac", func() (bool, error) {
		req, err := o.Request(context.Background(), n.hookURL+listener.PACPath)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return false, nil
		case http.StatusAccepted:
			return true, json.Unmarshal(data, &r)
		default:
			return false, fmt.Errorf("HTTP %d %s", resp.StatusCode, data)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitStatuses waits for the commit statuses of one context to be want (comma-separated states, in order).
func (n *node) waitStatuses(t *testing.T, srv *forgetest.Server, sha, context, want string) {
	t.Helper()
	var got string
	err := waitFor(60*time.Second, "statuses "+want+" for "+context, func() (bool, error) {
		var states []string
		for _, s := range srv.Statuses(forge.GitHub, "octo/app", sha) {
			if s.Context == context {
				states = append(states, s.State)
			}
		}
		got = strings.Join(states, ",")
		return got == want, nil
	})
	if err != nil {
		t.Fatalf("%v: got %q", err, got)
	}
}

// startMirror serves the busybox image as pacMirrored/ubi10/ubi-micro:latest from a registry on this host
// and points containerd's hosts.toml for pacMirrored at it. It returns the mirror's host:port.
func (n *node) startMirror(t *testing.T) string {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	dir := t.TempDir()
	if err := untar(filepath.Join(n.e2e, "images", "busybox.tar"), dir); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		t.Fatalf("busybox layout: %v (%d manifests)", err, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Its own config digest: containerd's CRI keys images by that ID, and a pull of an image with the same ID
	// as the imported busybox would take the busybox names (docker.io/library/busybox:e2e, alpine:3.20)
	// away from it.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels["org.opencontainers.image.title"] = "ubi-micro stand-in (busybox) for the e2e mirror"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/ubi10/ubi-micro:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(n.run, "certs.d", pacMirrored)
	if err := os.MkdirAll(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = \"https://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", pacMirrored, host)
	if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return host
}

// untar extracts a tar of regular files and directories (an OCI layout) into dir.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
