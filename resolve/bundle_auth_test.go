package resolve

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A private registry: the bundles resolver authenticates with the docker config Secret named by param secret.
func TestBundlesSecret(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "robot" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	data := tarOf(t, "hello.yaml", []byte(taskYAML))
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(data))), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, Annotations: map[string]string{
		AnnotationAPIVersion: "v1", AnnotationKind: "task", AnnotationName: "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(host + "/private/hello:v1")
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "robot", Password: "pw"})); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("robot:pw"))
	res := newTest(t, Options{Reader: fakeSecrets{
		"ci/regcred": {".dockerconfigjson": `{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`},
		"ci/other":   {".dockerconfigjson": `{"auths":{"elsewhere.example.com":{"auth":"` + auth + `"}}}`},
	}})
	digest, _ := img.Digest()
	byDigest := host + "/private/hello@" + digest.String()
	got, err := res.Resolve(context.Background(), Request{Resolver: Bundles, Namespace: "ci",
		Params: map[string]string{"bundle": byDigest, "name": "hello", "secret": "regcred"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got.Data), "kind: Task") {
		t.Errorf("data %q", got.Data)
	}
	for _, tc := range []struct{ secret, param string }{{"", "bundle"}, {"other", "secret"}, {"missing", "secret"}} {
		// By digest: what is cached for regcred must not be served without it.
		params := map[string]string{"bundle": byDigest, "name": "hello"}
		if tc.secret != "" {
			params["secret"] = tc.secret
		}
		_, err := res.Resolve(context.Background(), Request{Resolver: Bundles, Namespace: "ci", Params: params})
		var re *Error
		if !errors.As(err, &re) || !errors.Is(err, ErrPermanent) || re.Param != tc.param {
			t.Errorf("secret %q: want a permanent error naming %s, got %v", tc.secret, tc.param, err)
		}
	}
}
