package listener_test

// Tests of the listener read as an attacker would (issue 18): answers to forged deliveries, replays with
// a fresh delivery id, metric series under random paths, dribbled bodies, the memory budget, open
// triggers and --require-auth, external interceptor transports.

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elstatus"
	"github.com/hookrun/hookrun/listener"
)

func (h *harness) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// post sends body to path with the given headers.
func (h *harness) post(t *testing.T, path, body string, hdr map[string]string) (int, listener.Response, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// TestForgedAnswersSayNothing: a delivery no trigger authenticated is answered with which triggers
// refused it and a fixed reason — no Secret name, no CEL source, no API error — while the log and the
// EventListener's Events hold the detail. The same delivery correctly signed gets the detail.
func TestForgedAnswersSayNothing(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns)+`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: leaky}
spec:
  triggers:
  - name: good
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}, eventTypes: [push]}
    bindings: [{ref: github-push}]
    template: {ref: run}
  - name: lost-secret
    interceptors:
    - github: {secretRef: {secretName: very-private-secret-name, secretKey: token}}
    bindings: [{name: url, value: "x"}, {name: event, value: "e"}]
    template: {ref: run}
  - name: broken-cel
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}}
    - cel: {filter: "body.SENTINEL_CEL_SOURCE + 1 == 'x'"}
    bindings: [{name: url, value: "x"}, {name: event, value: "e"}]
    template: {ref: run}
  - name: open-api-error
    bindings: [{name: url, value: "x"}]
    template:
      spec:
        params: [{name: url}]
        resourcetemplates:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: Bad_Name_SENTINEL}
`)
	h := start(t, ns, nil)
	forbidden := []string{"very-private-secret-name", "SENTINEL_CEL_SOURCE", "Bad_Name_SENTINEL", "Invalid value", "not found", ghSecret}
	cases := []struct {
		name    string
		secret  string
		code    int
		refused []string // triggers the answer lists, when coarse
	}{
		{"forged signature", "not-the-secret", 401, []string{"good", "lost-secret"}},
		{"no signature", "", 401, []string{"good", "lost-secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: c.secret, Body: []byte(pushBody)}.Request(context.Background(), h.url+"/hooks/leaky")
			if err != nil {
				t.Fatal(err)
			}
			code, resp, _ := do(t, req)
			raw, _ := jsonText(resp)
			if code != c.code {
				t.Fatalf("status %d, want %d: %s", code, c.code, raw)
			}
			for _, f := range forbidden {
				if strings.Contains(raw, f) {
					t.Errorf("answer to an unauthenticated sender contains %q: %s", f, raw)
				}
			}
			var names []string
			for _, tr := range resp.Triggers {
				names = append(names, tr.Name)
				if !strings.HasPrefix(tr.Reason, "refused: ") {
					t.Errorf("trigger %s: reason %q is not a fixed refusal", tr.Name, tr.Reason)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.refused, ",") {
				t.Errorf("answer lists %v, want the refusing triggers %v", names, c.refused)
			}
		})
	}
	logs := h.logText()
	for _, want := range []string{"very-private-secret-name", "SENTINEL_CEL_SOURCE", "Bad_Name_SENTINEL", "X-Hub-Signature-256 does not match"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks the detail %q", want)
		}
	}
	// The EventListener's Events carry the refusal detail.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var evs corev1.EventList
		if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "leaky" && e.Reason == "DeliveryRefused" && strings.Contains(e.Message, "very-private-secret-name") {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DeliveryRefused Event naming the missing Secret on EventListener leaky (%d events)", len(evs.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Correctly signed: "good" creates, and the sender sees every trigger's detail.
	req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}.Request(context.Background(), h.url+"/hooks/leaky")
	code, resp, _ := do(t, req)
	raw, _ := jsonText(resp)
	if code != http.StatusAccepted {
		t.Fatalf("signed delivery: %d %s", code, raw)
	}
	for _, want := range []string{"very-private-secret-name", "SENTINEL_CEL_SOURCE"} {
		if !strings.Contains(raw, want) {
			t.Errorf("an authenticated sender's answer lacks the detail %q: %s", want, raw)
		}
	}
}

