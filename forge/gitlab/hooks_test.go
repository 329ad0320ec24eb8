package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	glforge "github.com/hookrun/hookrun/forge/gitlab"
)

func TestParseHook(t *testing.T) {
	cases := []struct {
		in   string
		want glforge.Hook
		err  string
	}{
		{"42/7", glforge.Hook{Project: "42", ID: 7}, ""},
		{" group/project/7 ", glforge.Hook{Project: "group/project", ID: 7}, ""},
		{"group%2Fsub%2Fproject/9", glforge.Hook{Project: "group/sub/project", ID: 9}, ""},
		{"group/sub/project/9", glforge.Hook{Project: "group/sub/project", ID: 9}, ""},
		{"42", glforge.Hook{}, "no project"},
		{"/7", glforge.Hook{}, "empty"},
		{"42/x", glforge.Hook{}, "not a positive number"},
		{"42/0", glforge.Hook{}, "not a positive number"},
		{"42/-3", glforge.Hook{}, "not a positive number"},
		{"group//project/1", glforge.Hook{}, "segment"},
		{"group/../x/1", glforge.Hook{}, "segment"},
		{"group%2/1", glforge.Hook{}, "URL-encoded"},
		{"my group/p/1", glforge.Hook{}, "space"},
		{"g/p?x=1/1", glforge.Hook{}, "?"},
		{"x%252F/1", glforge.Hook{}, "%"},
		{"", glforge.Hook{}, "no project"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := glforge.ParseHook(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseHook(%q) = %+v, %v; want error %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseHook(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			if again, _ := glforge.ParseHook(got.String()); again != got {
				t.Errorf("String() %q does not parse back", got.String())
			}
		})
	}
}

// FuzzParseHook: whatever the annotation holds, ParseHook refuses it or returns a hook that String()
// writes back to the same hook.
func FuzzParseHook(f *testing.F) {
	for _, s := range []string{"42/7", "group%2Fproject/7", "a/b/c/9", "x%252F/1", "/1", "a//b/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := glforge.ParseHook(s)
		if err != nil {
			return
		}
		if h.ID <= 0 || h.Project == "" {
			t.Fatalf("ParseHook(%q) = %+v", s, h)
		}
		if again, err := glforge.ParseHook(h.String()); err != nil || again != h {
			t.Fatalf("ParseHook(%q) = %+v; its String %q parses to %+v, %v", s, h, h.String(), again, err)
		}
	})
}

func TestParseHookEvents(t *testing.T) {
	cases := []struct {
		name, in string
		want     []glforge.HookEvent
		err      string
	}{
		{"empty", `[]`, []glforge.HookEvent{}, ""},
		{"documented shape", `[{"id":1,"url":"https://x/","trigger":"push_hooks","request_headers":{"Idempotency-Key":"k1","X-Gitlab-Event":"Push Hook","X-Gitlab-Token":"[REDACTED]"},"request_data":{"a":1},"response_status":"200","execution_duration":1.5,"created_at":"2026-12-01T10:00:00.000Z"}]`,
			[]glforge.HookEvent{{ID: 1, URL: "https://x/", Trigger: "push_hooks", Status: "200", StatusCode: 200, Event: "Push Hook", IdempotencyKey: "k1"}}, ""},
		{"no answer", `[{"id":2,"request_headers":{"idempotency-key":"k2"},"response_status":"internal error"}]`,
			[]glforge.HookEvent{{ID: 2, Status: "internal error", IdempotencyKey: "k2"}}, ""},
		{"numeric status, odd header types", `[{"id":3,"request_headers":{"Idempotency-Key":7},"response_status":503}]`,
			[]glforge.HookEvent{{ID: 3, Status: "503", StatusCode: 503}}, ""},
		{"not a list", `{"message":"x"}`, nil, "hook events"},
		{"no id", `[{"response_status":"200"}]`, nil, "positive id"},
		{"truncated", `[{"id":1,`, nil, "hook events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := glforge.ParseHookEvents([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %+v, %v; want error %q", got, err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
			for i := range got {
				got[i].CreatedAt = got[i].CreatedAt.UTC()
				w := c.want[i]
				w.CreatedAt = got[i].CreatedAt
				if got[i] != w {
					t.Errorf("event %d: %+v, want %+v", i, got[i], w)
				}
			}
			if len(got) == 1 && c.name == "documented shape" && got[0].CreatedAt.IsZero() {
				t.Error("created_at not read")
			}
		})
	}
}

