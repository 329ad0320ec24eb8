package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// http fetches url (http or https), with basic auth when http-username and http-password-secret /
// http-password-secret-key (a Secret in the run's namespace) are given. Not cached: a URL's content may
// change without the URL changing.
func (r *Resolvers) http(ctx context.Context, req Request) (Result, error) {
	raw := req.Params["url"]
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{}, permanent(HTTP, "url", "%q is not an http(s) URL", raw)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return Result{}, permanent(HTTP, "url", "%w", err)
	}
	if user := req.Params["http-username"]; user != "" {
		pw, err := r.secretValue(ctx, HTTP, "http-password-secret", req.Namespace, req.Params["http-password-secret"], req.Params["http-password-secret-key"])
		if err != nil {
			return Result{}, err
		}
		hreq.SetBasicAuth(user, pw)
	}
	data, err := r.get(hreq, HTTP, "url")
	if err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(data)
	res := Result{Data: data}
	res.Source.URI = raw
	res.Source.Digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	return res, nil
}

// get performs hreq and returns the body of a 2xx answer (at most MaxBytes). 404 and other 4xx are
// permanent (blamed on param); 408, 429, 5xx and network errors are transient.
func (r *Resolvers) get(hreq *http.Request, resolver, param string) ([]byte, error) {
	resp, err := r.opts.HTTPClient.Do(hreq)
	if err != nil {
		return nil, transient(resolver, param, fmt.Errorf("unreachable: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBytes+1))
	if err != nil {
		return nil, transient(resolver, param, fmt.Errorf("read %s: %w", redact(hreq.URL), err))
	}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return nil, transient(resolver, param, fmt.Errorf("GET %s: %s", redact(hreq.URL), resp.Status))
	case c == http.StatusNotFound:
		return nil, permanent(resolver, param, "GET %s: not found (%s)", redact(hreq.URL), resp.Status)
	default:
		return nil, permanent(resolver, param, "GET %s: %s", redact(hreq.URL), resp.Status)
	}
	if int64(len(body)) > r.opts.MaxBytes {
		return nil, permanent(resolver, param, "GET %s: more than %d bytes", redact(hreq.URL), r.opts.MaxBytes)
	}
	return body, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

// secretValue reads key of Secret name in ns; param names the param that gave the Secret's name.
func (r *Resolvers) secretValue(ctx context.Context, resolver, param, ns, name, key string) (string, error) {
	if r.opts.Reader == nil {
		return "", permanent(resolver, param, "no cluster reader configured to read Secret %q", name)
	}
	var sec corev1.Secret
	if err := r.opts.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sec); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return "", permanent(resolver, param, "Secret %q in namespace %q: %w", name, ns, err)
		}
		return "", transient(resolver, param, fmt.Errorf("get Secret %s/%s: %w", ns, name, err))
	}
	v, ok := sec.Data[key]
	if !ok {
		return "", permanent(resolver, param+"-key", "Secret %q has no key %q", name, key)
	}
	return string(v), nil
}

var errNotDocument = errors.New("not a document")
