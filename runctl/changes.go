package runctl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
)

// Where a trigger reads a pull/merge request's changed files when the payload lists none (the path
// filters need them). Default: the credentials of the run's own status reporting (hookrun.dev/status-secret,
// -secret-key and -api on what the trigger's template renders, when hookrun.dev/status names the event's
// provider); these trigger annotations set them explicitly (and are the only way for Bitbucket, whose
// statuses hookrun does not report).
const (
	// AnnotationForgeSecret names a Secret in the trigger's namespace holding the forge API token.
	AnnotationForgeSecret = "hookrun.dev/forge-secret"
	// AnnotationForgeSecretKey is that Secret's key (default "token").
	AnnotationForgeSecretKey = "hookrun.dev/forge-secret-key"
	// AnnotationForgeAPI is the forge's API base URL (GitHub Enterprise https://HOST/api/v3/, self-managed
	// GitLab https://HOST, Bitbucket https://api.bitbucket.org/2.0/).
	AnnotationForgeAPI = "hookrun.dev/forge-api"
)

// PullRequest is the pull/merge request an event is about, as its payload says.
type PullRequest struct {
	Provider string
	// Repo is OWNER/REPO (GitHub), the project's numeric id (GitLab), WORKSPACE/REPO (Bitbucket Cloud).
	Repo    string
	Number  int
	HeadSHA string
}

// PullRequestOf reads the pull/merge request of a GitHub pull_request, GitLab Merge Request Hook or
// Bitbucket Cloud pullrequest:* event. ok is false for other events and for payloads missing a field.
func PullRequestOf(provider, event string, body any) (pr PullRequest, ok bool) {
	pr.Provider = provider
	switch {
	case provider == "github" && (event == "pull_request" || event == "pull_request_target"):
		pr.Repo, _ = dig(body, "repository", "full_name").(string)
		pr.Number = number(dig(body, "pull_request", "number"))
		pr.HeadSHA, _ = dig(body, "pull_request", "head", "sha").(string)
	case provider == "gitlab" && event == "Merge Request Hook":
		if id := number(dig(body, "project", "id")); id > 0 {
			pr.Repo = strconv.Itoa(id)
		} else {
			pr.Repo, _ = dig(body, "project", "path_with_namespace").(string)
		}
		pr.Number = number(dig(body, "object_attributes", "iid"))
		pr.HeadSHA, _ = dig(body, "object_attributes", "last_commit", "id").(string)
	case provider == "bitbucket" && strings.HasPrefix(event, "pullrequest:"):
		pr.Repo, _ = dig(body, "repository", "full_name").(string)
		pr.Number = number(dig(body, "pullrequest", "id"))
		pr.HeadSHA, _ = dig(body, "pullrequest", "source", "commit", "hash").(string)
	default:
		return pr, false
	}
	return pr, pr.Repo != "" && pr.Number > 0 && pr.HeadSHA != ""
}

// number reads a JSON number (float64, or json.Number-like strings) as a positive int; 0 otherwise.
func number(v any) int {
	switch n := v.(type) {
	case float64:
		if n > 0 && n == float64(int(n)) {
			return int(n)
		}
	case int:
		return n
	case int64:
		return int(n)
	case fmt.Stringer:
		i, _ := strconv.Atoi(n.String())
		return i
	}
	return 0
}

// FilesCache remembers the changed files of pull/merge requests per (forge, repo, number, head SHA): a
// head SHA names one diff, so the entry never goes stale. It holds at most max entries, dropping the
// oldest; concurrent lookups of one key share one call. Failures are not remembered.
type FilesCache struct {
	max     int
	mu      sync.Mutex
	entries map[string][]string
	order   []string // insertion order, oldest first
	flight  singleflight.Group
}

// NewFilesCache makes a cache of at most n entries (n < 1: 1).
func NewFilesCache(n int) *FilesCache {
	return &FilesCache{max: max(n, 1), entries: map[string][]string{}}
}

// FilesKey is the cache key of pr on the forge whose API is at api.
func FilesKey(api string, pr PullRequest) string {
	return strings.Join([]string{pr.Provider, api, pr.Repo, strconv.Itoa(pr.Number), pr.HeadSHA}, "\x00")
}

// Get returns key's files, calling fetch when they are not cached. cached says whether no call was made.
func (c *FilesCache) Get(ctx context.Context, key string, fetch func(context.Context) ([]string, error)) (files []string, cached bool, err error) {
	c.mu.Lock()
	files, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return files, true, nil
	}
	v, err, shared := c.flight.Do(key, func() (any, error) {
		files, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		c.put(key, files)
		return files, nil
	})
	if err != nil {
		return nil, false, err
	}
	return v.([]string), shared, nil
}

func (c *FilesCache) put(key string, files []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	for len(c.order) >= c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.entries[key] = files
	c.order = append(c.order, key)
}

// Len is the number of cached entries.
func (c *FilesCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
