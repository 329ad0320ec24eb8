package listener_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

const (
	ghSecret = "gh-webhook-secret-value"
	glToken  = "gl-token-value-123"
	bbSecret = "secret" // the corpus's Bitbucket Server files are signed with it
)

// fixture is the configuration every listener test starts from: one EventListener with triggers for
// each provider, secrets, a binding per provider and one template.
func fixture(ns string) string {
	return strings.ReplaceAll(`
apiVersion: v1
kind: Secret
metadata: {name: hooks}
stringData: {github: GHSECRET, gitlab: GLTOKEN, bitbucket: BBSECRET}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: run}
spec:
  params:
  - {name: revision, default: ""}
  - {name: url}
  - {name: event}
  - {name: extra, default: "none"}
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: PipelineRun
    metadata:
      generateName: build-
      labels: {app: demo}
    spec:
      pipelineRef: {name: build}
      params:
      - {name: revision, value: $(tt.params.revision)}
      - {name: url, value: $(tt.params.url)}
      - {name: event, value: $(tt.params.event)}
      - {name: extra, value: $(tt.params.extra)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: github-push}
spec:
  params:
  - {name: revision, value: $(body.head_commit.id)}
  - {name: url, value: $(body.repository.clone_url)}
  - {name: event, value: $(header.X-GitHub-Event)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: github-pr}
spec:
  params:
  - {name: revision, value: $(body.pull_request.head.sha)}
  - {name: url, value: $(body.repository.clone_url)}
  - {name: event, value: "pr-$(body.action)"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: hooks}
spec:
  triggers:
  - name: github-push
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: hooks, secretKey: github}}
      - {name: eventTypes, value: [push]}
    bindings: [{ref: github-push}]
    template: {ref: run}
  - name: github-pr
    interceptors:
    - ref: {name: github}
      params:
      - {name: secretRef, value: {secretName: hooks, secretKey: github}}
      - {name: eventTypes, value: [pull_request]}
    - ref: {name: cel}
      params:
      - {name: overlays, value: [{key: short, expression: "body.pull_request.head.sha.truncate(7)"}]}
    bindings:
    - {ref: github-pr}
    - {name: extra, value: $(extensions.short)}
    template: {ref: run}
  - name: github-ping
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}, eventTypes: [ping]}
    bindings:
    - {name: url, value: $(body.hook.type)}
    - {name: event, value: ping-$(body.hook_id)}
    template: {ref: run}
  - name: gitlab
    interceptors:
    - ref: {name: gitlab}
      params:
      - {name: secretRef, value: {secretName: hooks, secretKey: gitlab}}
      - {name: eventTypes, value: ["Merge Request Hook", "Push Hook", "Tag Push Hook"]}
    - ref: {name: cel}
      params:
      - name: overlays
        value:
        - key: revision
          expression: "has(body.object_attributes) ? body.object_attributes.last_commit.id : body.checkout_sha"
    bindings:
    - {name: revision, value: $(extensions.revision)}
    - {name: url, value: $(body.project.git_http_url)}
    - {name: event, value: $(header.X-Gitlab-Event)}
    template: {ref: run}
  - name: bitbucket-server
    interceptors:
    - ref: {name: bitbucket}
      params:
      - {name: secretRef, value: {secretName: hooks, secretKey: bitbucket}}
      - {name: eventTypes, value: ["repo:refs_changed", "pr:opened", "pr:merged"]}
    bindings:
    - {name: url, value: $(body.actor.name)}
    - {name: event, value: $(body.eventKey)}
    template: {ref: run}
  - name: bitbucket-cloud
    interceptors:
    - ref: {name: bitbucket}
      params:
      - {name: eventTypes, value: ["repo:push", "pullrequest:created"]}
    bindings:
    - {name: url, value: $(body.repository.full_name)}
    - {name: event, value: $(header.X-Event-Key)}
    template: {ref: run}
`, "GHSECRET", ghSecret)
}

func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	env.Apply(t, ns, strings.NewReplacer("GLTOKEN", glToken, "BBSECRET", bbSecret).Replace(manifests))
}

