package listener_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/forge/forgetest"
	glforge "github.com/hookrun/hookrun/forge/gitlab"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

// gitlabRecoverySetup applies the listener fixture and a token Secret, and annotates the EventListener.
func gitlabRecoverySetup(t *testing.T, ns string, annotations map[string]string) {
	t.Helper()
	apply(t, ns, fixture(ns))
	apply(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: gl-api-token}\nstringData: {token: "+recoveryToken+", other: not-the-token}\n")
	var el triggersv1beta1.EventListener
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hooks"}, &el); err != nil {
		t.Fatal(err)
	}
	el.Annotations = annotations
	if err := env.Client.Update(context.Background(), &el); err != nil {
		t.Fatal(err)
	}
}

func gitlabAnnotations(hook, api string) map[string]string {
	return map[string]string{listener.AnnotationGitLabHook: hook, listener.AnnotationGitLabTokenSecret: "gl-api-token",
		listener.AnnotationGitLabAPI: api}
}

// serveAt has the harness's listener serve on addr too (the listener coming back up where the hook
// points: GitLab resends only to the URL an event was sent to).
func serveAt(t *testing.T, h *harness, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// deliverGitLabPushes has the fake GitLab deliver n pushes (tokened, keys not in sorted order, so a
// resend's re-encoded payload differs from the original bytes).
func deliverGitLabPushes(t *testing.T, fake *forgetest.Server, hook string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		body := []byte(fmt.Sprintf(`{"object_kind":"push","checkout_sha":"%040x","project":{"git_http_url":"https://example.com/g.git"}}`, i+1))
		req, err := listener.Outgoing{Provider: "gitlab", Event: "push", Secret: glToken, Body: body}.Request(context.Background(), "http://unused/")
		if err != nil {
			t.Fatal(err)
		}
		fake.DeliverGitLab(hook, req.Header, body)
	}
}

func gitlabResends(fake *forgetest.Server, hook string) []forgetest.GitLabHookEvent {
	var out []forgetest.GitLabHookEvent
	for _, e := range fake.GitLabEvents(hook) {
		if e.Resend {
			out = append(out, e)
		}
	}
	return out
}

// TestGitLabRecoveryRedeliversMissed: 20 pushes GitLab failed to deliver while the listener was down
// become exactly 20 runs once it is back at the same address, over passes bounded to 8 resends made by
// fresh Recoverers; a further pass resends nothing; a resend of an event that did arrive (its payload
// encoded anew) is a duplicate.
func TestGitLabRecoveryRedeliversMissed(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "acme/widgets/77"
	addr := controlplane.FreeAddr(t)
	fake.SetGitLabHook(hook, "http://"+addr+"/hooks")
	gitlabRecoverySetup(t, ns, gitlabAnnotations("acme%2Fwidgets/77", fake.GitLabAPI()))
	deliverGitLabPushes(t, fake, hook, 0, 20)
	for _, e := range fake.GitLabEvents(hook) {
		if e.ResponseStatus != glforge.InternalError {
			t.Fatalf("delivery to a listener that is down: %+v, want %q", e, glforge.InternalError)
		}
	}
	h := start(t, ns, nil)
	serveAt(t, h, addr)

	ctx := context.Background()
	var logs bytes.Buffer
	for i, want := range []int{8, 8, 4, 0} {
		rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Namespace: ns, MaxPerPass: 8, GitLabEvery: time.Millisecond})
		res, err := rc.Pass(ctx)
		if err != nil || res.Redelivered != want || res.Errors != 0 || res.Hooks != 1 {
			t.Fatalf("pass %d: %+v, %v; want %d resent and no error\n%s", i+1, res, err, want, logs.String())
		}
	}
	waitRuns(t, ns, 20)
	if c := strings.Count(logs.String(), "delivery redelivered"); c != 20 || strings.Contains(logs.String(), recoveryToken) || strings.Contains(logs.String(), glToken) {
		t.Errorf("%d resends logged, want 20, and never a token:\n%s", c, logs.String())
	}
	resends := gitlabResends(fake, hook)
	if len(resends) != 20 {
		t.Fatalf("%d resends, want 20", len(resends))
	}
	for _, e := range resends {
		if !strings.HasPrefix(e.ResponseStatus, "2") {
			t.Errorf("resend %d (%s) answered %s", e.ID, e.IdempotencyKey, e.ResponseStatus)
		}
	}

	// Another pass by a new leader with the cursor: nothing to do, nothing created.
	rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, GitLabEvery: time.Millisecond})
	if res, err := rc.Pass(ctx); err != nil || res.Redelivered != 0 || res.Listed != 0 {
		t.Fatalf("second recovery: %+v, %v; want nothing new listed (the cursor is past the resends) and nothing resent", res, err)
	}

	// An event that arrived, resent by hand in GitLab: other bytes, same Idempotency-Key: a duplicate.
	deliverGitLabPushes(t, fake, hook, 100, 1)
	waitRuns(t, ns, 21)
	evs := fake.GitLabEvents(hook)
	arrived := evs[len(evs)-1]
	gl, err := glforge.New(fake.GitLabAPI(), recoveryToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := glforge.ParseHook(hook)
	if status, failed, err := gl.Resend(ctx, h2, arrived.ID); err != nil || failed {
		t.Fatalf("manual resend: %s %v %v", status, failed, err)
	}
	evs = fake.GitLabEvents(hook)
	if again := evs[len(evs)-1]; bytes.Equal(again.Body, arrived.Body) || again.IdempotencyKey != arrived.IdempotencyKey {
		t.Fatalf("the fake's resend should re-encode the payload and keep the key: %s vs %s", again.Body, arrived.Body)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(pipelineRuns(t, ns)); n != 21 {
		t.Fatalf("%d PipelineRuns after resending an event that arrived, want 21", n)
	}
}

// TestGitLabRecoveryRateLimitAndGiveUp: GitLab's resend rate limit ends the hook's pass, the cursor stops
// before what was not resent and the next pass continues; a listener still down has each event resent
// MaxAttempts times, then given up.
func TestGitLabRecoveryRateLimitAndGiveUp(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "31/5"
	fake.SetGitLabHook(hook, deadURL(t))
	gitlabRecoverySetup(t, ns, gitlabAnnotations(hook, fake.GitLabAPI()))
	deliverGitLabPushes(t, fake, hook, 0, 3)
	fake.SetGitLabResendLimit(2)
	ctx := context.Background()
	opts := listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, MaxAttempts: 2, GitLabEvery: time.Millisecond}
	res, err := listener.NewRecoverer(env.Client, env.Client, opts).Pass(ctx)
	if err != nil || res.Redelivered != 2 || res.Errors != 1 {
		t.Fatalf("rate-limited pass: %+v, %v; want 2 resent and the hook's pass ended by the 429", res, err)
	}
	fake.SetGitLabResendLimit(0)
	// Pass 2: the third event (first try) and the first two again (their resends failed too).
	for i, want := range []struct{ resent, gaveUp int }{{3, 0}, {1, 2}, {0, 1}, {0, 0}} {
		res, err := listener.NewRecoverer(env.Client, env.Client, opts).Pass(ctx)
		if err != nil || res.Redelivered != want.resent || res.GaveUp != want.gaveUp || res.Errors != 0 {
			t.Fatalf("pass %d (listener down): %+v, %v; want %+v", i+2, res, err, want)
		}
	}
	if n := len(gitlabResends(fake, hook)); n != 6 {
		t.Fatalf("%d resends, want 2 per event", n)
	}
}

