package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
)

// interceptor builds one interceptor: a built-in in-process, anything else over HTTP.
func (c *config) interceptor(ctx context.Context, ns string, ti *triggersv1beta1.TriggerInterceptor) (interceptors.Interceptor, error) {
	if ti == nil {
		return nil, errors.New("empty interceptor")
	}
	r, err := ti.Resolve()
	if err != nil {
		return nil, err
	}
	if r.Builtin() {
		return interceptors.Build(r.Name, r.Params, c.secrets, c.opts)
	}
	if r.Webhook != nil {
		return legacyWebhook(ns, r.Webhook, c.opts)
	}
	ep, err := c.endpoint(ctx, ns, r)
	if err != nil {
		return nil, err
	}
	tr, err := c.transport(ep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.what, err)
	}
	opts := c.opts
	opts.HTTPClient = tr.client
	return interceptors.NewWebhook(tr.url, r.Params, opts), nil
}

// legacyWebhook builds Tekton's v1alpha1 `webhook:` interceptor: its url, or the Service its objectRef
// names (a missing namespace is the trigger's, ns, as Tekton), and its header list.
func legacyWebhook(ns string, wh *triggersv1beta1.WebhookInterceptor, opts interceptors.Options) (interceptors.Interceptor, error) {
	var url string
	switch ref := wh.ObjectRef; {
	case wh.URL != nil && *wh.URL != "":
		url = *wh.URL
	case ref != nil:
		if (ref.Kind != "" && ref.Kind != "Service") || (ref.APIVersion != "" && ref.APIVersion != "v1") {
			return nil, fmt.Errorf("webhook.objectRef: %s %s is not a v1 Service", ref.APIVersion, ref.Kind)
		}
		if ref.Name == "" {
			return nil, errors.New("webhook.objectRef.name is empty")
		}
		refNS := ref.Namespace
		if refNS == "" {
			refNS = ns
		}
		url = fmt.Sprintf("http://%s.%s.svc/", ref.Name, refNS)
	default:
		return nil, errors.New("webhook interceptor needs url or objectRef")
	}
	headers := make([]interceptors.LegacyHeader, 0, len(wh.Header))
	for i, h := range wh.Header {
		lh, err := interceptors.ParseLegacyHeader(h.Name, h.Value.Raw)
		if err != nil {
			return nil, fmt.Errorf("webhook.header[%d]: %w", i, err)
		}
		headers = append(headers, lh)
	}
	return interceptors.NewLegacyWebhook(url, headers, opts), nil
}

// interceptorObject is a ClusterInterceptor or a namespaced Interceptor a trigger references by name.
type interceptorObject struct {
	what    string // `ClusterInterceptor "x"` or `Interceptor "x" in namespace ns`, for messages
	key     string // cache key of its transport: kind/namespace/name
	version string // uid/resourceVersion
	cc      triggersv1beta1.ClientConfig
}

// endpoint reads the interceptor r references: a ClusterInterceptor (ref.kind empty or
// ClusterInterceptor), or an Interceptor in the trigger's namespace ns (ref.kind NamespacedInterceptor, as
// Tekton spells it, or Interceptor).
func (c *config) endpoint(ctx context.Context, ns string, r triggersv1beta1.Resolved) (interceptorObject, error) {
	switch r.Kind {
	case "", "ClusterInterceptor":
		var ci triggersv1beta1.ClusterInterceptor
		what := fmt.Sprintf("ClusterInterceptor %q", r.Name)
		if err := c.reader.Get(ctx, client.ObjectKey{Name: r.Name}, &ci); err != nil {
			return interceptorObject{}, fmt.Errorf("%s: %w", what, err)
		}
		return interceptorObject{what: what, key: "ci//" + r.Name, version: string(ci.UID) + "/" + ci.ResourceVersion, cc: ci.Spec.ClientConfig}, nil
	case "NamespacedInterceptor", "Interceptor":
		var in triggersv1beta1.Interceptor
		what := fmt.Sprintf("Interceptor %q in namespace %s", r.Name, ns)
		if err := c.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: r.Name}, &in); err != nil {
			return interceptorObject{}, fmt.Errorf("%s: %w", what, err)
		}
		return interceptorObject{what: what, key: "in/" + ns + "/" + r.Name, version: string(in.UID) + "/" + in.ResourceVersion, cc: in.Spec.ClientConfig}, nil
	}
	return interceptorObject{}, fmt.Errorf("ref.kind %q is not ClusterInterceptor or NamespacedInterceptor", r.Kind)
}

// transport returns the HTTP client of a ClusterInterceptor, built once per version of it: triggers
// calling the same ClusterInterceptor share one Transport and its connections. When the
// ClusterInterceptor changes (URL, service, caBundle), the next compile builds a new one and the old
// one's idle connections are closed.
func (c *config) transport(ep interceptorObject) (*ciTransport, error) {
	version := ep.version
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.transports[ep.key]; ok && tr.version == version {
		return tr, nil
	}
	url, tlsConf, err := interceptorEndpoint(ep.cc)
	if err != nil {
		return nil, err
	}
	if old, ok := c.transports[ep.key]; ok {
		old.client.CloseIdleConnections()
	}
	if len(c.transports) >= 256 { // ClusterInterceptors come from configuration; bound the cache all the same
		for _, tr := range c.transports {
			tr.client.CloseIdleConnections()
		}
		c.transports = map[string]*ciTransport{}
	}
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	tr := &ciTransport{version: version, url: url,
		client: &http.Client{Transport: t, Timeout: timeout, CheckRedirect: interceptors.NoRedirects}}
	c.transports[ep.key] = tr
	return tr, nil
}

// interceptorVersions is the part of a compiled trigger's cache key that the ClusterInterceptors and
// Interceptors (in ns, the trigger's namespace) its chain calls contribute: editing one recompiles the
// triggers that use it.
func (c *config) interceptorVersions(ctx context.Context, ns string, chain []*triggersv1beta1.TriggerInterceptor) string {
	var b strings.Builder
	for _, ti := range chain {
		if ti == nil {
			continue
		}
		r, err := ti.Resolve()
		if err != nil || r.Builtin() || r.Webhook != nil {
			continue
		}
		ep, err := c.endpoint(ctx, ns, r)
		if err != nil {
			fmt.Fprintf(&b, "%s/%s/missing;", r.Kind, r.Name)
			continue
		}
		fmt.Fprintf(&b, "%s/%s;", ep.key, ep.version)
	}
	return b.String()
}

// interceptorEndpoint turns an interceptor clientConfig into a URL, and a TLS configuration trusting
// caBundle if given (nil: the system roots).
func interceptorEndpoint(cc triggersv1beta1.ClientConfig) (string, *tls.Config, error) {
	var url string
	switch {
	case cc.URL != nil && *cc.URL != "":
		url = *cc.URL
	case cc.Service != nil:
		scheme, port := "http", int32(80)
		if len(cc.CaBundle) > 0 {
			scheme, port = "https", 8443
		}
		if cc.Service.Port != nil {
			port = *cc.Service.Port
		}
		url = fmt.Sprintf("%s://%s.%s.svc:%d/%s", scheme, cc.Service.Name, cc.Service.Namespace, port, strings.TrimPrefix(cc.Service.Path, "/"))
	default:
		return "", nil, errors.New("clientConfig needs url or service")
	}
	if len(cc.CaBundle) == 0 {
		return url, nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cc.CaBundle) {
		return "", nil, errors.New("clientConfig.caBundle holds no PEM certificate")
	}
	return url, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