// harness is a listener serving one namespace over a real socket.
type harness struct {
	url  string
	ns   string
	logs *bytes.Buffer
	mu   *sync.Mutex
	srv  *listener.Server
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func start(t *testing.T, ns string, tweak func(*listener.Options)) *harness {
	t.Helper()
	h := &harness{ns: ns, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	opts := listener.Options{EventListener: "hooks", Logger: slog.New(slog.NewJSONHandler(lockedWriter{h.mu, h.logs}, nil))}
	if tweak != nil {
		tweak(&opts)
	}
	h.url, h.srv = env.ServeListener(t, ns, opts)
	return h
}

func (h *harness) send(t *testing.T, o listener.Outgoing) (int, listener.Response, http.Header) {
	t.Helper()
	req, err := o.Request(context.Background(), h.url+"/hooks")
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, listener.Response, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r listener.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, body)
	}
	return resp.StatusCode, r, resp.Header
}

func pipelineRuns(t *testing.T, ns string) []pipelinev1.PipelineRun {
	t.Helper()
	var list pipelinev1.PipelineRunList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func params(pr *pipelinev1.PipelineRun) map[string]string {
	out := map[string]string{}
	for _, p := range pr.Spec.Params {
		out[p.Name] = p.Value.StringVal
	}
	return out
}

func corpus(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../shared/corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real payloads not found at %s (a clone without ../shared): skipping the corpus test", dir)
	}
	return dir
}

func walk(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestCorpus sends every real payload signed correctly and checks the matching trigger created a
// PipelineRun whose params carry the values read independently from the payload.
func TestCorpus(t *testing.T) {
	dir := corpus(t)
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)

	type expect struct {
		provider, event, secret, file, trigger string
		params                                 func(body map[string]any) map[string]string
	}
	var cases []expect
	ghFiles, _ := filepath.Glob(filepath.Join(dir, "github", "*", "*.json"))
	for _, f := range ghFiles {
		event := filepath.Base(filepath.Dir(f))
		e := expect{provider: "github", event: event, secret: ghSecret, file: f}
		switch event {
		case "push":
			e.trigger = "github-push"
			e.params = func(b map[string]any) map[string]string {
				return map[string]string{"revision": str(walk(b, "head_commit", "id")), "url": str(walk(b, "repository", "clone_url")), "event": "push", "extra": "none"}
			}
		case "pull_request":
			e.trigger = "github-pr"
			e.params = func(b map[string]any) map[string]string {
				sha := str(walk(b, "pull_request", "head", "sha"))
				return map[string]string{"revision": sha, "url": str(walk(b, "repository", "clone_url")), "event": "pr-" + str(b["action"]), "extra": sha[:7]}
			}
		case "ping":
			e.trigger = "github-ping"
			e.params = func(b map[string]any) map[string]string {
				return map[string]string{"revision": "", "url": str(walk(b, "hook", "type")), "event": fmt.Sprintf("ping-%.0f", b["hook_id"]), "extra": "none"}
			}
		}
		cases = append(cases, e)
	}
	for file, ev := range map[string]string{"merge_request.json": "Merge Request Hook", "push.json": "Push Hook", "tag_push.json": "Tag Push Hook"} {
		ev := ev
		cases = append(cases, expect{provider: "gitlab", event: ev, secret: glToken, file: filepath.Join(dir, "gitlab", file), trigger: "gitlab",
			params: func(b map[string]any) map[string]string {
				rev := str(walk(b, "object_attributes", "last_commit", "id"))
				if rev == "" {
					rev = str(b["checkout_sha"])
				}
				return map[string]string{"revision": rev, "url": str(walk(b, "project", "git_http_url")), "event": ev, "extra": "none"}
			}})
	}
	bb, err := os.ReadFile(filepath.Join(dir, "bitbucket", "HEADERS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(bb))
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 || strings.HasPrefix(cols[0], "#") {
			continue
		}
		var key string
		for _, kv := range strings.Split(cols[1], ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(kv), ": "); ok && k == "X-Event-Key" {
				key = v
			}
		}
		e := expect{provider: "bitbucket", event: key, file: filepath.Join(dir, "bitbucket", cols[0])}
		if strings.HasPrefix(cols[0], "server-") {
			e.trigger, e.secret = "bitbucket-server", bbSecret
			e.params = func(b map[string]any) map[string]string {
				return map[string]string{"revision": "", "url": str(walk(b, "actor", "name")), "event": str(b["eventKey"]), "extra": "none"}
			}
		} else {
			k := key
			e.trigger = "bitbucket-cloud"
			e.params = func(b map[string]any) map[string]string {
				return map[string]string{"revision": "", "url": str(walk(b, "repository", "full_name")), "event": k, "extra": "none"}
			}
		}
		cases = append(cases, e)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d corpus cases found", len(cases))
	}
	for _, c := range cases {
		t.Run(c.provider+"/"+filepath.Base(c.file), func(t *testing.T) {
			payload, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(payload, &body); err != nil {
				t.Fatal(err)
			}
			code, resp, _ := h.send(t, listener.Outgoing{Provider: c.provider, Event: c.event, Secret: c.secret, Body: payload})
			if code != http.StatusAccepted {
				t.Fatalf("status %d: %+v", code, resp)
			}
			var fired *listener.TriggerResult
			for i, tr := range resp.Triggers {
				if tr.Status == listener.StatusCreated {
					if fired != nil {
						t.Errorf("two triggers fired: %s and %s", fired.Name, tr.Name)
					}
					fired = &resp.Triggers[i]
				}
			}
			if fired == nil || fired.Name != c.trigger {
				t.Fatalf("want trigger %s to fire, got %+v", c.trigger, resp.Triggers)
			}
			if len(fired.Resources) != 1 || fired.Resources[0].Kind != "PipelineRun" {
				t.Fatalf("resources: %+v", fired.Resources)
			}
			var pr pipelinev1.PipelineRun
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: fired.Resources[0].Name}, &pr); err != nil {
				t.Fatal(err)
			}
			want := c.params(body)
			got := params(&pr)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("param %s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range map[string]string{
				triggersv1beta1.LabelEventListener: "hooks", triggersv1beta1.LabelTrigger: c.trigger,
				triggersv1beta1.LabelEventID: resp.EventID, "app": "demo",
			} {
				if pr.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, pr.Labels[k], v)
				}
			}
		})
	}
}

