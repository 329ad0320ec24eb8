package runctl

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPullRequestOf(t *testing.T) {
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, provider, event, body string
		want                        PullRequest
		ok                          bool
	}{
		{"github", "github", "pull_request", `{"repository":{"full_name":"o/r"},"pull_request":{"number":7,"head":{"sha":"abc"}}}`,
			PullRequest{"github", "o/r", 7, "abc"}, true},
		{"github push", "github", "push", `{"repository":{"full_name":"o/r"}}`, PullRequest{Provider: "github"}, false},
		{"github no head", "github", "pull_request", `{"repository":{"full_name":"o/r"},"pull_request":{"number":7}}`,
			PullRequest{"github", "o/r", 7, ""}, false},
		{"gitlab id", "gitlab", "Merge Request Hook", `{"project":{"id":12,"path_with_namespace":"g/p"},"object_attributes":{"iid":3,"last_commit":{"id":"def"}}}`,
			PullRequest{"gitlab", "12", 3, "def"}, true},
		{"gitlab path", "gitlab", "Merge Request Hook", `{"project":{"path_with_namespace":"g/p"},"object_attributes":{"iid":3,"last_commit":{"id":"def"}}}`,
			PullRequest{"gitlab", "g/p", 3, "def"}, true},
		{"bitbucket", "bitbucket", "pullrequest:updated", `{"repository":{"full_name":"w/r"},"pullrequest":{"id":1,"source":{"commit":{"hash":"d3022fc0ca3d"}}}}`,
			PullRequest{"bitbucket", "w/r", 1, "d3022fc0ca3d"}, true},
		{"bitbucket server", "bitbucket", "pr:opened", `{}`, PullRequest{Provider: "bitbucket"}, false},
		{"fractional number", "github", "pull_request", `{"repository":{"full_name":"o/r"},"pull_request":{"number":1.5,"head":{"sha":"a"}}}`,
			PullRequest{"github", "o/r", 0, "a"}, false},
		{"not an object", "github", "pull_request", `[1,2]`, PullRequest{Provider: "github"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PullRequestOf(tc.provider, tc.event, decode(tc.body))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFilesCache(t *testing.T) {
	c := NewFilesCache(2)
	var calls atomic.Int32
	fetch := func(files ...string) func(context.Context) ([]string, error) {
		return func(context.Context) ([]string, error) {
			calls.Add(1)
			return files, nil
		}
	}
	ctx := context.Background()
	for i, tc := range []struct {
		key    string
		cached bool
	}{{"a", false}, {"a", true}, {"b", false}, {"c", false}, {"b", true}, {"a", false}} {
		files, cached, err := c.Get(ctx, tc.key, fetch(tc.key))
		if err != nil || cached != tc.cached || len(files) != 1 || files[0] != tc.key {
			t.Fatalf("step %d %s: %v cached=%v %v, want cached=%v", i, tc.key, files, cached, err, tc.cached)
		}
	}
	if c.Len() != 2 || calls.Load() != 4 {
		t.Fatalf("%d entries, %d calls: want 2 entries (bound), 4 calls", c.Len(), calls.Load())
	}
	boom := errors.New("forge down")
	if _, _, err := c.Get(ctx, "d", func(context.Context) ([]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if _, cached, _ := c.Get(ctx, "d", fetch("d")); cached {
		t.Fatal("a failure was cached")
	}
}

// TestFilesCacheConcurrent: concurrent lookups of one head share one call.
func TestFilesCacheConcurrent(t *testing.T) {
	c := NewFilesCache(10)
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			files, _, err := c.Get(context.Background(), "k", func(context.Context) ([]string, error) {
				calls.Add(1)
				<-release
				return []string{"f"}, nil
			})
			if err != nil || len(files) != 1 {
				t.Errorf("goroutine %d: %v %v", i, files, err)
			}
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d calls, want 1", calls.Load())
	}
}

func FuzzPullRequestOf(f *testing.F) {
	f.Add("github", "pull_request", []byte(`{"repository":{"full_name":"o/r"},"pull_request":{"number":7,"head":{"sha":"abc"}}}`))
	f.Add("gitlab", "Merge Request Hook", []byte(`{"project":{"id":1e300},"object_attributes":{"iid":-3}}`))
	f.Add("bitbucket", "pullrequest:created", []byte(`{"pullrequest":{"id":"x"}}`))
	f.Fuzz(func(t *testing.T, provider, event string, body []byte) {
		var v any
		if json.Unmarshal(body, &v) != nil {
			return
		}
		if pr, ok := PullRequestOf(provider, event, v); ok && (pr.Number <= 0 || pr.Repo == "" || pr.HeadSHA == "") {
			t.Fatalf("ok with %+v", pr)
		}
	})
}
