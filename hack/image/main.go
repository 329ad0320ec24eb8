// Command image builds hookrun's container image without a Docker engine (`make image`): the static
// binary on a minimal base made here (nonroot passwd entry, /tmp, CA certificates from the build machine's
// ca-certificates), reproducibly (the same inputs give the same digest), written as an OCI image layout
// and a `docker load`-able tarball, and pushed with --push.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "image:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	binary, stepBinary, arch, certs, version, revision, source, epoch string
	ociDir, tarPath, tag, push                                        string
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	sp, err := o.spec()
	if err != nil {
		return err
	}
	img, err := build(sp)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := compressedSize(img)
	if err != nil {
		return err
	}
	fmt.Printf("image %s: %.1f MB compressed\n", digest, float64(size)/1e6)
	return o.write(img, digest)
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.binary, "binary", "", "the static hookrun binary (CGO_ENABLED=0) to install as /hookrun (required)")
	fs.StringVar(&o.stepBinary, "step-binary", "", "the static hookrun-step binary (cmd/hookrun-step) to install as /hookrun-step (required)")
	fs.StringVar(&o.arch, "arch", runtime.GOARCH, "GOARCH the binary was built for")
	fs.StringVar(&o.certs, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to install (Debian's ca-certificates); empty: none")
	fs.StringVar(&o.version, "version", "dev", "org.opencontainers.image.version")
	fs.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision (the git commit)")
	fs.StringVar(&o.source, "source", "https://github.com/hookrun/hookrun", "org.opencontainers.image.source")
	fs.StringVar(&o.epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "image and file times, Unix seconds (default 0: reproducible)")
	fs.StringVar(&o.ociDir, "oci-layout", "", "write an OCI image layout to this directory")
	fs.StringVar(&o.tarPath, "tarball", "", "write a docker-load tarball to this file (tagged with --tag)")
	fs.StringVar(&o.tag, "tag", "ghcr.io/hookrun/hookrun:dev", "reference the tarball is tagged with")
	fs.StringVar(&o.push, "push", "", "push the image to this reference (credentials from the docker config)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.binary == "" || o.stepBinary == "" {
		fs.Usage()
		return o, errors.New("--binary and --step-binary are required")
	}
	return o, nil
}

// spec reads the binaries and CA bundle the flags name into the image's spec.
func (o options) spec() (spec, error) {
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return spec{}, fmt.Errorf("--binary: %w", err)
	}
	stepBin, err := os.ReadFile(o.stepBinary)
	if err != nil {
		return spec{}, fmt.Errorf("--step-binary: %w", err)
	}
	ca, err := readOptional(o.certs)
	if err != nil {
		return spec{}, fmt.Errorf("--ca-certs: %w (install Debian's ca-certificates, or pass --ca-certs '')", err)
	}
	created := time.Unix(0, 0).UTC()
	if o.epoch != "" {
		sec, err := strconv.ParseInt(o.epoch, 10, 64)
		if err != nil {
			return spec{}, fmt.Errorf("--source-date-epoch %q: %w", o.epoch, err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	return spec{Binary: bin, StepBinary: stepBin, CACerts: ca, Arch: o.arch, Version: o.version, Revision: o.revision, Source: o.source, Created: created}, nil
}

// write writes the image where the flags say: an OCI layout, a docker-load tarball, a registry.
func (o options) write(img v1.Image, digest v1.Hash) error {
	if o.ociDir != "" {
		p, err := layout.Write(o.ociDir, empty.Index)
		if err != nil {
			return fmt.Errorf("--oci-layout: %w", err)
		}
		if err := p.AppendImage(img); err != nil {
			return fmt.Errorf("--oci-layout: %w", err)
		}
		fmt.Printf("OCI layout: %s\n", o.ociDir)
	}
	if o.tarPath != "" {
		ref, err := name.ParseReference(o.tag)
		if err != nil {
			return fmt.Errorf("--tag: %w", err)
		}
		if err := tarball.WriteToFile(o.tarPath, ref, img); err != nil {
			return fmt.Errorf("--tarball: %w", err)
		}
		fmt.Printf("tarball: %s (%s)\n", o.tarPath, ref)
	}
	if o.push != "" {
		ref, err := name.ParseReference(o.push)
		if err != nil {
			return fmt.Errorf("--push: %w", err)
		}
		if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		fmt.Printf("pushed %s@%s\n", ref.Context(), digest)
	}
	return nil
}
