package main

import (
	"archive/tar"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func testSpec() spec {
	return spec{Binary: []byte("\x7fELF not really a binary"), StepBinary: []byte("\x7fELF small step binary"), CACerts: []byte("-----BEGIN CERTIFICATE-----\n"), Arch: "amd64",
		Version: "v1.2.3", Revision: "abc123", Source: "https://github.com/hookrun/hookrun"}
}

// TestReproducible: the same inputs give the same digest; any input that changes gives another.
func TestReproducible(t *testing.T) {
	digest := func(s spec) string {
		t.Helper()
		img, err := build(s)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	base := digest(testSpec())
	if again := digest(testSpec()); again != base {
		t.Fatalf("two builds of the same inputs: %s and %s", base, again)
	}
	for name, change := range map[string]func(*spec){
		"binary":      func(s *spec) { s.Binary = append(s.Binary, '!') },
		"step binary": func(s *spec) { s.StepBinary = append(s.StepBinary, '!') },
		"certs":       func(s *spec) { s.CACerts = nil },
		"revision":    func(s *spec) { s.Revision = "def456" },
		"time":        func(s *spec) { s.Created = time.Unix(1700000000, 0) },
	} {
		s := testSpec()
		change(&s)
		if digest(s) == base {
			t.Errorf("changing the %s kept the digest", name)
		}
	}
}

// TestImageContents: what the Deployments and the executor's Pods rely on.
func TestImageContents(t *testing.T) {
	img, err := build(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/hookrun" || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config: user %q entrypoint %v os %s arch %s", cf.Config.User, cf.Config.Entrypoint, cf.OS, cf.Architecture)
	}
	if !strings.Contains(strings.Join(cf.Config.Env, " "), "PATH=/") {
		t.Errorf("env %v: `hookrun step` is found through PATH=/", cf.Config.Env)
	}
	for k, want := range map[string]string{"org.opencontainers.image.source": "https://github.com/hookrun/hookrun",
		"org.opencontainers.image.version": "v1.2.3", "org.opencontainers.image.revision": "abc123"} {
		if cf.Config.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], want)
		}
	}
	type entry struct {
		mode int64
		uid  int
		data string
	}
	files := map[string]entry{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[strings.TrimSuffix(h.Name, "/")] = entry{h.Mode, h.Uid, string(data)}
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s has time %v, want the epoch", h.Name, h.ModTime)
		}
	}
	if f := files["hookrun"]; f.mode != 0o755 || f.data != string(testSpec().Binary) {
		t.Errorf("/hookrun: %+v", f)
	}
	if f := files["hookrun-step"]; f.mode != 0o755 || f.data != string(testSpec().StepBinary) {
		t.Errorf("/hookrun-step: %+v", f)
	}
	if f := files["tmp"]; f.mode != 0o1777 {
		t.Errorf("/tmp mode %o, want 1777", f.mode)
	}
	if f := files["etc/passwd"]; !strings.Contains(f.data, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd: %q", f.data)
	}
	if f := files["home/nonroot"]; f.uid != 65532 {
		t.Errorf("/home/nonroot owned by %d", f.uid)
	}
	if f := files["etc/ssl/certs/ca-certificates.crt"]; f.data != string(testSpec().CACerts) {
		t.Errorf("CA bundle: %q", f.data)
	}
}

// TestOutputs: the OCI layout and the tarball hold the same image.
func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "hookrun")
	if err := writeFile(bin, testSpec().Binary); err != nil {
		t.Fatal(err)
	}
	stepBin := filepath.Join(dir, "hookrun-step")
	if err := writeFile(stepBin, testSpec().StepBinary); err != nil {
		t.Fatal(err)
	}
	oci, tb := filepath.Join(dir, "oci"), filepath.Join(dir, "image.tar")
	if err := run([]string{"--binary", bin, "--step-binary", stepBin, "--ca-certs", "", "--oci-layout", oci, "--tarball", tb, "--tag", "example.com/hookrun:t"}); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("OCI layout index: %+v %v", m, err)
	}
	ref, _ := name.ParseReference("example.com/hookrun:t")
	timg, err := tarball.ImageFromPath(tb, ptr(ref.(name.Tag)))
	if err != nil {
		t.Fatal(err)
	}
	// A docker tarball re-encodes the manifest, so the images are compared by their config.
	tc, err := timg.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	oimg, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := oimg.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if tc != oc {
		t.Errorf("tarball image config %s, OCI layout image config %s", tc, oc)
	}
}

func ptr[T any](v T) *T { return &v }