// TestGitLabRecoveryOnlyLeaseHolder: of three replicas, only the one holding the Lease calls GitLab, and
// each missed event is resent once.
func TestGitLabRecoveryOnlyLeaseHolder(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "acme/widgets/78"
	addr := controlplane.FreeAddr(t)
	fake.SetGitLabHook(hook, "http://"+addr+"/hooks")
	gitlabRecoverySetup(t, ns, gitlabAnnotations(hook, fake.GitLabAPI()))
	deliverGitLabPushes(t, fake, hook, 0, 3)
	h := start(t, ns, nil)
	serveAt(t, h, addr)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	counts := make([]*countingTransport, 3)
	for i := range counts {
		counts[i] = &countingTransport{}
		rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, Interval: time.Second,
			GitLabEvery: time.Millisecond, HTTPClient: &http.Client{Transport: counts[i], Timeout: 30 * time.Second}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = listener.RunRecoveryElected(ctx, env.Config, ns, fmt.Sprintf("gl-replica-%d", i), rc)
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for len(gitlabResends(fake, hook)) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d resends after 90s, want 3", len(gitlabResends(fake, hook)))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a few more passes of the leader
	waitRuns(t, ns, 3)
	if n := len(gitlabResends(fake, hook)); n != 3 {
		t.Fatalf("%d resends, want 3", n)
	}
	callers := 0
	for i, c := range counts {
		if c.n.Load() > 0 {
			callers++
			t.Logf("gl-replica-%d made %d GitLab requests", i, c.n.Load())
		}
	}
	if callers != 1 {
		t.Fatalf("%d replicas called GitLab, want 1 (the lease holder)", callers)
	}
}

// TestGitLabRecoveryRefusals: malformed GitLab annotations, and what GitLab refuses, are said in the log
// naming the annotation and the EventListener, never the token.
func TestGitLabRecoveryRefusals(t *testing.T) {
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	fake.SetGitLabHook("acme/widgets/1", deadURL(t))
	with := func(kv ...string) map[string]string {
		m := gitlabAnnotations("acme/widgets/1", fake.GitLabAPI())
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"token without hook", with(listener.AnnotationGitLabHook, ""), listener.AnnotationGitLabHook + " is required"},
		{"no hook id", with(listener.AnnotationGitLabHook, "acme/widgets"), listener.AnnotationGitLabHook + ": gitlab hook"},
		{"bad project", with(listener.AnnotationGitLabHook, "acme//widgets/1"), "segment in the project path"},
		{"no secret", with(listener.AnnotationGitLabTokenSecret, ""), listener.AnnotationGitLabTokenSecret + " is required"},
		{"bad api", with(listener.AnnotationGitLabAPI, "ftp://gitlab.example.com"), listener.AnnotationGitLabAPI + ": "},
		{"unknown hook", with(listener.AnnotationGitLabHook, "acme/widgets/404"), "404"},
		{"wrong token", with(listener.AnnotationGitLabTokenKey, "other"), "401"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := env.Namespace(t)
			gitlabRecoverySetup(t, ns, c.annotations)
			var logs bytes.Buffer
			rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Namespace: ns, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			res, err := rc.Pass(context.Background())
			if err != nil || res.Errors != 1 || res.Redelivered != 0 {
				t.Fatalf("%+v, %v; want one error", res, err)
			}
			out := logs.String()
			if !strings.Contains(out, c.want) || !strings.Contains(out, ns+"/hooks") || strings.Contains(out, recoveryToken) || strings.Contains(out, "not-the-token") {
				t.Fatalf("log lacks %q or the EventListener, or shows a token:\n%s", c.want, out)
			}
		})
	}
}
