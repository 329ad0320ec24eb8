package resolve

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Tekton bundle layer annotations.
const (
	AnnotationAPIVersion = "dev.tekton.image.apiVersion"
	AnnotationKind       = "dev.tekton.image.kind"
	AnnotationName       = "dev.tekton.image.name"
)

// maxBundleLayers is Tekton's limit on the objects of one bundle.
const maxBundleLayers = 20

// bundle reads object name of kind (default task) from the Tekton bundle image bundle: the layer whose
// annotations name it, a tar holding one file with the object. secret names a docker config Secret
// (kubernetes.io/dockerconfigjson or dockercfg) in the run's namespace for private registries.
func (r *Resolvers) bundle(ctx context.Context, req Request) (Result, error) {
	ref, err := name.ParseReference(req.Params["bundle"])
	if err != nil {
		return Result{}, permanent(Bundles, "bundle", "not an image reference: %w", err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(r.opts.HTTPClient.Transport),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1})}
	if r.opts.HTTPClient.Transport == nil {
		opts[1] = remote.WithTransport(http.DefaultTransport)
	}
	if s := req.Params["secret"]; s != "" {
		auth, err := r.registryAuth(ctx, req.Namespace, s, ref.Context().RegistryStr())
		if err != nil {
			return Result{}, err
		}
		opts = append(opts, remote.WithAuth(auth))
	}
	digest := ""
	if d, ok := ref.(name.Digest); ok {
		digest = d.DigestStr()
	} else {
		desc, err := remote.Head(ref, opts...)
		if err != nil {
			return Result{}, registryError(err)
		}
		digest = desc.Digest.String()
	}
	// A bundle read with credentials is cached for that Secret only: another namespace (or no secret) must
	// not read a private bundle through the cache by its digest.
	version := digest
	if s := req.Params["secret"]; s != "" {
		version += "\x00" + req.Namespace + "/" + s
	}
	key := cacheKey(Bundles, withoutKey(req.Params, "secret"), version)
	if res, ok := r.cache.get(key); ok {
		return res, nil
	}
	img, err := remote.Image(ref.Context().Digest(digest), opts...)
	if err != nil {
		return Result{}, registryError(err)
	}
	data, err := bundleObject(img, kindParam(req), req.Params["name"], r.opts.MaxBytes)
	if err != nil {
		return Result{}, err
	}
	res := Result{Data: data}
	res.Source.URI = ref.Context().Name()
	res.Source.Digest = map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}
	res.Source.EntryPoint = req.Params["name"]
	r.cache.put(key, res)
	return res, nil
}

// bundleObject finds the layer annotated with kind and name and returns the one file its tar holds.
func bundleObject(img v1.Image, kind, objName string, maxBytes int64) ([]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, registryError(err)
	}
	if len(m.Layers) > maxBundleLayers {
		return nil, permanent(Bundles, "bundle", "the bundle has %d layers, more than Tekton's %d", len(m.Layers), maxBundleLayers)
	}
	var found []string
	for _, l := range m.Layers {
		k, n := l.Annotations[AnnotationKind], l.Annotations[AnnotationName]
		found = append(found, fmt.Sprintf("%s/%s", k, n))
		if !strings.EqualFold(k, kind) || n != objName {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, registryError(err)
		}
		rc, err := layer.Uncompressed()
		if err != nil {
			return nil, registryError(err)
		}
		defer rc.Close()
		data, err := readOneFile(rc, maxBytes)
		if err != nil {
			if errors.Is(err, errNotDocument) {
				return nil, permanent(Bundles, "name", "layer of %s %q: %w", kind, objName, err)
			}
			return nil, registryError(err)
		}
		return data, nil
	}
	if len(found) == 0 {
		return nil, permanent(Bundles, "bundle", "not a Tekton bundle: no layer carries the %s annotations", AnnotationKind)
	}
	return nil, permanent(Bundles, "name", "no %s %q in the bundle (it holds %s)", kind, objName, strings.Join(found, ", "))
}

// readOneFile returns the contents of the first regular file of a tar stream (at most maxBytes).
func readOneFile(r io.Reader, maxBytes int64) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the layer holds no file", errNotDocument)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotDocument, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxBytes {
			return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", errNotDocument, h.Name, h.Size, maxBytes)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxBytes))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotDocument, err)
		}
		return data, nil
	}
}

// registryAuth builds credentials for registry from a docker config Secret.
func (r *Resolvers) registryAuth(ctx context.Context, ns, secret, registry string) (authn.Authenticator, error) {
	raw, err := r.secretValue(ctx, Bundles, "secret", ns, secret, ".dockerconfigjson")
	var re *Error
	if errors.As(err, &re) && re.Param == "secret-key" {
		raw, err = r.secretValue(ctx, Bundles, "secret", ns, secret, ".dockercfg")
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil || cfg.Auths == nil {
		var legacy map[string]authn.AuthConfig
		if err2 := json.Unmarshal([]byte(raw), &legacy); err2 != nil {
			return nil, permanent(Bundles, "secret", "Secret %q is not a docker config: %v", secret, err)
		}
		cfg.Auths = legacy
	}
	for host, a := range cfg.Auths {
		h := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://"), "/")
		h = strings.TrimSuffix(h, "/v1")
		if h == registry || (registry == name.DefaultRegistry && strings.Contains(h, "docker.io")) {
			return authn.FromConfig(a), nil
		}
	}
	return nil, permanent(Bundles, "secret", "Secret %q holds no credentials for %s", secret, registry)
}

// registryError classifies a go-containerregistry error.
func registryError(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch c := terr.StatusCode; {
		case c == http.StatusNotFound:
			return permanent(Bundles, "bundle", "not found in the registry: %w", err)
		case c == http.StatusUnauthorized || c == http.StatusForbidden:
			return permanent(Bundles, "bundle", "the registry refused access (give a docker config Secret in param secret): %w", err)
		case terr.Temporary() || c >= 500:
			return transient(Bundles, "bundle", err)
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
				return permanent(Bundles, "bundle", "not found in the registry: %w", err)
			}
		}
		return permanent(Bundles, "bundle", "%w", err)
	}
	return transient(Bundles, "bundle", fmt.Errorf("unreachable: %w", err))
}

func withoutKey(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
