package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// hubVersion matches a plain version (Tekton Hub's x.y or Artifact Hub's x.y.z), optionally v-prefixed.
var hubVersion = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?$`)

// hub fetches a catalog Task or Pipeline from Artifact Hub (type artifact, the default) or Tekton Hub
// (type tekton) at an exact version. Version constraints (">= 0.5") are refused with a clear error.
func (r *Resolvers) hub(ctx context.Context, req Request) (Result, error) {
	kind := kindParam(req)
	if kind != KindTask && kind != KindPipeline {
		return Result{}, permanent(Hub, "kind", "%q is not one of task, pipeline", kind)
	}
	typ := strings.ToLower(req.Params["type"])
	if typ == "" {
		typ = "artifact"
	}
	m := hubVersion.FindStringSubmatch(strings.TrimSpace(req.Params["version"]))
	if m == nil {
		return Result{}, permanent(Hub, "version", "%q is not a version such as 0.9 or 0.9.0 (version constraints are not supported by hookrun)", req.Params["version"])
	}
	name, catalog := req.Params["name"], req.Params["catalog"]
	tektonHub, artifactHub := r.opts.TektonHubURL, r.opts.ArtifactHubURL
	if u := req.Params["url"]; u != "" {
		// Tekton's url param: this hub instead of the configured one.
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return Result{}, permanent(Hub, "url", "%q is not an absolute http(s) URL", u)
		}
		tektonHub, artifactHub = u, u
	}
	var endpoint string
	switch typ {
	case "tekton":
		if catalog == "" {
			catalog = "Tekton"
		}
		endpoint = fmt.Sprintf("%s/v1/resource/%s/%s/%s/%s.%s/yaml", strings.TrimRight(tektonHub, "/"),
			url.PathEscape(catalog), kind, url.PathEscape(name), m[1], m[2])
	default:
		if catalog == "" {
			catalog = "tekton-catalog-" + kind + "s"
		}
		patch := m[3]
		if patch == "" {
			patch = "0"
		}
		endpoint = fmt.Sprintf("%s/api/v1/packages/tekton-%s/%s/%s/%s.%s.%s", strings.TrimRight(artifactHub, "/"),
			kind, url.PathEscape(catalog), url.PathEscape(name), m[1], m[2], patch)
	}
	key := cacheKey(Hub, req.Params, typ+" "+endpoint)
	if res, ok := r.cache.get(key); ok {
		return res, nil
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return Result{}, permanent(Hub, "name", "%w", err)
	}
	hreq.Header.Set("Accept", "application/json")
	body, err := r.get(hreq, Hub, "name")
	if err != nil {
		return Result{}, err
	}
	data, err := parseHubAnswer(typ, body)
	if err != nil {
		return Result{}, permanent(Hub, "name", "answer of %s: %w", endpoint, err)
	}
	sum := sha256.Sum256(data)
	res := Result{Data: data}
	res.Source.URI = endpoint
	res.Source.Digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	r.cache.put(key, res)
	return res, nil
}

// parseHubAnswer extracts the manifest from a hub API answer: Tekton Hub's {"data":{"yaml":…}} or
// Artifact Hub's {"data":{"manifestRaw":…}}.
func parseHubAnswer(typ string, body []byte) ([]byte, error) {
	var ans struct {
		Data struct {
			YAML        *string `json:"yaml"`
			ManifestRaw *string `json:"manifestRaw"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", errNotDocument, err)
	}
	field, v := "data.manifestRaw", ans.Data.ManifestRaw
	if typ == "tekton" {
		field, v = "data.yaml", ans.Data.YAML
	}
	if v == nil || strings.TrimSpace(*v) == "" {
		return nil, fmt.Errorf("%w: no %s", errNotDocument, field)
	}
	return []byte(*v), nil
}