const pushBody = `{"ref":"refs/heads/main","after":"abc","head_commit":{"id":"0123456789abcdef"},"repository":{"clone_url":"https://example.com/r.git"}}`

// TestRejected checks every refused delivery gets the right status, a reason, and creates nothing.
func TestRejected(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, func(o *listener.Options) { o.MaxBody = 64 << 10 })
	signed := func(o listener.Outgoing) *http.Request {
		req, err := o.Request(context.Background(), h.url+"/hooks")
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	raw := func(method, path, ctype, body string, hdr map[string]string) *http.Request {
		req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return req
	}
	gh := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}
	forged := signed(gh)
	forged.Header.Set("X-Hub-Signature-256", "sha256=0000000000000000000000000000000000000000000000000000000000000000")
	missing := signed(gh)
	missing.Header.Del("X-Hub-Signature-256")
	sha1only := signed(gh)
	sha1only.Header.Del("X-Hub-Signature-256")
	sha1only.Header.Set("X-Hub-Signature", "sha1=2c4c8a3f7c5e5ff1d4d1b2f1e1fbd1b9a1c1d1e1")
	wrongSecret := signed(listener.Outgoing{Provider: "github", Event: "push", Secret: "not-the-secret", Body: []byte(pushBody)})
	glWrong := signed(listener.Outgoing{Provider: "gitlab", Event: "push", Secret: "wrong-token", Body: []byte(`{"checkout_sha":"x","project":{"git_http_url":"u"}}`)})
	glMissing := signed(listener.Outgoing{Provider: "gitlab", Event: "push", Body: []byte(`{"checkout_sha":"x","project":{"git_http_url":"u"}}`)})
	// GitLab's Standard Webhooks signing, correctly signed but ten minutes old.
	staleBody := `{"checkout_sha":"x","project":{"git_http_url":"u"}}`
	staleTS := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	mac := hmac.New(sha256.New, []byte(glToken))
	mac.Write([]byte("msg_1." + staleTS + "." + staleBody))
	stale := raw(http.MethodPost, "/hooks", "application/json", staleBody, map[string]string{
		"X-Gitlab-Event": "Push Hook", "webhook-id": "msg_1", "webhook-timestamp": staleTS,
		"webhook-signature": "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	})
	big := raw(http.MethodPost, "/hooks", "application/json", `{"a":"`+strings.Repeat("x", 70<<10)+`"}`, nil)
	deepBody := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	deep := raw(http.MethodPost, "/hooks", "application/json", deepBody, map[string]string{"X-GitHub-Event": "push"})
	signedMalformed := signed(listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(`{"a":`)})
	signedDeep := signed(listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(deepBody)})
	signedXML := signed(listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(`<a/>`)})
	signedXML.Header.Set("Content-Type", "text/xml")

	// A sender that proved no secret learns which triggers refused it and nothing else (coarse); the
	// detail goes to the log. A sender that did gets the detail.
	const refused = "refused: the signature or token is missing or does not match"
	cases := []struct {
		name   string
		req    *http.Request
		code   int
		reason string
		logged string // the detail the log must hold
	}{
		{"forged signature", forged, 401, refused, "X-Hub-Signature-256 does not match"},
		{"missing signature", missing, 401, refused, "X-Hub-Signature-256 header missing"},
		{"sha1 only", sha1only, 401, refused, "SHA-1"},
		{"wrong secret", wrongSecret, 401, refused, "X-Hub-Signature-256 does not match"},
		{"gitlab wrong token", glWrong, 401, refused, "X-Gitlab-Token does not match"},
		{"gitlab missing token", glMissing, 401, refused, "X-Gitlab-Token header missing"},
		{"standard webhooks stale timestamp", stale, 401, refused, "tolerance"},
		{"unknown eventlistener", raw(http.MethodPost, "/hooks/nope", "application/json", "{}", nil), 404, `not found in namespace`, ""},
		{"wrong method", raw(http.MethodGet, "/hooks", "", "", nil), 405, "GET is not allowed", ""},
		{"body too large", big, 413, "limit", ""},
		{"unsigned malformed json: refused before any decode", raw(http.MethodPost, "/hooks", "application/json", `{"a":`, map[string]string{"X-GitHub-Event": "push"}), 401, refused, ""},
		{"unsigned nested 10001 deep: refused before any decode", deep, 401, refused, ""},
		{"signed malformed json", signedMalformed, 400, "not valid JSON", ""},
		{"signed nested 10001 deep", signedDeep, 400, "not valid JSON", ""},
		// As Tekton: the sink ignores Content-Type, the GitHub interceptor refuses form-encoded deliveries.
		{"form encoded", raw(http.MethodPost, "/hooks", "application/x-www-form-urlencoded", "payload=%7B%7D", nil), 400, "form parameter encoding not supported", ""},
		{"signed xml", signedXML, 400, "not valid JSON", ""},
		{"empty body", raw(http.MethodPost, "/hooks", "application/json", "", nil), 400, "empty body", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, resp, _ := do(t, c.req)
			if code != c.code {
				t.Fatalf("status %d, want %d: %+v", code, c.code, resp)
			}
			text, _ := json.Marshal(resp)
			if !strings.Contains(string(text), c.reason) {
				t.Errorf("response does not say %q: %s", c.reason, text)
			}
			if strings.Contains(string(text), ghSecret) || strings.Contains(string(text), glToken) {
				t.Errorf("response leaks a secret: %s", text)
			}
			if c.logged != "" {
				h.mu.Lock()
				logs := h.logs.String()
				h.mu.Unlock()
				if !strings.Contains(logs, c.logged) {
					t.Errorf("the log lacks the detail %q", c.logged)
				}
			}
		})
	}
	if n := len(pipelineRuns(t, ns)); n != 0 {
		t.Errorf("%d PipelineRuns created by rejected deliveries", n)
	}
	h.mu.Lock()
	logs := h.logs.String()
	h.mu.Unlock()
	for _, s := range []string{ghSecret, glToken} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret value")
		}
	}
	if !strings.Contains(logs, `"code":401`) {
		t.Errorf("refusals are not logged: %s", logs)
	}
}

