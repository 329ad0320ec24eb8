package interceptors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifyOnRawBytes: every provider check authenticates a body that is not JSON at all (so it cannot
// have decoded it), says what it proved, and Verify followed by Finish answers like Process.
func TestVerifyOnRawBytes(t *testing.T) {
	const secret = "s3cret-value"
	body := []byte(`[{},{},{} not json at all`)
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	swMAC := hmac.New(sha256.New, []byte(secret))
	swMAC.Write([]byte("msg_1." + ts + "."))
	swMAC.Write(body)
	swSig := "v1," + base64.StdEncoding.EncodeToString(swMAC.Sum(nil))
	sg := newSecrets("ns/s/k", secret)
	ref := secretRefParam("s", "k")
	opts := Options{Now: func() time.Time { return now }}

	cases := []struct {
		name          string
		provider      string
		params        []any
		h             []string
		code          Code
		proof         Proof
		authenticates bool
	}{
		{"github signed", "github", []any{"secretRef", ref}, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", sha256Sig(secret, body)}, OK, BodyProof, true},
		{"github forged", "github", []any{"secretRef", ref}, []string{"X-GitHub-Event", "push", "X-Hub-Signature-256", sha256Sig("x", body)}, Unauthenticated, NoProof, true},
		{"github event filtered before the signature", "github", []any{"secretRef", ref, "eventTypes", []string{"pull_request"}}, []string{"X-GitHub-Event", "push"}, Skip, NoProof, true},
		{"github without secret", "github", nil, []string{"X-GitHub-Event", "push"}, OK, NoProof, false},
		{"gitlab token", "gitlab", []any{"secretRef", ref}, []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", secret}, OK, TokenProof, true},
		{"gitlab wrong token", "gitlab", []any{"secretRef", ref}, []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "nope"}, Unauthenticated, NoProof, true},
		{"standard webhooks", "gitlab", []any{"secretRef", ref}, []string{"X-Gitlab-Event", "Push Hook", "Webhook-Id", "msg_1", "Webhook-Timestamp", ts, "Webhook-Signature", swSig}, OK, SignedIDProof, true},
		{"bitbucket signed", "bitbucket", []any{"secretRef", ref}, []string{"X-Event-Key", "repo:refs_changed", "X-Hub-Signature", sha256Sig(secret, body)}, OK, BodyProof, true},
		{"bitbucket open", "bitbucket", []any{"eventTypes", []string{"repo:push"}}, []string{"X-Event-Key", "repo:push"}, OK, NoProof, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ic := mustBuild(t, tc.provider, params(t, tc.params...), sg, opts)
			v, ok := ic.(Verifier)
			if !ok {
				t.Fatalf("%s interceptor is not a Verifier", tc.provider)
			}
			if v.Authenticates() != tc.authenticates {
				t.Errorf("Authenticates() = %v, want %v", v.Authenticates(), tc.authenticates)
			}
			req := &Request{Body: body, Header: header(tc.h...), Namespace: "ns"}
			got := v.Verify(context.Background(), req)
			expect(t, got, tc.code, "", secret)
			if got.Proof != tc.proof {
				t.Errorf("Proof = %v, want %v", got.Proof, tc.proof)
			}
			if got.Continue && len(got.Extensions) != 0 {
				t.Errorf("Verify returned extensions %v", got.Extensions)
			}
			whole := ic.Process(context.Background(), req)
			if whole.Code != got.Code || whole.Continue != got.Continue || whole.Message != got.Message {
				t.Errorf("Process = %+v, Verify = %+v", whole, got)
			}
		})
	}
}

// TestRunVerifiedSkipsTheSecondCheck: RunVerified runs Finish (changed_files) instead of checking the
// signature again, and the rest of the chain as Run does.
func TestRunVerifiedSkipsTheSecondCheck(t *testing.T) {
	const secret = "s3cret-value"
	body := []byte(`{"commits":[{"added":["a.go"],"modified":["b.go"]}]}`)
	sg := newSecrets("ns/s/k", secret)
	gh := mustBuild(t, "github", params(t, "secretRef", secretRefParam("s", "k"), "addChangedFiles", map[string]any{"enabled": true}), sg, Options{})
	next := &stub{resp: Response{Continue: true, Extensions: map[string]any{"next": true}}}
	req := &Request{Body: body, Header: header("X-GitHub-Event", "push", "X-Hub-Signature-256", sha256Sig(secret, body)), Namespace: "ns"}
	if v := gh.(Verifier).Verify(context.Background(), req); !v.Continue {
		t.Fatalf("Verify: %+v", v)
	}
	reads := len(sg.calls)
	got := RunVerified(context.Background(), []Interceptor{gh, next}, req)
	expect(t, got, OK, "")
	if len(sg.calls) != reads {
		t.Errorf("RunVerified read the secret again (%d reads after Verify's %d)", len(sg.calls), reads)
	}
	if got.Extensions["changed_files"] != "a.go,b.go" || got.Extensions["next"] != true {
		t.Errorf("extensions = %v", got.Extensions)
	}
}

// TestWebhookRedirectsAndReplyCap: external interceptors never follow a redirect (with or without a
// caller's client) and refuse replies over the cap.
func TestWebhookRedirectsAndReplyCap(t *testing.T) {
	target := newRecordingServer(t, 200, `{"continue": true}`, 0)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"continue": true, "extensions": {"x": "`))
		_, _ = w.Write([]byte(strings.Repeat("a", maxWebhookResponse)))
		_, _ = w.Write([]byte(`"}}`))
	}))
	t.Cleanup(huge.Close)
	cases := []struct {
		name string
		url  string
		opts Options
		code Code
		msg  string
	}{
		{"redirect, default client", redirect.URL, Options{}, Internal, "redirect"},
		{"redirect, caller's client", redirect.URL, Options{HTTPClient: &http.Client{}}, Internal, "redirect"},
		{"reply over the cap", huge.URL, Options{}, Internal, "larger than"},
		{"plain answer", target.URL, Options{HTTPClient: &http.Client{}}, OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, NewWebhook(tc.url, nil, tc.opts).Process(context.Background(), &Request{Body: []byte(`{}`)}), tc.code, tc.msg)
		})
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	if len(target.got) != 1 {
		t.Errorf("the redirect target was called %d times, want 1 (only the plain case)", len(target.got))
	}
}
