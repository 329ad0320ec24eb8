package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/bindings"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/templates"
)

// errConfig marks a trigger whose configuration is broken (missing template, CEL that does not compile…):
// the sender can do nothing about it.
var errConfig = errors.New("trigger configuration")

// trigger is one trigger an EventListener fires, whatever way it was declared (inline, triggerRef,
// triggerGroups, selectors).
type trigger struct {
	Name      string
	Namespace string // the trigger's namespace: secrets are read and resources created there by default
	Spec      triggersv1beta1.TriggerSpec
	// Group holds interceptors of a triggerGroup, run before the trigger's own.
	Group []*triggersv1beta1.TriggerInterceptor
	key   string // identity + version of the trigger object itself
}

// compiled is everything about a trigger that is worked out once per configuration version.
type compiled struct {
	chain    []interceptors.Interceptor
	first    string // metric label of the first interceptor (built-in name, "external" or "none")
	bindings *bindings.Set
	template *templates.Compiled
}

// config resolves EventListeners into triggers and compiles them, caching compiled triggers by the
// versions of every object they were built from, so an edit in the API applies to the next delivery.
type config struct {
	reader  client.Reader
	secrets interceptors.SecretGetter
	opts    interceptors.Options

	mu    sync.Mutex
	cache map[string]*compiled // key: versions of trigger + bindings + template
	bad   map[string]string    // trigger -> last configuration error, for /readyz
}

func newConfig(r client.Reader, opts interceptors.Options) *config {
	c := &config{reader: r, opts: opts, cache: map[string]*compiled{}, bad: map[string]string{}}
	c.secrets = &secretGetter{reader: r}
	return c
}

// triggers returns the triggers of el, in declaration order (inline and groups first, then selected).
func (c *config) triggers(ctx context.Context, el *triggersv1beta1.EventListener) ([]trigger, error) {
	var out []trigger
	seen := map[string]bool{}
	add := func(t trigger) {
		id := t.Namespace + "/" + t.Name
		if seen[id] {
			return
		}
		seen[id] = true
		out = append(out, t)
	}
	elKey := fmt.Sprintf("el/%s/%s", el.UID, el.ResourceVersion)
	for i := range el.Spec.Triggers {
		et := &el.Spec.Triggers[i]
		if et.TriggerRef != "" {
			var tr triggersv1beta1.Trigger
			if err := c.reader.Get(ctx, client.ObjectKey{Namespace: el.Namespace, Name: et.TriggerRef}, &tr); err != nil {
				if apierrors.IsNotFound(err) {
					add(trigger{Name: et.TriggerRef, Namespace: el.Namespace, key: "missing/" + et.TriggerRef})
					continue
				}
				return nil, err
			}
			add(fromTrigger(&tr))
			continue
		}
		name := et.Name
		if name == "" {
			name = el.Name + "-" + strconv.Itoa(i)
		}
		spec := triggersv1beta1.TriggerSpec{Bindings: et.Bindings, Name: name, Interceptors: et.Interceptors, ServiceAccountName: et.ServiceAccountName}
		if et.Template != nil {
			spec.Template = *et.Template
		}
		add(trigger{Name: name, Namespace: el.Namespace, Spec: spec, key: elKey + "/" + strconv.Itoa(i)})
	}
	for _, g := range el.Spec.TriggerGroups {
		sel, err := c.selectTriggers(ctx, el.Namespace, g.TriggerSelector.NamespaceSelector, g.TriggerSelector.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("triggerGroup %s: %w", g.Name, err)
		}
		for _, t := range sel {
			t.Group = g.Interceptors
			t.key = elKey + "/group/" + g.Name + "/" + t.key
			add(t)
		}
	}
	if el.Spec.LabelSelector != nil || len(el.Spec.NamespaceSelector.MatchNames) > 0 {
		sel, err := c.selectTriggers(ctx, el.Namespace, el.Spec.NamespaceSelector, el.Spec.LabelSelector)
		if err != nil {
			return nil, err
		}
		for _, t := range sel {
			add(t)
		}
	}
	return out, nil
}

func fromTrigger(tr *triggersv1beta1.Trigger) trigger {
	name := tr.Name
	return trigger{Name: name, Namespace: tr.Namespace, Spec: tr.Spec, key: fmt.Sprintf("trigger/%s/%s", tr.UID, tr.ResourceVersion)}
}