// TestRedelivery sends the same delivery twice, then ten times concurrently: one PipelineRun each time.
func TestRedelivery(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	o := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, ID: "delivery-1", Body: []byte(pushBody)}
	code, first, _ := h.send(t, o)
	if code != 202 || first.Triggers[0].Status != listener.StatusCreated || first.Triggers[0].Duplicate {
		t.Fatalf("first delivery: %d %+v", code, first)
	}
	code, second, _ := h.send(t, o)
	if code != 202 || !second.Triggers[0].Duplicate || second.Triggers[0].Resources[0].Name != first.Triggers[0].Resources[0].Name {
		t.Fatalf("redelivery: %d %+v", code, second)
	}
	if n := len(pipelineRuns(t, ns)); n != 1 {
		t.Fatalf("%d PipelineRuns after a redelivery, want 1", n)
	}
	// A second event: other bytes (the same bytes with a fresh id would be a replay, TestReplayFreshID).
	o.ID = "delivery-2"
	o.Body = []byte(strings.Replace(pushBody, `"after":"abc"`, `"after":"def"`, 1))
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := o.Request(context.Background(), h.url+"/hooks")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 202 {
			t.Errorf("concurrent redelivery answered %d", c)
		}
	}
	if n := len(pipelineRuns(t, ns)); n != 2 {
		t.Fatalf("%d PipelineRuns after 10 concurrent copies of a second delivery, want 2", n)
	}
}

