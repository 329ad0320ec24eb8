package listener_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// tektonFixture: open EventListeners (no interceptors: anyone may post, as on a Tekton sink without
// them), each exercising one Tekton behaviour.
const tektonFixture = `
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: plain}
spec:
  params: [{name: v, default: "none"}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: plain-}
    spec:
      pipelineRef: {name: build}
      params: [{name: v, value: $(tt.params.v)}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: unknown-field}
spec:
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: strict-}
    spec:
      pipelineRef: {name: build}
      taskRunTemplate: {serviceAccountName: default, notAField: x}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata:
  name: old-escape
  annotations: {triggers.tekton.dev/old-escape-quotes: "true"}
spec:
  params: [{name: v}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata: {generateName: escaped-}
    spec:
      pipelineRef: {name: build}
      params: [{name: v, value: "$(tt.params.v)"}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: oldescape}
spec:
  triggers:
  - {name: object, bindings: [{name: v, value: $(body.object)}], template: {ref: old-escape}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: open}
spec:
  triggers:
  - {name: open, bindings: [{name: v, value: $(body.v)}], template: {ref: plain}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: strict}
spec:
  triggers:
  - {name: strict, template: {ref: unknown-field}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: novalidate
  annotations: {tekton.dev/payload-validation: "false"}
spec:
  triggers:
  - name: raw
    interceptors:
    - ref: {name: cel}
      params: [{name: filter, value: "body == {}"}]
    bindings: [{name: v, value: raw}]
    template: {ref: plain}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: elsewhere}
spec:
  namespaceSelector: {matchNames: [some-namespace-not-watched]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: everywhere}
spec:
  namespaceSelector: {matchNames: ["*"]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: celempty}
spec:
  triggers:
  - name: celempty
    interceptors:
    - ref: {name: cel}
      params:
      - {name: filter, value: "body.items.first() == null && body.items.last() == null"}
      - {name: overlays, value: [{key: isnull, expression: "string(body.items.first() == null)"}]}
    bindings: [{name: v, value: $(extensions.isnull)}]
    template: {ref: plain}
`

func post(t *testing.T, url, ctype, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(text, &m)
	return resp.StatusCode, string(text), m
}

// TestTektonSink: deliveries answered as Tekton's sink answers them (Content-Type ignored, payload
// validation annotation, CEL first/last on empty lists), resources created with strict field validation,
// and a namespaceSelector outside the watched namespaces answered as a configuration error.
func TestTektonSink(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, tektonFixture)
	h := start(t, ns, nil)
	cases := []struct {
		name, el, ctype, body string
		code                  int
		want                  []string // substrings of the answer
		param                 string   // the created PipelineRun's param v, when one is created
	}{
		{"json without content type (curl -d)", "open", "", `{"v":"no-ctype"}`, 202, []string{`"created"`}, "no-ctype"},
		{"json sent form-encoded (curl -d without -H)", "open", "application/x-www-form-urlencoded", `{"v":"form"}`, 202, []string{`"created"`}, "form"},
		{"json as text/xml", "open", "text/xml", `{"v":"xml"}`, 202, []string{`"created"`}, "xml"},
		{"not json", "open", "text/plain", `v=1`, 400, []string{"not valid JSON"}, ""},
		{"payload validation off: not json", "novalidate", "text/plain", `v=1&w=2`, 202, []string{`"created"`}, "raw"},
		{"payload validation off: empty", "novalidate", "", ``, 202, []string{`"created"`}, "raw"},
		{"strict field validation", "strict", "application/json", `{"a":1}`, 500, []string{"notAField", "spec.taskRunTemplate"}, ""},
		{"namespaceSelector outside the watched namespaces", "elsewhere", "application/json", `{"a":2}`, 500,
			[]string{"some-namespace-not-watched", "outside the namespaces this listener watches"}, ""},
		{"namespaceSelector every namespace", "everywhere", "application/json", `{"a":3}`, 500, []string{"every namespace", ns}, ""},
		// Tekton's old-escape-quotes: a JSON object from the payload, quoted in the template, is a string
		// holding that JSON (hookrun always inserts values escaped, which is what the annotation asks for).
		{"old-escape-quotes", "oldescape", "application/json", `{"object":{"name":"testing","q":"a \"b\""}}`, 202, []string{`"created"`},
			`{"name":"testing","q":"a \"b\""}`},
		{"first()/last() of an empty list are null", "celempty", "application/json", `{"items":[]}`, 202, []string{`"created"`}, "true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, text, resp := post(t, h.url+"/hooks/"+c.el, c.ctype, c.body)
			if code != c.code {
				t.Fatalf("status %d, want %d: %s", code, c.code, text)
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("answer lacks %q: %s", w, text)
				}
			}
			if c.param == "" {
				return
			}
			name := createdName(resp)
			for _, pr := range pipelineRuns(t, ns) {
				if pr.Name == name {
					if got := params(&pr)["v"]; got != c.param {
						t.Errorf("param v = %q, want %q", got, c.param)
					}
					return
				}
			}
			t.Errorf("PipelineRun %q not found: %s", name, text)
		})
	}
	for _, pr := range pipelineRuns(t, ns) {
		if strings.HasPrefix(pr.Name, "strict-") {
			t.Errorf("strict validation let %s through", pr.Name)
		}
	}
	// The EventListener's own configuration error is reported with the others (/readyz, its status).
	_, problems := h.srv.Health()
	if !strings.Contains(strings.Join(problems, "\n"), ns+"/elsewhere (EventListener): trigger configuration: namespaceSelector") {
		t.Errorf("problems %q lack the namespaceSelector error", problems)
	}
}