// TestReplayFreshID: which identity makes a replay, per what was authenticated.
func TestReplayFreshID(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	a := start(t, ns, nil)
	b := start(t, ns, nil) // a second replica: dedupe must hold across replicas
	glBody := `{"checkout_sha":"c0ffee","project":{"git_http_url":"https://example.com/g.git"}}`
	swSigned := func(id string, at time.Time) map[string]string {
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, []byte(glToken))
		m.Write([]byte(id + "." + ts + "." + glBody))
		return map[string]string{"X-Gitlab-Event": "Push Hook", "webhook-id": id, "webhook-timestamp": ts,
			"webhook-signature": "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}
	}
	ghSend := func(h *harness, id, body string) (int, listener.Response) {
		code, r, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, ID: id, Body: []byte(body)})
		return code, r
	}
	glSend := func(h *harness, key, body string) (int, listener.Response) {
		code, r, _ := h.send(t, listener.Outgoing{Provider: "gitlab", Event: "push", Secret: glToken, ID: key, Body: []byte(body)})
		return code, r
	}
	glTokenBody := `{"object_kind":"push","checkout_sha":"beef01","project":{"git_http_url":"https://example.com/g.git"}}`
	glTokenBodyResent := `{"checkout_sha":"beef01","object_kind":"push","project":{"git_http_url":"https://example.com/g.git"}}`
	body1 := strings.Replace(pushBody, `"after":"abc"`, `"after":"replay-1"`, 1)
	cases := []struct {
		name    string
		first   func() (int, listener.Response)
		again   func() (int, listener.Response)
		dup     bool // the second is answered duplicate with the first's resources
		trigger string
	}{
		{"github: same signed bytes, fresh X-GitHub-Delivery", func() (int, listener.Response) { return ghSend(a, "id-1", body1) },
			func() (int, listener.Response) { return ghSend(a, "id-2", body1) }, true, "github-push"},
		{"github: same bytes, fresh id, other replica", func() (int, listener.Response) { return ghSend(a, "id-3", body1+" ") },
			func() (int, listener.Response) { return ghSend(b, "id-4", body1+" ") }, true, "github-push"},
		{"github: real redelivery (same id, same bytes)", func() (int, listener.Response) { return ghSend(a, "id-5", body1+"  ") },
			func() (int, listener.Response) { return ghSend(b, "id-5", body1+"  ") }, true, "github-push"},
		{"github: other bytes, same id: another event", func() (int, listener.Response) { return ghSend(a, "id-6", body1+"\n") },
			func() (int, listener.Response) { return ghSend(a, "id-6", body1+"\n\n") }, false, "github-push"},
		{"gitlab token: a resend (same Idempotency-Key, payload encoded anew)", func() (int, listener.Response) { return glSend(a, "idem-1", glTokenBody) },
			func() (int, listener.Response) { return glSend(b, "idem-1", glTokenBodyResent) }, true, "gitlab"},
		{"gitlab token: same bytes, another Idempotency-Key: another event", func() (int, listener.Response) { return glSend(a, "idem-2", glTokenBody) },
			func() (int, listener.Response) { return glSend(a, "idem-3", glTokenBody) }, false, "gitlab"},
		{"standard webhooks: retry (same signed webhook-id, new timestamp)",
			func() (int, listener.Response) {
				c, r, _ := a.post(t, "/hooks", glBody, swSigned("msg_a", time.Now().Add(-time.Minute)))
				return c, r
			},
			func() (int, listener.Response) {
				c, r, _ := b.post(t, "/hooks", glBody, swSigned("msg_a", time.Now()))
				return c, r
			},
			true, "gitlab"},
		{"standard webhooks: same body, another signed webhook-id: another event",
			func() (int, listener.Response) {
				c, r, _ := a.post(t, "/hooks", glBody, swSigned("msg_b", time.Now()))
				return c, r
			},
			func() (int, listener.Response) {
				c, r, _ := a.post(t, "/hooks", glBody, swSigned("msg_c", time.Now()))
				return c, r
			},
			false, "gitlab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(pipelineRuns(t, ns))
			code1, r1 := c.first()
			code2, r2 := c.again()
			t1, t2 := created(r1, c.trigger), created(r2, c.trigger)
			if code1 != 202 || code2 != 202 || t1 == nil || t2 == nil {
				t.Fatalf("answers %d %+v / %d %+v", code1, r1.Triggers, code2, r2.Triggers)
			}
			if t1.Duplicate {
				t.Fatalf("first delivery answered duplicate: %+v", t1)
			}
			after := len(pipelineRuns(t, ns))
			if c.dup {
				if !t2.Duplicate || t2.Resources[0].Name != t1.Resources[0].Name || after != before+1 {
					t.Fatalf("replay: duplicate=%v %s vs %s, PipelineRuns +%d", t2.Duplicate, t2.Resources[0].Name, t1.Resources[0].Name, after-before)
				}
				if !strings.Contains(t2.Reason, "already created") {
					t.Errorf("a duplicate's reason does not say so: %q", t2.Reason)
				}
			} else if t2.Duplicate || after != before+2 {
				t.Fatalf("another event: duplicate=%v, PipelineRuns +%d", t2.Duplicate, after-before)
			}
		})
	}
}

