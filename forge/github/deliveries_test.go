package github_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	ghforge "github.com/hookrun/hookrun/forge/github"
)

func TestParseHook(t *testing.T) {
	cases := []struct {
		in   string
		want ghforge.Hook
		err  string
	}{
		{"acme/widgets/42", ghforge.Hook{Kind: ghforge.HookRepo, Owner: "acme", Repo: "widgets", ID: 42}, ""},
		{" org/acme/7 ", ghforge.Hook{Kind: ghforge.HookOrg, Owner: "acme", ID: 7}, ""},
		{"repo/org/widgets/9", ghforge.Hook{Kind: ghforge.HookRepo, Owner: "org", Repo: "widgets", ID: 9}, ""},
		{"repo/repo/widgets/9", ghforge.Hook{Kind: ghforge.HookRepo, Owner: "repo", Repo: "widgets", ID: 9}, ""},
		{"acme/widgets", ghforge.Hook{}, "wrong number of parts"},
		{"acme/widgets/x", ghforge.Hook{}, "not a positive number"},
		{"acme/widgets/-1", ghforge.Hook{}, "not a positive number"},
		{"/widgets/1", ghforge.Hook{}, "empty owner"},
		{"", ghforge.Hook{}, "wrong number of parts"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ghforge.ParseHook(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseHook(%q) = %+v, %v; want error %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseHook(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			if again, _ := ghforge.ParseHook(got.String()); again != got {
				t.Errorf("String() %q does not parse back", got.String())
			}
		})
	}
}

// TestDeliveriesPagination lists 250 deliveries through the fake's cursor pages (newest first) and
// redelivers one: GitHub's 202 is success, an unknown delivery is a permanent error, a bad token too.
func TestDeliveriesPagination(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) <= 250 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	fake := forgetest.NewServer("tok")
	defer fake.Close()
	const hook = "acme/widgets/42"
	fake.SetHook(hook, target.URL)
	for i := 0; i < 250; i++ {
		fake.Deliver(hook, http.Header{"X-Github-Delivery": {fmt.Sprintf("guid-%d", i)}, "X-Github-Event": {"push"}}, []byte("{}"))
	}
	c, err := ghforge.New(fake.GitHubAPI(), "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ghforge.ParseHook(hook)
	ctx := context.Background()
	var all []ghforge.Delivery
	pages := 0
	for cur := ""; ; pages++ {
		p, err := c.ListDeliveries(ctx, h, cur, 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Deliveries...)
		if p.Next == "" {
			break
		}
		cur = p.Next
	}
	if len(all) != 250 || pages != 2 {
		t.Fatalf("%d deliveries in %d pages, want 250 in 3", len(all), pages+1)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first at %d", i)
		}
	}
	if d := all[0]; !d.Failed() || d.StatusCode != 503 || d.GUID != "guid-249" || d.Event != "push" || d.DeliveredAt.IsZero() {
		t.Fatalf("newest: %+v", d)
	}
	if err := c.Redeliver(ctx, h, all[0].ID); err != nil {
		t.Fatalf("redeliver: %v", err)
	}
	ds := fake.Deliveries(hook)
	if last := ds[len(ds)-1]; !last.Redelivery || last.GUID != "guid-249" || last.StatusCode != 200 || last.Status != "OK" {
		t.Fatalf("redelivery: %+v", last)
	}
	if err := c.Redeliver(ctx, h, 1); !forge.IsPermanent(err) {
		t.Fatalf("unknown delivery: %v, want a permanent error", err)
	}
	bad, _ := ghforge.New(fake.GitHubAPI(), "wrong", nil)
	if _, err := bad.ListDeliveries(ctx, h, "", 100); !forge.IsPermanent(err) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v", err)
	}
}