// selectTriggers lists Trigger objects like Tekton: namespaceSelector.matchNames (["*"] = every namespace;
// empty = the EventListener's namespace) and an optional labelSelector.
func (c *config) selectTriggers(ctx context.Context, elNS string, nsSel triggersv1beta1.NamespaceSelector, ls *metav1.LabelSelector) ([]trigger, error) {
	selector := labels.Everything()
	if ls != nil {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, fmt.Errorf("%w: labelSelector: %v", errConfig, err)
		}
		selector = s
	}
	namespaces := nsSel.MatchNames
	if len(namespaces) == 0 {
		namespaces = []string{elNS}
	}
	var out []trigger
	for _, ns := range namespaces {
		var list triggersv1beta1.TriggerList
		opts := []client.ListOption{client.MatchingLabelsSelector{Selector: selector}}
		if ns != "*" {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.reader.List(ctx, &list, opts...); err != nil {
			return nil, err
		}
		sort.Slice(list.Items, func(i, j int) bool {
			a, b := list.Items[i], list.Items[j]
			if a.Namespace != b.Namespace {
				return a.Namespace < b.Namespace
			}
			return a.Name < b.Name
		})
		for i := range list.Items {
			out = append(out, fromTrigger(&list.Items[i]))
		}
	}
	return out, nil
}

// compile returns the compiled form of t, building it when any object it depends on changed.
func (c *config) compile(ctx context.Context, t *trigger) (*compiled, error) {
	if strings.HasPrefix(t.key, "missing/") {
		return nil, fmt.Errorf("%w: Trigger %q not found in namespace %s", errConfig, t.Name, t.Namespace)
	}
	params, bindKey, err := c.bindingParams(ctx, t)
	if err != nil {
		return nil, c.markBad(t, err)
	}
	tplSpec, tplKey, err := c.templateSpec(ctx, t)
	if err != nil {
		return nil, c.markBad(t, err)
	}
	key := t.key + "|" + bindKey + "|" + tplKey
	c.mu.Lock()
	cp, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return cp, nil
	}
	cp = &compiled{first: "none"}
	for i, ti := range append(append([]*triggersv1beta1.TriggerInterceptor{}, t.Group...), t.Spec.Interceptors...) {
		if i == 0 {
			cp.first = interceptorLabel(ti)
		}
		ic, err := c.interceptor(ctx, ti)
		if err != nil {
			return nil, c.markBad(t, fmt.Errorf("%w: interceptors[%d]: %v", errConfig, i, err))
		}
		cp.chain = append(cp.chain, ic)
	}
	if cp.bindings, err = bindings.Compile(params); err != nil {
		return nil, c.markBad(t, fmt.Errorf("%w: bindings: %v", errConfig, err))
	}
	tpl := &templates.Template{}
	for _, p := range tplSpec.Params {
		tpl.Params = append(tpl.Params, templates.ParamSpec{Name: p.Name, Default: p.Default})
	}
	for _, rt := range tplSpec.ResourceTemplates {
		tpl.ResourceTemplates = append(tpl.ResourceTemplates, rt.Raw)
	}
	if cp.template, err = templates.Compile(tpl); err != nil {
		return nil, c.markBad(t, fmt.Errorf("%w: template: %v", errConfig, err))
	}
	c.mu.Lock()
	if len(c.cache) > 4096 { // versions pile up as objects change; start over rather than grow forever
		c.cache = map[string]*compiled{}
	}
	c.cache[key] = cp
	delete(c.bad, t.Namespace+"/"+t.Name)
	c.mu.Unlock()
	return cp, nil
}

func (c *config) markBad(t *trigger, err error) error {
	if errors.Is(err, errConfig) {
		c.mu.Lock()
		c.bad[t.Namespace+"/"+t.Name] = err.Error()
		c.mu.Unlock()
	}
	return err
}

// problems returns the configuration errors seen for triggers, for /readyz.
func (c *config) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.bad))
	for k, v := range c.bad {
		out = append(out, k+": "+v)
	}
	sort.Strings(out)
	return out
}