// TestReplayWindow: identical signed bytes are a replay within --replay-window, and make one new run once
// the window has passed (then are a replay of that one).
func TestReplayWindow(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, func(o *listener.Options) { o.ReplayWindow = 2 * time.Second })
	o := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}
	send := func() *listener.TriggerResult {
		code, r, _ := h.send(t, o) // a fresh delivery id each time
		tr := created(r, "github-push")
		if code != 202 || tr == nil {
			t.Fatalf("%d %+v", code, r)
		}
		return tr
	}
	first := send()
	if again := send(); !again.Duplicate || again.Resources[0].Name != first.Resources[0].Name {
		t.Fatalf("within the window: %+v", again)
	}
	time.Sleep(3 * time.Second)
	later := send()
	if later.Duplicate || later.Resources[0].Name == first.Resources[0].Name {
		t.Fatalf("after the window: %+v (first %s)", later, first.Resources[0].Name)
	}
	if again := send(); !again.Duplicate || again.Resources[0].Name != later.Resources[0].Name {
		t.Fatalf("within the second window: %+v", again)
	}
	if n := len(pipelineRuns(t, ns)); n != 2 {
		t.Fatalf("%d PipelineRuns, want 2 (one per window)", n)
	}
}

func created(r listener.Response, trigger string) *listener.TriggerResult {
	for i := range r.Triggers {
		if r.Triggers[i].Name == trigger && r.Triggers[i].Status == listener.StatusCreated && len(r.Triggers[i].Resources) > 0 {
			return &r.Triggers[i]
		}
	}
	return nil
}

// series counts the metric series of the listener's own families (not Go runtime or process ones).
func series(t *testing.T, h *harness) (int, string) {
	t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	n := 0
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, "hookrun_") {
			n++
		}
	}
	return n, string(text)
}