func createdName(resp map[string]any) string {
	trs, _ := resp["triggers"].([]any)
	for _, tr := range trs {
		rs, _ := walk(tr, "resources").([]any)
		for _, r := range rs {
			if n := str(walk(r, "name")); n != "" {
				return n
			}
		}
	}
	return ""
}

// TestNamespacedInterceptor: ref.kind NamespacedInterceptor resolves an Interceptor in the trigger's
// namespace; ClusterInterceptor and Interceptor are served as triggers.tekton.dev/v1alpha1, as Tekton
// writes them.
func TestNamespacedInterceptor(t *testing.T) {
	reply := func(via string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, `{"continue":true,"extensions":{"via":%q}}`, via)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	nsSrv, clusterSrv := reply("namespaced"), reply("cluster")
	ns := env.Namespace(t)
	ciName := ns + "-ci"
	apply(t, ns, tektonFixture+fmt.Sprintf(`
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: Interceptor
metadata: {name: mine}
spec:
  clientConfig: {url: "%s"}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {name: %s}
spec:
  clientConfig: {url: "%s"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: intercepted}
spec:
  triggers:
  - name: namespaced
    interceptors: [{ref: {name: mine, kind: NamespacedInterceptor}}]
    bindings: [{name: v, value: $(extensions.via)}]
    template: {ref: plain}
  - name: cluster
    interceptors: [{ref: {name: %s, kind: ClusterInterceptor}}]
    bindings: [{name: v, value: $(extensions.via)}]
    template: {ref: plain}
  - name: missing
    interceptors: [{ref: {name: absent, kind: NamespacedInterceptor}}]
    template: {ref: plain}
`, nsSrv.URL, ciName, clusterSrv.URL, ciName))
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &triggersv1beta1.ClusterInterceptor{ObjectMeta: metaName(ciName)})
	})
	h := start(t, ns, nil)
	code, text, _ := post(t, h.url+"/hooks/intercepted", "application/json", `{"x":1}`)
	if code != 202 {
		t.Fatalf("status %d: %s", code, text)
	}
	var resp struct {
		Triggers []struct{ Name, Status, Reason string }
	}
	if err := json.Unmarshal([]byte(text), &resp); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tr := range resp.Triggers {
		got[tr.Name] = tr.Status + ": " + tr.Reason
	}
	if !strings.HasPrefix(got["namespaced"], "created") || !strings.HasPrefix(got["cluster"], "created") {
		t.Errorf("triggers: %v", got)
	}
	if !strings.Contains(got["missing"], `Interceptor "absent" in namespace `+ns) {
		t.Errorf("a missing Interceptor is not named: %q", got["missing"])
	}
	vias := map[string]bool{}
	for _, pr := range pipelineRuns(t, ns) {
		vias[params(&pr)["v"]] = true
	}
	if !vias["namespaced"] || !vias["cluster"] {
		t.Errorf("interceptor extensions in params: %v", vias)
	}
}