// TestBindingEditApplies changes a TriggerBinding in the API: the next delivery uses it, no restart.
func TestBindingEditApplies(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	ctx := context.Background()
	var tb triggersv1beta1.TriggerBinding
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github-push"}, &tb); err != nil {
		t.Fatal(err)
	}
	tb.Spec.Params[0].Value = "edited-$(body.after)"
	if err := env.Client.Update(ctx, &tb); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		// Other bytes each round: the same signed bytes again would be a replay answered with the first run.
		body := strings.Replace(pushBody, `"ref":`, fmt.Sprintf(`"round":%d,"ref":`, i), 1)
		code, resp, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)})
		if code != 202 {
			t.Fatalf("%d %+v", code, resp)
		}
		var pr pipelinev1.PipelineRun
		_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: resp.Triggers[0].Resources[0].Name}, &pr)
		if params(&pr)["revision"] == "edited-abc" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("binding edit not applied: revision = %q", params(&pr)["revision"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVerbatimValues: payload text that looks like substitutions or breaks YAML lands unchanged.
func TestVerbatimValues(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	nasty := "$(tt.params.url) $(params.y) \"quoted\"\nline2: {yaml: [breaking]}\t\\ ' --- #"
	b, _ := json.Marshal(map[string]any{"head_commit": map[string]any{"id": nasty}, "repository": map[string]any{"clone_url": "u"}})
	code, resp, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: b})
	if code != 202 {
		t.Fatalf("%d %+v", code, resp)
	}
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: resp.Triggers[0].Resources[0].Name}, &pr); err != nil {
		t.Fatal(err)
	}
	if got := params(&pr)["revision"]; got != nasty {
		t.Errorf("revision = %q, want %q", got, nasty)
	}
}

