package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the user the image runs as (distroless's nonroot numbers).
const nonroot = 65532

// spec is everything that goes into the image; the same spec gives the same digest.
type spec struct {
	Binary []byte // the static hookrun binary, installed as /hookrun
	// StepBinary is the static small step binary (cmd/hookrun-step), installed as /hookrun-step: the
	// executor's prepare runs it and copies it into the Pod for the step wrappers.
	StepBinary []byte
	CACerts    []byte // PEM bundle, installed as /etc/ssl/certs/ca-certificates.crt; empty: none
	Arch       string // GOARCH of the binary
	Version    string
	Revision   string
	Source     string
	Created    time.Time // image and file times (SOURCE_DATE_EPOCH); zero: the Unix epoch
}

// file is one entry of a layer.
type file struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layer makes a reproducible tar layer: entries sorted, fixed owner, mode and time.
func layer(files []file, mtime time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
		if !f.dir {
			if _, err := tw.Write(f.data); err != nil {
				return nil, fmt.Errorf("tar %s: %w", f.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// build assembles the image: a base layer (passwd/group with nonroot, /tmp, CA certificates) and the
// binary's layer, on an empty OCI image, as ko does on its static base.
func build(s spec) (v1.Image, error) {
	if len(s.Binary) == 0 || len(s.StepBinary) == 0 {
		return nil, fmt.Errorf("no binary (hookrun and hookrun-step are both needed)")
	}
	if s.Created.IsZero() {
		s.Created = time.Unix(0, 0).UTC()
	}
	base := []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonroot, nonroot))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonroot))},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: nonroot},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	if len(s.CACerts) > 0 {
		base = append(base,
			file{name: "etc/ssl/", mode: 0o755, dir: true},
			file{name: "etc/ssl/certs/", mode: 0o755, dir: true},
			file{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: s.CACerts})
	}
	baseLayer, err := layer(base, s.Created)
	if err != nil {
		return nil, err
	}
	binLayer, err := layer([]file{{name: "hookrun", mode: 0o755, data: s.Binary}, {name: "hookrun-step", mode: 0o755, data: s.StepBinary}}, s.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range []v1.Layer{baseLayer, binLayer} {
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: s.Created}, CreatedBy: "hookrun hack/image", Comment: "hookrun image layer"}}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = s.Arch, "linux"
	cf.Created = v1.Time{Time: s.Created}
	cf.Config.Entrypoint = []string{"/hookrun"}
	// The executor's Pods call `hookrun-step init …` from this image (and older ones `hookrun step …`):
	// PATH lookup finds both.
	cf.Config.Env = []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"}
	cf.Config.User = fmt.Sprintf("%d:%d", nonroot, nonroot)
	cf.Config.WorkingDir = "/home/nonroot"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.source":   s.Source,
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.title":    "hookrun",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: s.Created})
}

func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

// compressedSize is the sum of the image's compressed layer sizes.
func compressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		sz, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += sz
	}
	return n, nil
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o755) }
