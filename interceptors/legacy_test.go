package interceptors

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// legacyServer records what a legacy webhook interceptor sent and answers status, body and a header.
type legacyServer struct {
	*httptest.Server
	body   []byte
	header http.Header
}

func newLegacyServer(t *testing.T, status int, reply string) *legacyServer {
	t.Helper()
	ls := &legacyServer{}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.body, _ = io.ReadAll(r.Body)
		ls.header = r.Header.Clone()
		w.Header().Set("X-Reply", "from-interceptor")
		w.Header().Set("X-Github-Event", "rewritten")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(ls.Close)
	return ls
}

func TestLegacyWebhook(t *testing.T) {
	raw := `{"ref": "refs/heads/main",  "n": 1}`
	newReq := func(ext map[string]any) *Request {
		return &Request{
			Body:       []byte(raw),
			Header:     header("X-Github-Event", "push", "Content-Type", "application/json"),
			Extensions: ext,
			Context:    Context{EventURL: "http://listener/hooks/el"},
		}
	}
	headers := []LegacyHeader{}
	for _, h := range []struct{ name, value string }{{"x-single", `"one"`}, {"X-List", `["a","b"]`}, {"X-Github-Event", `"overridden"`}} {
		lh, err := ParseLegacyHeader(h.name, json.RawMessage(h.value))
		if err != nil {
			t.Fatal(err)
		}
		headers = append(headers, lh)
	}

	t.Run("raw body and headers forwarded, reply replaces the event", func(t *testing.T) {
		ls := newLegacyServer(t, 200, `{"replaced": true, "sha": "abc"}`)
		chain := []Interceptor{
			NewLegacyWebhook(ls.URL, headers, Options{}),
			mustBuild(t, "cel", params(t, "filter", "body.replaced && header.canonical('X-Reply') == 'from-interceptor'",
				"overlays", []map[string]string{{"key": "sha", "expression": "body.sha"}}), nil, Options{}),
		}
		req := newReq(nil)
		got := Run(context.Background(), chain, req)
		expect(t, got, OK, "")
		if string(ls.body) != raw {
			t.Errorf("sent body %q, want the delivery's bytes %q", ls.body, raw)
		}
		for name, want := range map[string][]string{
			"X-Single": {"one"}, "X-List": {"a", "b"}, "X-Github-Event": {"overridden"},
			RequestURLHeader: {"http://listener/hooks/el"}, "Content-Type": {"application/json"},
		} {
			if g := ls.header.Values(name); len(g) != len(want) || g[0] != want[0] || g[len(g)-1] != want[len(want)-1] {
				t.Errorf("header %s = %q, want %q", name, g, want)
			}
		}
		if got.Replace == nil || string(got.Replace.Body) != `{"replaced": true, "sha": "abc"}` || got.Replace.Header.Get("X-Reply") != "from-interceptor" {
			t.Fatalf("Replace = %+v", got.Replace)
		}
		if got.Extensions["sha"] != "abc" {
			t.Errorf("extensions %v: the cel overlay did not read the replaced body", got.Extensions)
		}
		if req.Header.Get("X-Github-Event") != "rewritten" {
			t.Errorf("the request's headers were not replaced by the reply's: %v", req.Header)
		}
	})

	t.Run("extensions merged into the body under extensions", func(t *testing.T) {
		ls := newLegacyServer(t, 200, `{}`)
		got := NewLegacyWebhook(ls.URL, nil, Options{}).Process(context.Background(), newReq(map[string]any{"k": "v"}))
		expect(t, got, OK, "")
		var sent map[string]any
		if err := json.Unmarshal(ls.body, &sent); err != nil {
			t.Fatal(err)
		}
		if ext, _ := sent["extensions"].(map[string]any); ext["k"] != "v" || sent["ref"] != "refs/heads/main" {
			t.Errorf("sent %s", ls.body)
		}
	})

	cases := []struct {
		name   string
		status int
		reply  string
		code   Code
		msg    string
	}{
		{"4xx declines: skipped", 403, "not this one", Skip, "HTTP 403: not this one"},
		{"5xx fails", 502, "", Internal, "HTTP 502"},
		{"reply not JSON", 200, "<html>", InvalidArgument, "not JSON"},
		{"empty reply: empty body", 200, "", OK, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls := newLegacyServer(t, c.status, c.reply)
			expect(t, NewLegacyWebhook(ls.URL, nil, Options{}).Process(context.Background(), newReq(nil)), c.code, c.msg)
		})
	}

	for _, bad := range []struct{ name, value string }{{"", `"x"`}, {"X-A", `1`}, {"X A", `"x"`}} {
		if _, err := ParseLegacyHeader(bad.name, json.RawMessage(bad.value)); err == nil {
			t.Errorf("header %q = %s accepted", bad.name, bad.value)
		}
	}
}

// FuzzLegacyBodyWithExtensions: whatever a sender posts, the body sent to a legacy webhook interceptor is
// the delivery's bytes untouched (no extensions) or a JSON object holding the extensions, or an error;
// never a panic.
func FuzzLegacyBodyWithExtensions(f *testing.F) {
	f.Add([]byte(`{"a":1,"extensions":{"old":true}}`), true)
	f.Add([]byte(`[1,2]`), true)
	f.Add([]byte(``), true)
	f.Add([]byte(`{"a":`), false)
	f.Fuzz(func(t *testing.T, body []byte, withExt bool) {
		req := &Request{Body: body}
		if withExt {
			req.Extensions = map[string]any{"k": "v"}
		}
		out, err := bodyWithExtensions(req)
		if err != nil {
			return
		}
		if !withExt {
			if string(out) != string(body) {
				t.Fatalf("body changed without extensions: %q -> %q", body, out)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if ext, _ := m["extensions"].(map[string]any); ext["k"] != "v" {
			t.Fatalf("extension missing: %s", out)
		}
	})
}
