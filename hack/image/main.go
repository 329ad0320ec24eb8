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

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static hookrun binary (CGO_ENABLED=0) to install as /hookrun (required)")
	stepBinary := fs.String("step-binary", "", "the static hookrun-step binary (cmd/hookrun-step) to install as /hookrun-step (required)")
	arch := fs.String("arch", runtime.GOARCH, "GOARCH the binary was built for")
	certs := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to install (Debian's ca-certificates); empty: none")
	version := fs.String("version", "dev", "org.opencontainers.image.version")
	revision := fs.String("revision", "", "org.opencontainers.image.revision (the git commit)")
	source := fs.String("source", "https://github.com/hookrun/hookrun", "org.opencontainers.image.source")
	epoch := fs.String("source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "image and file times, Unix seconds (default 0: reproducible)")
	ociDir := fs.String("oci-layout", "", "write an OCI image layout to this directory")
	tarPath := fs.String("tarball", "", "write a docker-load tarball to this file (tagged with --tag)")
	tag := fs.String("tag", "ghcr.io/hookrun/hookrun:dev", "reference the tarball is tagged with")
	push := fs.String("push", "", "push the image to this reference (credentials from the docker config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *stepBinary == "" {
		fs.Usage()
		return errors.New("--binary and --step-binary are required")
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return fmt.Errorf("--binary: %w", err)
	}
	stepBin, err := os.ReadFile(*stepBinary)
	if err != nil {
		return fmt.Errorf("--step-binary: %w", err)
	}
	ca, err := readOptional(*certs)
	if err != nil {
		return fmt.Errorf("--ca-certs: %w (install Debian's ca-certificates, or pass --ca-certs '')", err)
	}
	created := time.Unix(0, 0).UTC()
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("--source-date-epoch %q: %w", *epoch, err)
		}
		created = time.Unix(sec, 0).UTC()
	}
	img, err := build(spec{Binary: bin, StepBinary: stepBin, CACerts: ca, Arch: *arch, Version: *version, Revision: *revision, Source: *source, Created: created})
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
	if *ociDir != "" {
		p, err := layout.Write(*ociDir, empty.Index)
		if err != nil {
			return fmt.Errorf("--oci-layout: %w", err)
		}
		if err := p.AppendImage(img); err != nil {
			return fmt.Errorf("--oci-layout: %w", err)
		}
		fmt.Printf("OCI layout: %s\n", *ociDir)
	}
	if *tarPath != "" {
		ref, err := name.ParseReference(*tag)
		if err != nil {
			return fmt.Errorf("--tag: %w", err)
		}
		if err := tarball.WriteToFile(*tarPath, ref, img); err != nil {
			return fmt.Errorf("--tarball: %w", err)
		}
		fmt.Printf("tarball: %s (%s)\n", *tarPath, ref)
	}
	if *push != "" {
		ref, err := name.ParseReference(*push)
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
