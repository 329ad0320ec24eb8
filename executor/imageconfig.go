package executor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Image entrypoints. A step that names only an image (and maybe args) runs the image's own entrypoint:
// to wrap it — so that it can be sequenced with the other steps as a regular container — the executor
// reads the image's config from its registry, with the Pod's pull credentials, and caches what it found
// by image reference. When the registry cannot be reached the Pod falls back to init-container steps
// (doc.go), so nothing that ran before stops running.

// imageCommand is an image's ENTRYPOINT and CMD.
type imageCommand struct {
	Entrypoint, Cmd []string
}

// entrypointCache looks image configs up and remembers them: a digest reference forever, a tag for an
// hour, a failure for a minute (so an unreachable registry costs one timeout a minute, not one a Pod).
type entrypointCache struct {
	timeout  time.Duration
	platform v1.Platform
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]entrypointEntry
}

type entrypointEntry struct {
	cmd     imageCommand
	err     error
	expires time.Time // zero: never
}

const maxEntrypointEntries = 1024

func newEntrypointCache(timeout time.Duration) *entrypointCache {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &entrypointCache{timeout: timeout, platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		now: time.Now, entries: map[string]entrypointEntry{}}
}

// errNoEntrypoint: the image's config names no entrypoint and no command.
var errNoEntrypoint = errors.New("the image's config has no ENTRYPOINT or CMD")

// lookup returns the image's entrypoint and command, reading the registry with kc on a cache miss.
func (c *entrypointCache) lookup(ctx context.Context, image string, kc authn.Keychain) (imageCommand, error) {
	c.mu.Lock()
	e, ok := c.entries[image]
	c.mu.Unlock()
	if ok && (e.expires.IsZero() || c.now().Before(e.expires)) {
		return e.cmd, e.err
	}
	cmd, digest, err := c.fetch(ctx, image, kc)
	e = entrypointEntry{cmd: cmd, err: err}
	switch {
	case err != nil:
		e.expires = c.now().Add(time.Minute)
	case !digest:
		e.expires = c.now().Add(time.Hour)
	}
	c.mu.Lock()
	if len(c.entries) >= maxEntrypointEntries {
		c.entries = map[string]entrypointEntry{}
	}
	c.entries[image] = e
	c.mu.Unlock()
	return cmd, err
}

func (c *entrypointCache) fetch(ctx context.Context, image string, kc authn.Keychain) (imageCommand, bool, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return imageCommand{}, false, fmt.Errorf("image %q: %w", image, err)
	}
	_, byDigest := ref.(name.Digest)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(c.platform))
	if err != nil {
		return imageCommand{}, byDigest, fmt.Errorf("image %q: %w", image, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return imageCommand{}, byDigest, fmt.Errorf("image %q config: %w", image, err)
	}
	out := imageCommand{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd}
	if len(out.Entrypoint) == 0 && len(out.Cmd) == 0 {
		return out, byDigest, fmt.Errorf("image %q: %w", image, errNoEntrypoint)
	}
	return out, byDigest, nil
}

// argv is what a container of the image runs given the step's args (Kubernetes' rule: args replace CMD,
// the entrypoint stays).
func (ic imageCommand) argv(args []string) []string {
	if len(args) > 0 {
		return append(append([]string(nil), ic.Entrypoint...), args...)
	}
	return append(append([]string(nil), ic.Entrypoint...), ic.Cmd...)
}

// dockerKeychain resolves registry credentials from docker config JSON documents (the
// .dockerconfigjson of kubernetes.io/dockerconfigjson Secrets, or the older .dockercfg map), falling
// back to anonymous.
type dockerKeychain struct {
	auths map[string]authn.AuthConfig // registry host → credentials
}

func newDockerKeychain(configs ...[]byte) dockerKeychain {
	kc := dockerKeychain{auths: map[string]authn.AuthConfig{}}
	for _, raw := range configs {
		var doc struct {
			Auths map[string]authn.AuthConfig `json:"auths"`
		}
		if json.Unmarshal(raw, &doc) != nil || doc.Auths == nil {
			var old map[string]authn.AuthConfig // .dockercfg: the map itself
			if json.Unmarshal(raw, &old) != nil {
				continue
			}
			doc.Auths = old
		}
		for host, a := range doc.Auths {
			if a.Auth != "" && a.Username == "" {
				if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					if u, p, ok := strings.Cut(string(b), ":"); ok {
						a.Username, a.Password = u, p
					}
				}
			}
			kc.auths[registryHost(host)] = a
		}
	}
	return kc
}

// registryHost normalises a docker config key ("https://index.docker.io/v1/", "ghcr.io") to a host.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	if key == "index.docker.io" || key == "registry-1.docker.io" || key == "docker.io" {
		return name.DefaultRegistry
	}
	return key
}

// Resolve implements authn.Keychain.
func (kc dockerKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := kc.auths[registryHost(r.RegistryStr())]; ok {
		return authn.FromConfig(a), nil
	}
	return authn.Anonymous, nil
}