// TestLegacyWebhookInterceptor: Tekton's v1alpha1 `webhook:` interceptor through /hooks: the delivery's
// bytes and headers (plus its header list) are forwarded, and the reply's body and headers are what the
// bindings read.
func TestLegacyWebhookInterceptor(t *testing.T) {
	type seen struct {
		body              string
		token, requestURL string
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{body: string(b), token: r.Header.Get("X-Token"), requestURL: r.Header.Get("Eventlistener-Request-Url")}
		w.Header().Set("X-Reply", "r")
		_, _ = w.Write([]byte(`{"rewritten":"yes"}`))
	}))
	t.Cleanup(srv.Close)
	ns := env.Namespace(t)
	apply(t, ns, tektonFixture+fmt.Sprintf(`
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: legacy}
spec:
  triggers:
  - name: legacy
    interceptors:
    - webhook:
        url: "%s"
        header: [{name: X-Token, value: abc}]
    bindings: [{name: v, value: "$(body.rewritten)-$(header.X-Reply)"}]
    template: {ref: plain}
`, srv.URL))
	h := start(t, ns, nil)
	sent := `{"original": true,   "spaced": "as sent"}`
	code, text, resp := post(t, h.url+"/hooks/legacy", "application/json", sent)
	if code != 202 {
		t.Fatalf("status %d: %s", code, text)
	}
	s := <-got
	if s.body != sent || s.token != "abc" || !strings.HasSuffix(s.requestURL, "/hooks/legacy") {
		t.Errorf("the interceptor got %+v", s)
	}
	name := createdName(resp)
	for _, pr := range pipelineRuns(t, ns) {
		if pr.Name == name {
			if v := params(&pr)["v"]; v != "yes-r" {
				t.Errorf("param v = %q, want the reply's body and header (yes-r)", v)
			}
			return
		}
	}
	t.Fatalf("no PipelineRun %q: %s", name, text)
}

// TestCloudEventURI: an EventListener's cloudEventURI receives Tekton's trigger lifecycle CloudEvents:
// started, successful per trigger that created, failed per trigger that failed, done (none for a skipped
// trigger), in binary mode with the delivery's event id.
func TestCloudEventURI(t *testing.T) {
	type ce struct{ typ, id, source, subject, data string }
	got := make(chan ce, 16)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- ce{r.Header.Get("Ce-Type"), r.Header.Get("Ce-Id"), r.Header.Get("Ce-Source"), r.Header.Get("Ce-Subject"), string(b)}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sink.Close)
	ns := env.Namespace(t)
	apply(t, ns, tektonFixture+fmt.Sprintf(`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: announced}
spec:
  cloudEventURI: "%s"
  triggers:
  - {name: made, bindings: [{name: v, value: ce}], template: {ref: plain}}
  - {name: broken, template: {ref: no-such-template}}
  - name: filtered
    interceptors: [{ref: {name: cel}, params: [{name: filter, value: "false"}]}]
    template: {ref: plain}
`, sink.URL))
	h := start(t, ns, nil)
	req, _ := http.NewRequest(http.MethodPost, h.url+"/hooks/announced", strings.NewReader(`{"ce":1}`))
	req.Header.Set("X-Custom", "seen")
	code, resp, _ := do(t, req)
	if code != 202 {
		t.Fatalf("status %d: %+v", code, resp)
	}
	want := []string{"dev.tekton.event.triggers.started.v1", "dev.tekton.event.triggers.successful.v1",
		"dev.tekton.event.triggers.failed.v1", "dev.tekton.event.triggers.done.v1"}
	for i, typ := range want {
		select {
		case e := <-got:
			if e.typ != typ || e.id != resp.EventID || e.subject != "announced processing "+resp.EventID ||
				e.source != "/apis/triggers.tekton.dev/v1beta1/namespaces/"+ns+"/EventListener/announced" {
				t.Fatalf("event %d: %+v, want type %s for event %s", i, e, typ, resp.EventID)
			}
			if (typ == want[0] || typ == want[1]) && !strings.Contains(e.data, `"X-Custom":["seen"]`) {
				t.Errorf("%s data lacks the request headers: %s", typ, e.data)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d (%s) not received", i, typ)
		}
	}
	select {
	case e := <-got:
		t.Errorf("unexpected event %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}