// bindingParams gathers the params of every binding of t, and a key of their versions.
func (c *config) bindingParams(ctx context.Context, t *trigger) ([]bindings.Param, string, error) {
	var params []bindings.Param
	var key strings.Builder
	for i, b := range t.Spec.Bindings {
		if b == nil {
			continue
		}
		switch ref := b.RefName(); {
		case ref != "":
			var ps []triggersv1beta1.Param
			switch b.Kind {
			case "", triggersv1beta1.NamespacedTriggerBindingKind:
				var tb triggersv1beta1.TriggerBinding
				if err := c.reader.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: ref}, &tb); err != nil {
					return nil, "", refErr(err, fmt.Sprintf("bindings[%d]: TriggerBinding %q in namespace %s", i, ref, t.Namespace))
				}
				ps = tb.Spec.Params
				fmt.Fprintf(&key, "tb/%s/%s;", tb.UID, tb.ResourceVersion)
			case triggersv1beta1.ClusterTriggerBindingKind:
				var ctb triggersv1beta1.ClusterTriggerBinding
				if err := c.reader.Get(ctx, client.ObjectKey{Name: ref}, &ctb); err != nil {
					return nil, "", refErr(err, fmt.Sprintf("bindings[%d]: ClusterTriggerBinding %q", i, ref))
				}
				ps = ctb.Spec.Params
				fmt.Fprintf(&key, "ctb/%s/%s;", ctb.UID, ctb.ResourceVersion)
			default:
				return nil, "", fmt.Errorf("%w: bindings[%d].kind: %q is not TriggerBinding or ClusterTriggerBinding", errConfig, i, b.Kind)
			}
			for _, p := range ps {
				params = append(params, bindings.Param{Name: p.Name, Value: p.Value})
			}
		case b.Name != "" && b.Value != nil:
			params = append(params, bindings.Param{Name: b.Name, Value: *b.Value})
		case b.Spec != nil:
			for _, p := range b.Spec.Params {
				params = append(params, bindings.Param{Name: p.Name, Value: p.Value})
			}
		default:
			return nil, "", fmt.Errorf("%w: bindings[%d]: needs ref, or name and value", errConfig, i)
		}
	}
	return params, key.String(), nil
}

func (c *config) templateSpec(ctx context.Context, t *trigger) (*triggersv1beta1.TriggerTemplateSpec, string, error) {
	tt := t.Spec.Template
	if tt.Spec != nil {
		return tt.Spec, "inline", nil
	}
	ref := tt.Name
	if tt.Ref != nil {
		ref = *tt.Ref
	}
	if ref == "" {
		return nil, "", fmt.Errorf("%w: template: needs ref or spec", errConfig)
	}
	var obj triggersv1beta1.TriggerTemplate
	if err := c.reader.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: ref}, &obj); err != nil {
		return nil, "", refErr(err, fmt.Sprintf("template: TriggerTemplate %q in namespace %s", ref, t.Namespace))
	}
	return &obj.Spec, fmt.Sprintf("tt/%s/%s", obj.UID, obj.ResourceVersion), nil
}

func refErr(err error, what string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %s not found", errConfig, what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// interceptor builds one interceptor: a built-in in-process, anything else over HTTP.
func (c *config) interceptor(ctx context.Context, ti *triggersv1beta1.TriggerInterceptor) (interceptors.Interceptor, error) {
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
		if r.Webhook.URL != nil {
			return interceptors.NewWebhook(*r.Webhook.URL, r.Params, c.opts), nil
		}
		if ref := r.Webhook.ObjectRef; ref != nil {
			url := fmt.Sprintf("http://%s.%s.svc/", ref.Name, ref.Namespace)
			return interceptors.NewWebhook(url, r.Params, c.opts), nil
		}
		return nil, errors.New("webhook interceptor needs url or objectRef")
	}
	var spec triggersv1beta1.InterceptorSpec
	switch r.Kind {
	case "", "ClusterInterceptor":
		var ci triggersv1beta1.ClusterInterceptor
		if err := c.reader.Get(ctx, client.ObjectKey{Name: r.Name}, &ci); err != nil {
			return nil, fmt.Errorf("ClusterInterceptor %q: %w", r.Name, err)
		}
		spec = ci.Spec
	case "NamespacedInterceptor", "Interceptor":
		return nil, fmt.Errorf("namespaced Interceptor %q: reference it from a Trigger in its namespace as a ClusterInterceptor, or give its URL in a webhook interceptor", r.Name)
	default:
		return nil, fmt.Errorf("ref.kind %q is not ClusterInterceptor or Interceptor", r.Kind)
	}
	url, httpClient, err := clientFor(spec.ClientConfig)
	if err != nil {
		return nil, fmt.Errorf("ClusterInterceptor %q: %w", r.Name, err)
	}
	opts := c.opts
	if httpClient != nil {
		opts.HTTPClient = httpClient
	}
	return interceptors.NewWebhook(url, r.Params, opts), nil
}

// clientFor turns an interceptor clientConfig into a URL, and an HTTP client trusting caBundle if given.
func clientFor(cc triggersv1beta1.ClientConfig) (string, *http.Client, error) {
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
	return url, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// secretGetter reads Secret keys through the informer cache.
type secretGetter struct{ reader client.Reader }

func (s *secretGetter) GetSecretKey(ctx context.Context, namespace, name, key string) ([]byte, error) {
	var sec corev1.Secret
	if err := s.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sec); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	v, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
	}
	return v, nil
}