// FuzzParseHookEvents: the events list is untrusted input; whatever it holds, parsing returns events
// with positive ids and status codes that are 0 or three digits, or an error — never a panic.
func FuzzParseHookEvents(f *testing.F) {
	f.Add([]byte(`[{"id":1,"request_headers":{"Idempotency-Key":"k"},"response_status":"200"}]`))
	f.Add([]byte(`[{"id":2,"response_status":"internal error","created_at":"2026-01-01T00:00:00Z"}]`))
	f.Add([]byte(`[{"id":3,"response_status":1e400}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := glforge.ParseHookEvents(data)
		if err != nil {
			return
		}
		for _, e := range events {
			if e.ID <= 0 || (e.StatusCode != 0 && (e.StatusCode < 100 || e.StatusCode > 999)) || len(e.IdempotencyKey) > 256 {
				t.Fatalf("implausible event %+v", e)
			}
			if e.Failed() != (e.StatusCode < 200 || e.StatusCode >= 400) {
				t.Fatalf("Failed() inconsistent for %+v", e)
			}
		}
	})
}

// TestHookEventsAgainstFake lists 120 events over offset pages (newest first) and resends: the answer's
// status says whether the resend got through; a changed hook URL and a bad token are permanent errors, a
// rate limit is not.
func TestHookEventsAgainstFake(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) <= 120 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	fake := forgetest.NewServer("tok")
	defer fake.Close()
	const hook = "group/project/42"
	fake.SetGitLabHook(hook, target.URL)
	for i := 0; i < 120; i++ {
		fake.DeliverGitLab(hook, http.Header{"X-Gitlab-Event": {"Push Hook"}, "Idempotency-Key": {fmt.Sprintf("key-%d", i)}}, []byte(`{"b":1,"a":2}`))
	}
	c, err := glforge.New(fake.GitLabAPI(), "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := glforge.ParseHook("group%2Fproject/42")
	ctx := context.Background()
	var all []glforge.HookEvent
	pages := 0
	for page := 1; page != 0; pages++ {
		p, err := c.ListHookEvents(ctx, h, page, 50)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Events...)
		page = p.NextPage
	}
	if len(all) != 120 || pages != 3 || all[0].IdempotencyKey != "key-119" || !all[0].Failed() || all[0].StatusCode != 503 {
		t.Fatalf("%d events in %d pages, first %+v; want 120 in 3, newest first, failed with 503", len(all), pages, all[0])
	}
	fake.SetGitLabResendLimit(1)
	if status, failed, err := c.Resend(ctx, h, all[0].ID); err != nil || failed || status != "200" {
		t.Fatalf("resend: %q %v %v; want 200", status, failed, err)
	}
	evs := fake.GitLabEvents(hook)
	if last := evs[len(evs)-1]; !last.Resend || last.IdempotencyKey != "key-119" || string(last.Body) != `{"a":2,"b":1}` {
		t.Fatalf("resent event %+v %s: want the original's Idempotency-Key and its payload encoded anew", last, last.Body)
	}

	_, _, err = c.Resend(ctx, h, all[1].ID)
	var fe *forge.Error
	if !errors.As(err, &fe) || fe.StatusCode != http.StatusTooManyRequests || forge.IsPermanent(err) || forge.RetryAfter(err) == 0 {
		t.Fatalf("rate-limited resend: %v; want a 429 to retry later", err)
	}
	fake.SetGitLabResendLimit(0)
	fake.SetGitLabHook(hook, target.URL+"/moved")
	if _, _, err := c.Resend(ctx, h, all[1].ID); !forge.IsPermanent(err) || !strings.Contains(err.Error(), "URL has changed") {
		t.Fatalf("resend after the URL changed: %v; want GitLab's refusal", err)
	}
	bad, _ := glforge.New(fake.GitLabAPI(), "not-the-token", nil)
	if _, err := bad.ListHookEvents(ctx, h, 1, 50); !forge.IsPermanent(err) || strings.Contains(err.Error(), "not-the-token") {
		t.Fatalf("bad token: %v; want a permanent error without the token", err)
	}
	unknown, _ := glforge.ParseHook("group/project/43")
	if _, err := c.ListHookEvents(ctx, unknown, 1, 50); !forge.IsPermanent(err) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown hook: %v; want 404", err)
	}
}