// TestMetricSeriesBounded: 500 posts to random /hooks/NAME paths and known ones, with random event
// headers of every provider, add a bounded number of series once, then none: the count is a function of
// the configuration, not of the traffic.
func TestMetricSeriesBounded(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, 8+rng.IntN(20))
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789-_:. "[rng.IntN(41)]
		}
		return strings.TrimSpace(string(b)) + "x"
	}
	eventHeaders := []string{"X-GitHub-Event", "X-Gitlab-Event", "X-Event-Key", ""}
	round := func(n int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			path := "/hooks/" + strings.NewReplacer(" ", "", ":", "", ".", "").Replace(word())
			if i%2 == 0 {
				path = "/hooks"
			}
			hdr := map[string]string{}
			if eh := eventHeaders[i%len(eventHeaders)]; eh != "" {
				hdr[eh] = word()
				if i%3 == 0 {
					hdr[eh] = "" // named provider, no event
				}
			}
			body := `{"n":` + strconv.Itoa(i) + `}`
			if i%5 == 0 {
				body = "" // 400
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				req, _ := http.NewRequest(http.MethodPost, h.url+path, strings.NewReader(body))
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	before, _ := series(t, h)
	round(250)
	mid, _ := series(t, h)
	round(250)
	after, text := series(t, h)
	t.Logf("hookrun_* series: %d before, %d after 250 random posts, %d after 250 more", before, mid, after)
	if after != mid {
		t.Errorf("250 more random posts added %d series: the count follows the traffic", after-mid)
	}
	if mid-before > 200 { // events_total by provider × {none, other} × code, and two histograms' buckets
		t.Errorf("the first 250 random posts added %d series", mid-before)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "hookrun_events_total{") && !strings.Contains(l, `listener="hooks"`) && !strings.Contains(l, `listener="other"`) {
			t.Errorf("listener label not from configuration: %s", l)
		}
	}
}

// TestDribblingBodies: 100 connections that announce a body and dribble it hold no in-flight slot, so 10
// signed pushes sent meanwhile are each answered 2xx within 2 s; the dribblers get 408 at --body-timeout.
func TestDribblingBodies(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, func(o *listener.Options) { o.BodyTimeout = 3 * time.Second })
	addr := strings.TrimPrefix(h.url, "http://")
	var answered408, other atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 100 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nContent-Length: %d\r\n\r\n{", 1<<20)
		wg.Add(2)
		go func() { // dribble a byte every 200ms
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				other.Add(1)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusRequestTimeout {
				answered408.Add(1)
			} else {
				other.Add(1)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // every dribbler is past its headers
	for i := range 10 {
		began := time.Now()
		body := strings.Replace(pushBody, `"after":"abc"`, `"after":"d`+strconv.Itoa(i)+`"`, 1)
		code, r, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)})
		took := time.Since(began)
		if code != http.StatusAccepted {
			t.Errorf("push %d under 100 dribblers: %d %+v", i, code, r)
		}
		if took > 2*time.Second {
			t.Errorf("push %d took %s under 100 dribblers", i, took)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for answered408.Load()+other.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	if answered408.Load() != 100 {
		t.Errorf("%d dribblers answered 408, %d otherwise (want 100 × 408 at --body-timeout)", answered408.Load(), other.Load())
	}
	wg.Wait()
}

// TestMemoryBudget: a delivery that does not fit the budget for bodies in flight waits briefly, then
// gets 429 with Retry-After; one that could never fit, or holds too many JSON values, gets 413 (and an
// unsigned one is refused 401 before its values are even counted).
func TestMemoryBudget(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, func(o *listener.Options) {
		o.MaxBodyBytesInFlight = 1 << 20
		o.BudgetWait = 300 * time.Millisecond
		o.MaxJSONValues = 1000
		o.BodyTimeout = 4 * time.Second
	})
	// A sender that sent 600 KiB of a 900 KiB body and stalls holds 900 KiB of the 1 MiB budget.
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 900<<10)
	_, _ = conn.Write([]byte(`{"pad":"` + strings.Repeat("x", 600<<10)))
	time.Sleep(300 * time.Millisecond)

	big := `{"ref":"refs/heads/main","repository":{"clone_url":"u"},"pad":"` + strings.Repeat("y", 500<<10) + `"}`
	many := "[" + strings.TrimSuffix(strings.Repeat("1,", 2000), ",") + "]"
	sign := func(body string) *http.Request {
		req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)}.Request(context.Background(), h.url+"/hooks")
		return req
	}
	forged := sign(many)
	forged.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	cases := []struct {
		name       string
		req        *http.Request
		code       int
		reason     string
		retryAfter bool
	}{
		{"does not fit now", sign(big), 429, "memory budget", true},
		{"small push still fits", sign(pushBody), 202, "", false},
		{"too many JSON values", sign(many), 413, "JSON values", false},
		{"too many values, unsigned: never counted", forged, 401, "refused", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, resp, hdr := do(t, c.req)
			text, _ := jsonText(resp)
			if code != c.code || !strings.Contains(text, c.reason) {
				t.Fatalf("%d %s, want %d %q", code, text, c.code, c.reason)
			}
			if c.retryAfter && hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
	// Once the stalled sender is cut off at --body-timeout, the big delivery fits.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled sender: %v %v", resp, err)
	}
	if code, resp, _ := do(t, sign(big)); code != 202 {
		t.Fatalf("after the stalled sender left: %d %+v", code, resp)
	}
	// A body whose decoded form could never fit in the budget.
	h2 := start(t, ns, func(o *listener.Options) { o.MaxBodyBytesInFlight = 700 << 10 })
	req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(big)}.Request(context.Background(), h2.url+"/hooks")
	if code, resp, _ := do(t, req); code != 413 {
		t.Fatalf("never fits: %d %+v", code, resp)
	}
}

