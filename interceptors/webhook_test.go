package interceptors

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingServer answers every request with reply (status and body) and
// records the decoded InterceptorRequest.
type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	ct   []string
	meth []string
}

func newRecordingServer(t *testing.T, status int, reply string, delay time.Duration) *recordingServer {
	t.Helper()
	rs := &recordingServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		rs.mu.Lock()
		rs.got = append(rs.got, m)
		rs.ct = append(rs.ct, r.Header.Get("Content-Type"))
		rs.meth = append(rs.meth, r.Method)
		rs.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func TestWebhookRequestAndContinue(t *testing.T) {
	rs := newRecordingServer(t, 200, `{"continue": true, "extensions": {"added": {"by": "webhook"}, "count": 2}}`, 0)
	p := params(t, "foo", "bar", "nested", map[string]any{"x": []int{1}})
	ic := NewWebhook(rs.URL+"/intercept", p, Options{})
	req := &Request{
		Body:       []byte(`{"ref":"refs/heads/main"}`),
		Header:     header("X-Github-Event", "push", "X-Multi", "a", "X-Multi", "b"),
		Extensions: map[string]any{"truncated_sha": "abc1234"},
		Namespace:  "ns",
		Context:    Context{EventURL: "http://el/hooks", EventID: "ev-42", TriggerID: "namespaces/ns/triggers/t"},
	}
	got := ic.Process(context.Background(), req)
	expect(t, got, OK, "")
	want := map[string]any{"added": map[string]any{"by": "webhook"}, "count": 2.0}
	if !reflect.DeepEqual(got.Extensions, want) {
		t.Fatalf("extensions = %v, want %v", got.Extensions, want)
	}
	if len(rs.got) != 1 {
		t.Fatalf("server saw %d requests", len(rs.got))
	}
	if rs.meth[0] != http.MethodPost || rs.ct[0] != "application/json" {
		t.Fatalf("method %s content type %s", rs.meth[0], rs.ct[0])
	}
	sent := rs.got[0]
	wantSent := map[string]any{
		"body":               `{"ref":"refs/heads/main"}`,
		"header":             map[string]any{"X-Github-Event": []any{"push"}, "X-Multi": []any{"a", "b"}},
		"extensions":         map[string]any{"truncated_sha": "abc1234"},
		"interceptor_params": map[string]any{"foo": "bar", "nested": map[string]any{"x": []any{1.0}}},
		"context":            map[string]any{"event_url": "http://el/hooks", "event_id": "ev-42", "trigger_id": "namespaces/ns/triggers/t"},
	}
	if !reflect.DeepEqual(sent, wantSent) {
		b, _ := json.MarshalIndent(sent, "", " ")
		t.Fatalf("InterceptorRequest sent:\n%s", b)
	}
}

func TestWebhookStatusMapping(t *testing.T) {
	cases := []struct {
		name   string
		status int
		reply  string
		code   Code
		msg    string
	}{
		{"failed precondition", 200, `{"continue": false, "status": {"code": 9, "message": "not for us"}}`, Skip, "not for us"},
		{"unauthenticated", 200, `{"continue": false, "status": {"code": 16, "message": "bad token"}}`, Unauthenticated, "bad token"},
		{"invalid argument", 200, `{"continue": false, "status": {"code": 3, "message": "bad param"}}`, InvalidArgument, "bad param"},
		{"internal", 200, `{"continue": false, "status": {"code": 13, "message": "boom"}}`, Internal, "boom"},
		{"unknown code", 200, `{"continue": false, "status": {"code": 2}}`, Internal, "stopped processing"},
		{"code by name", 200, `{"continue": false, "status": {"code": "FAILED_PRECONDITION", "message": "named"}}`, Skip, "named"},
		{"stop without status", 200, `{"continue": false}`, Skip, "stopped processing"},
		{"continue wins", 200, `{"continue": true, "status": {"code": 13}}`, OK, ""},
		{"http 500", 500, `{"continue": true, "secret": "do-not-echo"}`, Internal, "HTTP 500"},
		{"http 404", 404, `not found`, Internal, "HTTP 404"},
		{"not json", 200, `<html>do-not-echo</html>`, Internal, "not an InterceptorResponse"},
		{"wrong types", 200, `{"continue": "yes"}`, Internal, "not an InterceptorResponse"},
		{"bad code name", 200, `{"continue": false, "status": {"code": "NOPE"}}`, Internal, "not an InterceptorResponse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRecordingServer(t, tc.status, tc.reply, 0)
			got := NewWebhook(rs.URL, nil, Options{}).Process(context.Background(), &Request{Body: []byte(`{}`)})
			expect(t, got, tc.code, tc.msg, "do-not-echo")
		})
	}
}

func TestWebhookTimeoutAndTransport(t *testing.T) {
	rs := newRecordingServer(t, 200, `{"continue": true}`, 5*time.Second)
	start := time.Now()
	got := NewWebhook(rs.URL, nil, Options{Timeout: 100 * time.Millisecond}).Process(context.Background(), &Request{})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout not honoured: %v", d)
	}
	expect(t, got, Internal, "no reply within 100ms")

	// Caller cancellation is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	expect(t, NewWebhook(rs.URL, nil, Options{}).Process(ctx, &Request{}), Internal, "")

	// Connection refused; credentials in the URL are not echoed.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := strings.Replace(dead.URL, "http://", "http://user:hunter2@", 1)
	dead.Close()
	got = NewWebhook(deadURL, nil, Options{Timeout: time.Second}).Process(context.Background(), &Request{})
	expect(t, got, Internal, "unreachable", "hunter2")

	// A custom client is used.
	used := false
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"continue":true}`)), Header: http.Header{}}, nil
	})}
	expect(t, NewWebhook("http://interceptor.invalid/x", nil, Options{HTTPClient: client}).Process(context.Background(), &Request{}), OK, "")
	if !used {
		t.Fatal("custom HTTPClient not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
