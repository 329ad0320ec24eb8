package listener_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/test/controlplane"
)

const recoveryToken = "ghp-recovery-token-value"

var recoveryLog = slog.New(slog.DiscardHandler)

// recoverySetup applies the listener fixture, a token Secret, and annotates the EventListener with hook.
func recoverySetup(t *testing.T, ns, api, hook string) {
	t.Helper()
	apply(t, ns, fixture(ns))
	apply(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: gh-token}\nstringData: {token: "+recoveryToken+"}\n")
	var el triggersv1beta1.EventListener
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hooks"}, &el); err != nil {
		t.Fatal(err)
	}
	el.Annotations = map[string]string{
		listener.AnnotationGitHubHook:        hook,
		listener.AnnotationGitHubTokenSecret: "gh-token",
		listener.AnnotationGitHubAPI:         api,
	}
	if err := env.Client.Update(context.Background(), &el); err != nil {
		t.Fatal(err)
	}
}

// deadURL is a loopback URL nothing listens on (a listener that is down).
func deadURL(t *testing.T) string { return "http://" + controlplane.FreeAddr(t) + "/hooks" }

// deliverPushes has the fake GitHub deliver n signed pushes to hook, each a distinct commit.
func deliverPushes(t *testing.T, fake *forgetest.Server, hook string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","head_commit":{"id":"%040x"},"repository":{"clone_url":"https://example.com/acme/widgets.git"}}`, i+1))
		req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: body}.Request(context.Background(), "http://unused/")
		if err != nil {
			t.Fatal(err)
		}
		fake.Deliver(hook, req.Header, body)
	}
}

func waitRuns(t *testing.T, ns string, want int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		n := len(pipelineRuns(t, ns))
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%d PipelineRuns, want %d", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func redeliveries(fake *forgetest.Server, hook string) int {
	n := 0
	for _, d := range fake.Deliveries(hook) {
		if d.Redelivery {
			n++
		}
	}
	return n
}

// TestRecoveryRedeliversMissed: 20 pushes GitHub failed to deliver while the listener was down become
// exactly 20 runs once it is up, over passes bounded to 8 redeliveries made by fresh Recoverers (a new
// leader continues from the cursor); a further pass redelivers nothing.
func TestRecoveryRedeliversMissed(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "acme/widgets/42"
	recoverySetup(t, ns, fake.GitHubAPI(), hook)

	fake.SetHook(hook, deadURL(t))
	deliverPushes(t, fake, hook, 20)
	for _, d := range fake.Deliveries(hook) {
		if !(d.StatusCode == 0 && d.Status != "OK") {
			t.Fatalf("delivery to a listener that is down: %+v, want failed", d)
		}
	}
	h := start(t, ns, nil)
	fake.SetHook(hook, h.url+"/hooks")

	ctx := context.Background()
	var logs bytes.Buffer
	for i, want := range []int{8, 8, 4, 0} {
		rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Namespace: ns, MaxPerPass: 8, Every: time.Millisecond})
		res, err := rc.Pass(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Redelivered != want || res.Errors != 0 || res.Hooks != 1 {
			t.Fatalf("pass %d: %+v, want %d redelivered and no error", i+1, res, want)
		}
	}
	waitRuns(t, ns, 20)
	if c := strings.Count(logs.String(), "delivery redelivered"); c != 20 || strings.Contains(logs.String(), recoveryToken) {
		t.Errorf("%d redeliveries logged, want 20, and never the token:\n%s", c, logs.String())
	}
	if n := redeliveries(fake, hook); n != 20 {
		t.Fatalf("%d redeliveries, want 20", n)
	}
	for _, d := range fake.Deliveries(hook) {
		if d.Redelivery && d.StatusCode/100 != 2 {
			t.Errorf("redelivery %s answered %d (%s)", d.GUID, d.StatusCode, d.Status)
		}
	}

	// Another pass, and a new leader with the cursor: nothing to do, nothing created.
	rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, Every: time.Millisecond})
	if res, err := rc.Pass(ctx); err != nil || res.Redelivered != 0 {
		t.Fatalf("second recovery: %+v, %v; want nothing redelivered", res, err)
	}
	if n := len(pipelineRuns(t, ns)); n != 20 {
		t.Fatalf("%d PipelineRuns after the second pass, want 20", n)
	}
}