// TestOpenTriggers: a trigger that accepts unauthenticated posts is warned about (log, /readyz, a Warning
// Event on its EventListener); with --require-auth it is not served at all, and the EventListener's status
// (written by elstatus from the listener's health) says so.
func TestOpenTriggers(t *testing.T) {
	const openEL = `
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: open}
spec:
  triggers:
  - name: anyone
    bindings: [{name: url, value: "x"}, {name: event, value: "e"}]
    template: {ref: run}
  - name: signed
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}}
    bindings: [{name: url, value: "x"}, {name: event, value: "e"}]
    template: {ref: run}
`
	cases := []struct {
		name        string
		requireAuth bool
		code        int // PipelineRuns made by a signed post
		readyz      string
		event       string // reason of the Warning Event on EventListener open
		ready       string // status of its Ready condition
	}{
		{"served with a warning", false, 2, "open trigger %s/anyone: accepts unauthenticated posts", "OpenTrigger", "True"},
		{"refused with --require-auth", true, 1, "invalid trigger %s/anyone: trigger configuration: accepts unauthenticated posts", "InvalidTrigger", "False"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := env.Namespace(t)
			apply(t, ns, fixture(ns)+openEL)
			h := start(t, ns, func(o *listener.Options) { o.RequireAuth = c.requireAuth })
			// Signed, so that the answer has the detail: "signed" creates; "anyone" creates, or is refused.
			req := mustRequest(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)}, h.url+"/hooks/open")
			code, resp, _ := do(t, req)
			if code != http.StatusAccepted || len(resp.Triggers) != 2 {
				t.Fatalf("signed post: %d %+v", code, resp)
			}
			if n := len(pipelineRuns(t, ns)); n != c.code {
				t.Errorf("%d PipelineRuns, want %d", n, c.code)
			}
			if c.requireAuth && (resp.Triggers[0].Status != listener.StatusFailed || !strings.Contains(resp.Triggers[0].Reason, "--require-auth")) {
				t.Errorf("open trigger under --require-auth: %+v", resp.Triggers[0])
			}
			want := fmt.Sprintf(c.readyz, ns)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				r, err := http.Get(h.url + "/readyz")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(r.Body)
				r.Body.Close()
				var evs corev1.EventList
				if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
					t.Fatal(err)
				}
				evOK := false
				for _, e := range evs.Items {
					evOK = evOK || e.InvolvedObject.Name == "open" && e.Reason == c.event && strings.Contains(e.Message, ns+"/anyone")
				}
				if strings.Contains(string(body), want) && !strings.Contains(string(body), "/signed") && evOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz:\n%s\nEvent %s on EventListener open found: %v", body, c.event, evOK)
				}
			}
			if !strings.Contains(h.logText(), "trigger accepts unauthenticated posts") {
				t.Error("no warning about the open trigger in the log")
			}
			// The EventListener's status, as the elected replica writes it from the listener's health.
			w := elstatus.New(client.NewNamespacedClient(env.Client, ns), env.Client, elstatus.Options{URL: h.url, Namespace: ns, Health: h.srv.Health})
			if err := w.Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			var el triggersv1beta1.EventListener
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "open"}, &el); err != nil {
				t.Fatal(err)
			}
			ready := condition(&el, elstatus.ConditionReady)
			if ready == nil || ready.Status != c.ready || c.requireAuth && !strings.Contains(ready.Message, "--require-auth") {
				t.Errorf("Ready condition: %+v", ready)
			}
		})
	}
}

