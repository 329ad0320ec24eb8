// Package faults holds tests that break real components on purpose: the API server stopping in the middle
// of a delivery, and the listener's promises about what then exists.
package faults

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

// TestAPIServerDownMidDelivery stops the API server while a delivery is between its interceptors and its
// creates: the answer is 503 and nothing exists; once the API server is back, the redelivery creates
// exactly one PipelineRun.
func TestAPIServerDownMidDelivery(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	// The listener reaches the API server through a TCP proxy this test can cut: every connection is
	// dropped and new ones are refused, exactly what a crashed or partitioned API server looks like from the
	// listener, while the real API server keeps its state for the checks afterwards.
	proxy := newCutProxy(t, strings.TrimSuffix(strings.TrimPrefix(env.Config.Host, "https://"), "/"))
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = "https://" + proxy.addr()
	lclient, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var cutOnCall atomic.Bool
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cutOnCall.Swap(false) {
			proxy.cut(true)
		}
		_, _ = io.Copy(w, r.Body) // a legacy webhook interceptor answers the event to go on with
	})}
	hln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = hook.Serve(hln) }()
	defer hook.Close()

	url := "http://" + hln.Addr().String() + "/"
	tt := &triggersv1beta1.TriggerTemplate{ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: ns}, Spec: triggersv1beta1.TriggerTemplateSpec{
		Params: []triggersv1beta1.ParamSpec{{Name: "rev"}},
	}}
	tt.Spec.ResourceTemplates = []triggersv1beta1.TriggerResourceTemplate{{}, {}}
	tt.Spec.ResourceTemplates[0].Raw = []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"first-"},"data":{"rev":"$(tt.params.rev)"}}`)
	tt.Spec.ResourceTemplates[1].Raw = []byte(`{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"generateName":"run-"},"spec":{"pipelineRef":{"name":"p"},"params":[{"name":"rev","value":"$(tt.params.rev)"}]}}`)
	rev := "$(body.rev)"
	el := &triggersv1beta1.EventListener{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: ns}, Spec: triggersv1beta1.EventListenerSpec{
		Triggers: []triggersv1beta1.EventListenerTrigger{{
			Name:         "t",
			Interceptors: []*triggersv1beta1.TriggerInterceptor{{Webhook: &triggersv1beta1.WebhookInterceptor{URL: &url}}},
			Bindings:     []*triggersv1beta1.TriggerSpecBinding{{Name: "rev", Value: &rev}},
			Template:     &triggersv1beta1.TriggerSpecTemplate{Ref: &tt.Name},
		}},
	}}
	for _, o := range []client.Object{tt, el} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cache, err := listener.NewCache(cfg, env.Scheme, []string{ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Warm(lctx, cache); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cache.Start(lctx) }()
	cache.WaitForCacheSync(lctx)
	srv := listener.New(cache, lclient, cache, listener.Options{Namespace: ns, EventListener: "hooks", HandlerTimeout: 4 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(lctx, ln) }()

	post := func() (int, listener.Response) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/hooks", strings.NewReader(`{"rev":"r1"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "the-delivery")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r listener.Response
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}

	cutOnCall.Store(true)
	code, resp := post()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("delivery with the API server unreachable: %d %+v", code, resp)
	}
	proxy.cut(false)
	// The API server is back; nothing from the failed delivery may exist.
	count := func() (int, int) {
		var prs pipelinev1.PipelineRunList
		var cms corev1.ConfigMapList
		if err := env.Client.List(ctx, &prs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.List(ctx, &cms, client.InNamespace(ns), client.HasLabels{triggersv1beta1.LabelEventID}); err != nil {
			t.Fatal(err)
		}
		return len(prs.Items), len(cms.Items)
	}
	if p, c := count(); p != 0 || c != 0 {
		t.Fatalf("after a 503: %d PipelineRuns and %d ConfigMaps exist, want none", p, c)
	}
	code, resp = post()
	if code != http.StatusAccepted {
		t.Fatalf("redelivery after restart: %d %+v", code, resp)
	}
	code, _ = post()
	if code != http.StatusAccepted {
		t.Fatalf("second redelivery: %d", code)
	}
	if p, c := count(); p != 1 || c != 1 {
		t.Fatalf("after redeliveries: %d PipelineRuns and %d ConfigMaps, want 1 and 1", p, c)
	}
}

// cutProxy forwards TCP to the API server until cut.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// cut drops every open connection and refuses new ones (down=true), or lets traffic through again.
func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}
