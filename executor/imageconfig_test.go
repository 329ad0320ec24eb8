package executor

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func pushImage(t *testing.T, host, repo string, entrypoint, cmd []string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.Config.Entrypoint, cf.Config.Cmd = entrypoint, cmd
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := host + "/" + repo + ":v1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestEntrypointLookup: the entrypoint is read from a real (in-process) registry, cached, and an
// unreachable registry is an error remembered for a minute.
func TestEntrypointLookup(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	host := strings.TrimPrefix(srv.URL, "http://")
	kaniko := pushImage(t, host, "kaniko/executor", []string{"/kaniko/executor"}, nil)
	noCmd := pushImage(t, host, "empty", nil, nil)

	now := time.Now()
	c := newEntrypointCache(2 * time.Second)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	ic, err := c.lookup(ctx, kaniko, authn.DefaultKeychain)
	if err != nil || !slices.Equal(ic.argv([]string{"--dockerfile=D"}), []string{"/kaniko/executor", "--dockerfile=D"}) {
		t.Fatalf("%+v %v", ic, err)
	}
	if _, err := c.lookup(ctx, noCmd, authn.DefaultKeychain); !errors.Is(err, errNoEntrypoint) {
		t.Fatalf("no entrypoint: %v", err)
	}
	srv.Close()
	if ic, err := c.lookup(ctx, kaniko, authn.DefaultKeychain); err != nil || ic.Entrypoint[0] != "/kaniko/executor" {
		t.Fatalf("cached: %+v %v", ic, err)
	}
	gone := host + "/other:v1"
	start := time.Now()
	if _, err := c.lookup(ctx, gone, authn.DefaultKeychain); err == nil {
		t.Fatal("unreachable registry")
	}
	if _, err := c.lookup(ctx, gone, authn.DefaultKeychain); err == nil || time.Since(start) > 3*time.Second+c.timeout {
		t.Fatalf("the failure is remembered: %v after %v", err, time.Since(start))
	}
	now = now.Add(2 * time.Minute)
	if _, err := c.lookup(ctx, gone, authn.DefaultKeychain); err == nil {
		t.Fatal("still unreachable")
	}
}

func TestImageArgv(t *testing.T) {
	ic := imageCommand{Entrypoint: []string{"/bin/tool"}, Cmd: []string{"--help"}}
	if got := ic.argv(nil); !slices.Equal(got, []string{"/bin/tool", "--help"}) {
		t.Errorf("no args: %v", got)
	}
	if got := ic.argv([]string{"run"}); !slices.Equal(got, []string{"/bin/tool", "run"}) {
		t.Errorf("args replace CMD: %v", got)
	}
	if got := (imageCommand{Cmd: []string{"sh", "-c", "x"}}).argv(nil); !slices.Equal(got, []string{"sh", "-c", "x"}) {
		t.Errorf("CMD only: %v", got)
	}
}

func TestDockerKeychain(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:s3cret"))
	kc := newDockerKeychain(
		[]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`"},"ghcr.io":{"username":"u","password":"p"}}}`),
		[]byte(`{"registry.example.com:5000":{"auth":"`+auth+`"}}`), // .dockercfg
		[]byte(`not json`),
	)
	for _, tc := range []struct{ ref, user, pass string }{
		{"alpine", "bob", "s3cret"},
		{"ghcr.io/o/i:1", "u", "p"},
		{"registry.example.com:5000/x", "bob", "s3cret"},
		{"quay.io/x", "", ""},
	} {
		r, err := name.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != tc.user || cfg.Password != tc.pass {
			t.Errorf("%s: %q/%q", tc.ref, cfg.Username, cfg.Password)
		}
	}
}