func condition(el *triggersv1beta1.EventListener, typ string) *triggersv1beta1.Condition {
	for i := range el.Status.Conditions {
		if el.Status.Conditions[i].Type == typ {
			return &el.Status.Conditions[i]
		}
	}
	return nil
}

// TestClusterInterceptorTransport: deliveries calling a ClusterInterceptor reuse one connection; when the
// ClusterInterceptor changes, the next deliveries call the new address.
func TestClusterInterceptorTransport(t *testing.T) {
	type counting struct {
		srv   *http.Server
		url   string
		conns atomic.Int64
		calls atomic.Int64
	}
	serve := func() *counting {
		c := &counting{}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.url = "http://" + ln.Addr().String() + "/"
		c.srv = &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.calls.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = w.Write([]byte(`{"continue":true,"extensions":{"via":"ci"}}`))
			}),
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					c.conns.Add(1)
				}
			},
		}
		go func() { _ = c.srv.Serve(ln) }()
		t.Cleanup(func() { _ = c.srv.Close() })
		return c
	}
	one, two := serve(), serve()
	ns := env.Namespace(t)
	ciName := ns + "-ci"
	apply(t, ns, fixture(ns)+fmt.Sprintf(`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterInterceptor
metadata: {name: %s}
spec:
  clientConfig: {url: "%s"}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: via-ci}
spec:
  triggers:
  - name: ci
    interceptors:
    - github: {secretRef: {secretName: hooks, secretKey: github}}
    - ref: {name: %s, kind: ClusterInterceptor}
    bindings: [{name: url, value: "x"}, {name: event, value: $(extensions.via)}]
    template: {ref: run}
`, ciName, one.url, ciName))
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &triggersv1beta1.ClusterInterceptor{ObjectMeta: metaName(ciName)})
	})
	h := start(t, ns, nil)
	send := func(i int) {
		t.Helper()
		body := strings.Replace(pushBody, `"after":"abc"`, `"after":"ci`+strconv.Itoa(i)+`"`, 1)
		req, _ := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)}.Request(context.Background(), h.url+"/hooks/via-ci")
		if code, r, _ := do(t, req); code != 202 {
			t.Fatalf("delivery %d: %d %+v", i, code, r)
		}
	}
	for i := range 8 {
		send(i)
	}
	if one.calls.Load() != 8 || one.conns.Load() != 1 {
		t.Fatalf("8 deliveries: %d calls over %d connections, want 8 over 1", one.calls.Load(), one.conns.Load())
	}
	var ci triggersv1beta1.ClusterInterceptor
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: ciName}, &ci); err != nil {
		t.Fatal(err)
	}
	ci.Spec.ClientConfig.URL = &two.url
	if err := env.Client.Update(context.Background(), &ci); err != nil {
		t.Fatal(err)
	}
	for i := 100; two.calls.Load() == 0; i++ {
		if i > 150 {
			t.Fatal("deliveries still call the old address 5s after the ClusterInterceptor changed")
		}
		send(i)
		time.Sleep(100 * time.Millisecond)
	}
}

// jsonText is the answer as the sender reads it.
func jsonText(r listener.Response) (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

func metaName(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
