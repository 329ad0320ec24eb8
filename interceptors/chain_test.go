package interceptors

import (
	"context"
	"maps"
	"reflect"
	"testing"
)

// stub is an Interceptor returning a fixed response and recording what it saw.
type stub struct {
	resp Response
	saw  map[string]any
	ran  bool
}

func (s *stub) Process(_ context.Context, req *Request) Response {
	s.ran = true
	s.saw = maps.Clone(req.Extensions)
	return s.resp
}

func TestRunMergesAndStops(t *testing.T) {
	shared := map[string]any{"from_caller": "x"}
	a := &stub{resp: Response{Continue: true, Extensions: map[string]any{"a": 1, "over": "a"}}}
	b := &stub{resp: Response{Continue: true}}
	c := &stub{resp: Response{Continue: true, Extensions: map[string]any{"over": "c"}}}
	req := &Request{Extensions: shared}
	got := Run(context.Background(), []Interceptor{a, b, c}, req)
	expect(t, got, OK, "")
	want := map[string]any{"from_caller": "x", "a": 1, "over": "c"}
	if !reflect.DeepEqual(got.Extensions, want) || !reflect.DeepEqual(req.Extensions, want) {
		t.Fatalf("extensions = %v, req.Extensions = %v", got.Extensions, req.Extensions)
	}
	if !reflect.DeepEqual(b.saw, map[string]any{"from_caller": "x", "a": 1, "over": "a"}) {
		t.Fatalf("second interceptor saw %v", b.saw)
	}
	if !reflect.DeepEqual(shared, map[string]any{"from_caller": "x"}) {
		t.Fatalf("caller's map was modified: %v", shared)
	}

	stop := &stub{resp: Response{Code: Unauthenticated, Message: "no"}}
	never := &stub{resp: Response{Continue: true}}
	got = Run(context.Background(), []Interceptor{a, stop, never}, &Request{})
	expect(t, got, Unauthenticated, "no")
	if never.ran {
		t.Fatal("interceptor after a stop was run")
	}
	// A stop reported with code OK is a skip.
	got = Run(context.Background(), []Interceptor{&stub{resp: Response{}}}, &Request{})
	expect(t, got, Skip, "")
	// Empty chain.
	expect(t, Run(context.Background(), nil, &Request{}), OK, "")
	// Cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	expect(t, Run(ctx, []Interceptor{a}, &Request{}), Internal, "canceled")
}

// TestRunRealChain chains github -> cel -> webhook the way a trigger would,
// checking that later interceptors see earlier extensions.
func TestRunRealChain(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","head_commit":{"id":"6113728f27ae82c7b1a177c8d03f9e96e0adf246"},"commits":[{"added":["x.go"],"modified":[],"removed":[]}]}`)
	sg := newSecrets("ns/gh/token", ghDocSecret)
	gh := mustBuild(t, "github", params(t, "secretRef", secretRefParam("gh", "token"), "eventTypes", []string{"push"},
		"addChangedFiles", map[string]any{"enabled": true}), sg, Options{})
	celIC := mustBuild(t, "cel", params(t, "filter", "extensions.changed_files.matches('x.go')",
		"overlays", []map[string]string{{"key": "short_sha", "expression": "body.head_commit.id.truncate(7)"}}), nil, Options{})
	rs := newRecordingServer(t, 200, `{"continue": true, "extensions": {"approved": true}}`, 0)
	hook := NewWebhook(rs.URL, nil, Options{})
	req := &Request{Body: body, Header: header("X-GitHub-Event", "push", "X-Hub-Signature-256", sha256Sig(ghDocSecret, body)), Namespace: "ns"}
	got := Run(context.Background(), []Interceptor{gh, celIC, hook}, req)
	expect(t, got, OK, "")
	want := map[string]any{"changed_files": "x.go", "short_sha": "6113728", "approved": true}
	if !reflect.DeepEqual(got.Extensions, want) {
		t.Fatalf("extensions = %v", got.Extensions)
	}
	if sent := rs.got[0]["extensions"]; !reflect.DeepEqual(sent, map[string]any{"changed_files": "x.go", "short_sha": "6113728"}) {
		t.Fatalf("webhook saw extensions %v", sent)
	}
	// A forged signature stops the chain before CEL or the webhook run.
	req.Header.Set("X-Hub-Signature-256", sha256Sig("wrong", body))
	req.Extensions = nil
	expect(t, Run(context.Background(), []Interceptor{gh, celIC, hook}, req), Unauthenticated, "", ghDocSecret)
	if len(rs.got) != 1 {
		t.Fatal("webhook called after a failed signature check")
	}
}