// TestMetricsAndProbes checks /livez, /readyz and that /metrics counts deliveries.
func TestMetricsAndProbes(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	for _, p := range []string{"/livez", "/readyz"} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get(h.url + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d", p, resp.StatusCode)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)})
	if r, err := http.Post(h.url+"/hooks/nope", "application/json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
	}
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`hookrun_events_total{code="202",event="push",listener="hooks",provider="github"} 1`,
		`hookrun_trigger_outcomes_total{listener="hooks",status="created",trigger="github-push"} 1`,
		`hookrun_resources_created_total{kind="PipelineRun"} 1`,
		`hookrun_interceptor_duration_seconds_bucket{interceptor="github"`,
		`hookrun_http_request_duration_seconds_bucket{code="202",route="/hooks",le="0.001"}`,
		// Tekton Triggers' own series, for dashboards written for Tekton.
		`eventlistener_event_received_total{status="succeeded"} 1`,
		`eventlistener_triggered_resources_total{kind="PipelineRun"} 1`,
		`eventlistener_event_received_total{status="failed"} 1`,
		`eventlistener_http_duration_seconds_bucket{le="10"} 2`,
		`eventlistener_http_duration_seconds_count 2`,
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(text, []byte(ghSecret)) {
		t.Error("metrics leak a secret")
	}
}

// TestThrottle: beyond --max-in-flight and its backlog, deliveries get 429 with Retry-After.
func TestThrottle(t *testing.T) {
	ns := env.Namespace(t)
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(700 * time.Millisecond)
		_, _ = io.Copy(w, r.Body) // a legacy webhook interceptor answers the event to go on with
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = slow.Serve(ln) }()
	defer slow.Close()
	apply(t, ns, fixture(ns)+fmt.Sprintf(`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: slow}
spec:
  triggers:
  - name: slow
    interceptors: [{webhook: {url: "http://%s/"}}]
    bindings: [{name: url, value: "x"}, {name: event, value: "ev"}]
    template: {ref: run}
`, ln.Addr()))
	h := start(t, ns, func(o *listener.Options) { o.MaxInFlight, o.Backlog = 1, 1 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	retryAfter := ""
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, h.url+"/hooks/slow", strings.NewReader(`{}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			if resp.StatusCode == 429 {
				retryAfter = resp.Header.Get("Retry-After")
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got[429] == 0 || got[202] == 0 {
		t.Fatalf("statuses %v: want some 202 and some 429", got)
	}
	if retryAfter == "" {
		t.Error("429 without Retry-After")
	}
}

// TestInvalidTriggerOnReadyz: a CEL filter that does not type-check shows on /readyz without any delivery.
func TestInvalidTriggerOnReadyz(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns)+`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: broken}
spec:
  triggers:
  - name: bad-cel
    interceptors:
    - cel: {filter: "body.ref + 1 == 'x'"}
    bindings: [{name: url, value: "x"}, {name: event, value: "ev"}]
    template: {ref: run}
`)
	h := start(t, ns, nil)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(h.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "invalid trigger "+ns+"/bad-cel") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the invalid trigger:\n%s", body)
		}
	}
}

// TestV1alpha1Tutorial: an EventListener, binding and template written as triggers.tekton.dev/v1alpha1 (old
// tutorials: bindings named by `name`, inline github interceptor) are served and fire.
func TestV1alpha1Tutorial(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	env.Apply(t, ns, strings.ReplaceAll(`
apiVersion: triggers.tekton.dev/v1alpha1
kind: TriggerBinding
metadata: {name: old-binding}
spec:
  params:
  - {name: revision, value: $(body.head_commit.id)}
  - {name: url, value: $(body.repository.clone_url)}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: TriggerTemplate
metadata: {name: old-template}
spec:
  params: [{name: revision}, {name: url}]
  resourcetemplates:
  - apiVersion: tekton.dev/v1beta1
    kind: PipelineRun
    metadata: {generateName: old-}
    spec:
      pipelineRef: {name: build}
      params:
      - {name: revision, value: $(tt.params.revision)}
      - {name: url, value: $(tt.params.url)}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: tekton-triggers-sa}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: triggers-create-runs}
rules:
- {apiGroups: [tekton.dev], resources: [pipelineruns], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: tekton-triggers-sa}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: triggers-create-runs}
subjects: [{kind: ServiceAccount, name: tekton-triggers-sa, namespace: NAMESPACE}]
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: old-listener}
spec:
  serviceAccountName: tekton-triggers-sa
  triggers:
  - name: old
    interceptors:
    - github:
        secretRef: {secretName: hooks, secretKey: github}
        eventTypes: [push]
    bindings:
    - name: old-binding
    template:
      name: old-template
`, "NAMESPACE", ns))
	h := start(t, ns, nil)
	req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}.Request(context.Background(), h.url+"/hooks/old-listener")
	if err != nil {
		t.Fatal(err)
	}
	code, r, _ := do(t, req)
	if code != http.StatusAccepted || len(r.Triggers) != 1 || r.Triggers[0].Status != listener.StatusCreated {
		t.Fatalf("v1alpha1 listener: %d %+v", code, r)
	}
	var pr pipelinev1.PipelineRun
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: r.Triggers[0].Resources[0].Name}, &pr); err != nil {
		t.Fatal(err)
	}
	if got := params(&pr)["revision"]; got != "0123456789abcdef" {
		t.Errorf("revision = %q", got)
	}
}