// TestRecoveryRetriesThenGivesUp: a redelivery that fails again is asked for again on the next pass, up
// to MaxAttempts; an event the listener already has (its newest attempt succeeded) is left alone.
func TestRecoveryRetriesThenGivesUp(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "org/acme/7"
	recoverySetup(t, ns, fake.GitHubAPI(), hook)
	h := start(t, ns, nil)
	fake.SetHook(hook, h.url+"/hooks")
	deliverPushes(t, fake, hook, 1) // arrives: run 1
	waitRuns(t, ns, 1)
	fake.SetHook(hook, deadURL(t))
	deliverPushes(t, fake, hook, 2) // the first again (same bytes, new GUID) and a second, both lost
	ctx := context.Background()
	opts := listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, MaxAttempts: 2, Every: time.Millisecond}
	for i, want := range []struct{ redelivered, gaveUp int }{{2, 0}, {2, 0}, {0, 2}, {0, 0}} {
		res, err := listener.NewRecoverer(env.Client, env.Client, opts).Pass(ctx)
		if err != nil || res.Redelivered != want.redelivered || res.GaveUp != want.gaveUp {
			t.Fatalf("pass %d (listener down): %+v, %v; want %+v", i+1, res, err, want)
		}
	}
	if n := len(pipelineRuns(t, ns)); n != 1 {
		t.Fatalf("%d PipelineRuns, want 1", n)
	}
}

// countingTransport counts the GitHub API requests one replica makes.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestRecoveryOnlyLeaseHolder: of three replicas, only the one holding the Lease calls GitHub, and each
// missed delivery is redelivered once.
func TestRecoveryOnlyLeaseHolder(t *testing.T) {
	ns := env.Namespace(t)
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	const hook = "acme/widgets/43"
	recoverySetup(t, ns, fake.GitHubAPI(), hook)
	fake.SetHook(hook, deadURL(t))
	deliverPushes(t, fake, hook, 3)
	h := start(t, ns, nil)
	fake.SetHook(hook, h.url+"/hooks")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	counts := make([]*countingTransport, 3)
	for i := range counts {
		counts[i] = &countingTransport{}
		rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Logger: recoveryLog, Namespace: ns, Interval: time.Second,
			Every: time.Millisecond, HTTPClient: &http.Client{Transport: counts[i], Timeout: 30 * time.Second}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = listener.RunRecoveryElected(ctx, env.Config, ns, fmt.Sprintf("replica-%d", i), rc)
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for redeliveries(fake, hook) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d redeliveries after 90s, want 3", redeliveries(fake, hook))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a few more passes of the leader
	waitRuns(t, ns, 3)
	if n := redeliveries(fake, hook); n != 3 {
		t.Fatalf("%d redeliveries, want 3", n)
	}
	callers := 0
	for i, c := range counts {
		if c.n.Load() > 0 {
			callers++
			t.Logf("replica-%d made %d GitHub requests", i, c.n.Load())
		}
	}
	if callers != 1 {
		t.Fatalf("%d replicas called GitHub, want 1 (the lease holder)", callers)
	}
}

// TestRecoveryRefusals: what recovery cannot do is said in the log, per EventListener, without the token.
func TestRecoveryRefusals(t *testing.T) {
	fake := forgetest.NewServer(recoveryToken)
	defer fake.Close()
	cases := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"app hook", map[string]string{listener.AnnotationGitHubAppHook: "true"}, "JWT"},
		{"bad hook", map[string]string{listener.AnnotationGitHubHook: "acme/widgets", listener.AnnotationGitHubTokenSecret: "gh-token"}, "OWNER/REPO/HOOK_ID"},
		{"no secret", map[string]string{listener.AnnotationGitHubHook: "acme/widgets/1"}, listener.AnnotationGitHubTokenSecret + " is required"},
		{"unknown hook", map[string]string{listener.AnnotationGitHubHook: "acme/widgets/404", listener.AnnotationGitHubTokenSecret: "gh-token",
			listener.AnnotationGitHubAPI: fake.GitHubAPI()}, "404"},
		{"wrong token", map[string]string{listener.AnnotationGitHubHook: "acme/widgets/1", listener.AnnotationGitHubTokenSecret: "gh-token",
			listener.AnnotationGitHubTokenKey: "other", listener.AnnotationGitHubAPI: fake.GitHubAPI()}, "401"},
	}
	fake.SetHook("acme/widgets/1", deadURL(t))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := env.Namespace(t)
			apply(t, ns, fixture(ns))
			apply(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: gh-token}\nstringData: {token: "+recoveryToken+", other: not-the-token}\n")
			var el triggersv1beta1.EventListener
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hooks"}, &el); err != nil {
				t.Fatal(err)
			}
			el.Annotations = c.annotations
			if err := env.Client.Update(context.Background(), &el); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			rc := listener.NewRecoverer(env.Client, env.Client, listener.RecoveryOptions{Namespace: ns, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			res, err := rc.Pass(context.Background())
			if err != nil || res.Errors != 1 || res.Redelivered != 0 {
				t.Fatalf("%+v, %v; want one error", res, err)
			}
			if !strings.Contains(logs.String(), c.want) || !strings.Contains(logs.String(), ns+"/hooks") || strings.Contains(logs.String(), recoveryToken) {
				t.Fatalf("log lacks %q or the EventListener, or shows the token:\n%s", c.want, logs.String())
			}
		})
	}
}
