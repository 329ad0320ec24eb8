package listener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	"github.com/hookrun/hookrun/runctl"
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
	// Annotations carry run control (package runctl): the Trigger's, or the EventListener's for inline triggers.
	Annotations map[string]string
	key         string // identity + version of the trigger object itself
}

// compiled is everything about a trigger that is worked out once per configuration version.
type compiled struct {
	chain    []interceptors.Interceptor
	first    string // metric label of the first interceptor (built-in name, "external" or "none")
	bindings *bindings.Set
	template *templates.Compiled
	// verifier is chain[0] when it is a provider check: it runs on the raw body before any decode.
	verifier interceptors.Verifier
	// runctl is the trigger's run control: [skip ci], path filters, concurrency group.
	runctl *runctl.Policy
	// schedule fires the trigger on a schedule too (nil: webhooks only).
	schedule *runctl.Schedule
}

// config resolves EventListeners into triggers and compiles them, caching compiled triggers by the
// versions of every object they were built from, so an edit in the API applies to the next delivery.
type config struct {
	reader  client.Reader
	secrets interceptors.SecretGetter
	opts    interceptors.Options
	// requireAuth refuses to serve triggers that accept unauthenticated posts (--require-auth).
	requireAuth bool
	// watched are the namespaces reader sees (--watch-namespace); nil: every namespace.
	watched []string
	// cloudEvents sends deliveries' lifecycle CloudEvents to EventListeners' cloudEventURI.
	cloudEvents *cloudEventSender

	mu         sync.Mutex
	cache      map[string]*compiled    // key: versions of trigger + bindings + template + ClusterInterceptors
	bad        map[string]string       // trigger -> last configuration error, for /readyz
	transports map[string]*ciTransport // (Cluster)Interceptor kind/namespace/name -> its HTTP client, rebuilt when it changes
	open       []string                // triggers that accept unauthenticated posts, for /readyz
}

// ciTransport is the HTTP client of one ClusterInterceptor version: one Transport (connection pool, TLS
// trust) shared by every trigger that calls it.
type ciTransport struct {
	version string // uid/resourceVersion of the ClusterInterceptor it was built from
	url     string
	client  *http.Client
}

func newConfig(r client.Reader, opts interceptors.Options, requireAuth bool) *config {
	c := &config{reader: r, opts: opts, requireAuth: requireAuth, cache: map[string]*compiled{}, bad: map[string]string{},
		transports: map[string]*ciTransport{}, watched: watchedNamespaces(r), cloudEvents: newCloudEventSender()}
	c.secrets = &secretGetter{reader: r}
	return c
}

// triggers returns the triggers of el, in declaration order (inline and groups first, then selected). A
// configuration error of el itself (a namespaceSelector outside the watched namespaces, a bad
// labelSelector) is kept for /readyz and the EventListener's status until el is fixed.
func (c *config) triggers(ctx context.Context, el *triggersv1beta1.EventListener) ([]trigger, error) {
	out, err := c.collect(ctx, el)
	key := el.Namespace + "/" + el.Name + " (EventListener)"
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(err, errConfig):
		c.bad[key] = err.Error()
	case err == nil:
		delete(c.bad, key)
	}
	return out, err
}

func (c *config) collect(ctx context.Context, el *triggersv1beta1.EventListener) ([]trigger, error) {
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
		add(trigger{Name: name, Namespace: el.Namespace, Spec: spec, Annotations: el.Annotations, key: elKey + "/" + strconv.Itoa(i)})
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

// chain is the interceptors t runs, in order: its triggerGroup's, then its own.
func (t *trigger) chain() []*triggersv1beta1.TriggerInterceptor {
	return append(append([]*triggersv1beta1.TriggerInterceptor{}, t.Group...), t.Spec.Interceptors...)
}

func fromTrigger(tr *triggersv1beta1.Trigger) trigger {
	name := tr.Name
	return trigger{Name: name, Namespace: tr.Namespace, Spec: tr.Spec, Annotations: tr.Annotations,
		key: fmt.Sprintf("trigger/%s/%s", tr.UID, tr.ResourceVersion)}
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
	if err := c.checkWatched(namespaces); err != nil {
		return nil, err
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

// checkWatched refuses a namespaceSelector naming namespaces this listener does not watch: that is a
// configuration error (answered 500 and shown on /readyz), not an unavailable API worth retrying.
func (c *config) checkWatched(namespaces []string) error {
	if c.watched == nil {
		return nil
	}
	var outside []string
	for _, ns := range namespaces {
		if ns == "*" {
			return fmt.Errorf("%w: namespaceSelector.matchNames [\"*\"] selects Triggers in every namespace, but this listener watches only %s (--watch-namespace)",
				errConfig, strings.Join(c.watched, ", "))
		}
		if !slices.Contains(c.watched, ns) {
			outside = append(outside, ns)
		}
	}
	if len(outside) > 0 {
		return fmt.Errorf("%w: namespaceSelector.matchNames names %s, outside the namespaces this listener watches (%s; --watch-namespace)",
			errConfig, strings.Join(outside, ", "), strings.Join(c.watched, ", "))
	}
	return nil
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
	chain := t.chain()
	if c.requireAuth && !authenticating(chain) {
		return nil, c.markBad(t, fmt.Errorf("%w: %s", errConfig, openTriggerRefused))
	}
	key := t.key + "|" + bindKey + "|" + tplKey + "|" + c.interceptorVersions(ctx, t.Namespace, chain)
	c.mu.Lock()
	cp, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return cp, nil
	}
	cp = &compiled{first: "none"}
	for i, ti := range chain {
		if i == 0 {
			cp.first = interceptorLabel(ti)
		}
		ic, err := c.interceptor(ctx, t.Namespace, ti)
		if err != nil {
			return nil, c.markBad(t, fmt.Errorf("%w: interceptors[%d]: %v", errConfig, i, err))
		}
		cp.chain = append(cp.chain, ic)
	}
	if len(cp.chain) > 0 {
		cp.verifier, _ = cp.chain[0].(interceptors.Verifier)
	}
	if cp.runctl, err = runctl.Parse(t.Annotations); err != nil {
		return nil, c.markBad(t, fmt.Errorf("%w: %v", errConfig, err))
	}
	if cp.schedule, err = runctl.ParseSchedule(t.Annotations); err != nil {
		return nil, c.markBad(t, fmt.Errorf("%w: %v", errConfig, err))
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

// setOpen records the triggers (namespace/name) that accept unauthenticated posts, for /readyz.
func (c *config) setOpen(open []string) {
	sort.Strings(open)
	c.mu.Lock()
	c.open = open
	c.mu.Unlock()
}

// openTriggers returns what setOpen last recorded; with --require-auth they are listed as invalid
// triggers instead.
func (c *config) openTriggers() []string {
	if c.requireAuth {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.open...)
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
