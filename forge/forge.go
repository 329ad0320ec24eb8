// Package forge reports build statuses to the forges webhooks come from: a commit status on GitHub
// (forge/github, through go-github) and on GitLab (forge/gitlab, the commit-status API over net/http).
//
// A run opts in with annotations on the resource a TriggerTemplate creates (see the Annotation…
// constants): ParseTarget reads them, CheckAnnotations is what `hookrun validate` reports about them. The
// executor's status reporter (executor/forgestatus.go) decides what to report and when; this package only
// says how a status looks and how each provider is called. Errors a provider answers are *Error values that
// say whether retrying can help and how long the provider asked to wait; they never carry the token.
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Annotations a run (or the resource template that makes it) carries to have its status reported.
const (
	// AnnotationStatus names the provider: "github" or "gitlab". Empty or absent: nothing is reported.
	AnnotationStatus = "hookrun.dev/status"
	// AnnotationSecret names a Secret in the run's namespace holding the API token.
	AnnotationSecret = "hookrun.dev/status-secret"
	// AnnotationSecretKey is the Secret's key holding the token (default DefaultSecretKey).
	AnnotationSecretKey = "hookrun.dev/status-secret-key"
	// AnnotationRepo is "owner/repo" on GitHub, the project's numeric id or "group/project" path on GitLab.
	AnnotationRepo = "hookrun.dev/status-repo"
	// AnnotationSHA is the commit the status is set on (the full 40-hex SHA).
	AnnotationSHA = "hookrun.dev/status-sha"
	// AnnotationRef is the branch or tag (GitLab's "ref"; optional, unused on GitHub).
	AnnotationRef = "hookrun.dev/status-ref"
	// AnnotationContext is the status's name (GitHub "context", GitLab "name"); default "hookrun/PIPELINE".
	AnnotationContext = "hookrun.dev/status-context"
	// AnnotationURL is the status's link (target_url); default the dashboard's page of the run when the
	// executor knows the dashboard's URL (--dashboard-url), else none.
	AnnotationURL = "hookrun.dev/status-url"
	// AnnotationAPI is the API base URL: GitHub Enterprise (https://HOST/api/v3/) or self-managed GitLab
	// (https://HOST). Default https://api.github.com/ and https://gitlab.com.
	AnnotationAPI = "hookrun.dev/status-api"
)

// Annotations the executor writes on a run to remember what it reported (never written by users).
const (
	// AnnotationReported lists the states delivered, in order, e.g. "running,success".
	AnnotationReported = "hookrun.dev/status-reported"
	// AnnotationReporting is the state being delivered: set before the provider is called, removed once the
	// outcome is recorded. Found on a run the executor did not just write it for, it means an earlier
	// attempt may or may not have reached the provider: the provider is asked before posting again.
	AnnotationReporting = "hookrun.dev/status-reporting"
	// AnnotationFailed lists the states given up on (the provider refused: bad token, unknown repo, …).
	AnnotationFailed = "hookrun.dev/status-failed"
	// AnnotationError is the last reason a status could not be reported, for people (and `kubectl describe`).
	AnnotationError = "hookrun.dev/status-error"
)

// Providers.
const (
	GitHub = "github"
	GitLab = "gitlab"
)

// DefaultSecretKey is the Secret key holding the token when AnnotationSecretKey is not set.
const DefaultSecretKey = "token"

// MaxDescription is the longest description sent (GitHub's limit; GitLab allows 255).
const MaxDescription = 140

// State is a run's state as hookrun reports it; each provider maps it to its own word (ProviderState).
type State string

// States.
const (
	StatePending   State = "pending" // created, waiting (queued, or spec.status PipelineRunPending)
	StateRunning   State = "running"
	StateSuccess   State = "success"
	StateFailure   State = "failure" // a task failed, or the run timed out
	StateError     State = "error"   // the run could not start: invalid, Pipeline not found, …
	StateCancelled State = "cancelled"
	// StateSkipped: the trigger did not run for this commit (path filters, [skip ci]); reported by the
	// listener so a required check does not wait for a run that will never come.
	StateSkipped State = "skipped"
)

// Final reports whether s ends a run.
func (s State) Final() bool {
	switch s {
	case StateSuccess, StateFailure, StateError, StateCancelled, StateSkipped:
		return true
	}
	return false
}

// ProviderState is the word provider uses for s ("" for an unknown provider). GitHub's commit statuses
// have no running, cancelled or skipped state (neutral and skipped exist only for check runs): running is
// "pending", cancelled is "error" and skipped is "success" (its description says skipped), so a required
// check passes. GitLab's is "failed" for failure and error, "canceled" for cancelled, "skipped" for skipped
// (accepted by its commit-status API since GitLab 17.5).
func ProviderState(provider string, s State) string {
	switch provider {
	case GitHub:
		switch s {
		case StatePending, StateRunning:
			return "pending"
		case StateCancelled:
			return "error"
		case StateSkipped:
			return "success"
		}
		return string(s)
	case GitLab:
		switch s {
		case StateFailure, StateError:
			return "failed"
		case StateCancelled:
			return "canceled"
		}
		return string(s)
	}
	return ""
}

// Target is where a run's status goes, read from its annotations.
type Target struct {
	Provider  string
	Secret    string
	SecretKey string
	Repo      string
	SHA       string
	Ref       string
	Context   string
	URL       string
	API       string
}

// DefaultContext is the status name of a run of pipeline when t names none: "hookrun/PIPELINE" (the
// executor's reporter and the listener's skipped statuses use the same, so both land on one check).
func DefaultContext(t Target, pipeline string) string {
	switch {
	case t.Context != "":
		return t.Context
	case pipeline == "":
		return "hookrun"
	}
	return "hookrun/" + pipeline
}

// Enabled reports whether annotations opt in (AnnotationStatus is set and not empty).
func Enabled(annotations map[string]string) bool {
	return strings.TrimSpace(annotations[AnnotationStatus]) != ""
}

// ParseTarget reads a run's annotations. It returns an error naming the annotation when one is missing or
// wrong; call it only when Enabled.
func ParseTarget(annotations map[string]string) (Target, error) {
	get := func(k string) string { return strings.TrimSpace(annotations[k]) }
	t := Target{
		Provider: strings.ToLower(get(AnnotationStatus)), Secret: get(AnnotationSecret),
		SecretKey: get(AnnotationSecretKey), Repo: get(AnnotationRepo), SHA: get(AnnotationSHA),
		Ref: get(AnnotationRef), Context: get(AnnotationContext), URL: get(AnnotationURL), API: get(AnnotationAPI),
	}
	if t.SecretKey == "" {
		t.SecretKey = DefaultSecretKey
	}
	for _, p := range check(annotations, false) {
		return t, fmt.Errorf("%s: %s", p.Key, p.Reason)
	}
	return t, nil
}

// Problem is something wrong with one annotation.
type Problem struct {
	Key    string
	Reason string
}

// CheckAnnotations returns what is wrong with the status annotations, for `hookrun validate`. Values that
// hold a $(…) substitution (a TriggerTemplate param) are only known once rendered and are not checked,
// except that they count as present.
func CheckAnnotations(annotations map[string]string) []Problem {
	return check(annotations, true)
}

func isSubstitution(v string) bool { return strings.Contains(v, "$(") }

func check(annotations map[string]string, literalOnly bool) []Problem {
	var out []Problem
	add := func(k, format string, args ...any) {
		out = append(out, Problem{Key: k, Reason: fmt.Sprintf(format, args...)})
	}
	// Misspelt keys: an unknown hookrun.dev/status-… annotation would be ignored silently.
	known := map[string]bool{AnnotationStatus: true, AnnotationSecret: true, AnnotationSecretKey: true,
		AnnotationRepo: true, AnnotationSHA: true, AnnotationRef: true, AnnotationContext: true, AnnotationURL: true,
		AnnotationAPI: true, AnnotationReported: true, AnnotationReporting: true, AnnotationFailed: true, AnnotationError: true}
	if literalOnly {
		for k := range annotations {
			if strings.HasPrefix(k, AnnotationStatus+"-") && !known[k] {
				add(k, "unknown annotation: the status annotations are %s", strings.Join(userKeys(), ", "))
			}
		}
	}
	status, ok := annotations[AnnotationStatus]
	status = strings.TrimSpace(status)
	if !ok || status == "" {
		return sortProblems(out)
	}
	literal := func(k string) (string, bool) {
		v := strings.TrimSpace(annotations[k])
		return v, !isSubstitution(v)
	}
	if p, lit := literal(AnnotationStatus); lit {
		if p = strings.ToLower(p); p != GitHub && p != GitLab {
			add(AnnotationStatus, "unknown provider %q: use %q or %q (empty: no status)", annotations[AnnotationStatus], GitHub, GitLab)
		}
	}
	provider := strings.ToLower(status)
	for _, k := range []string{AnnotationSecret, AnnotationRepo, AnnotationSHA} {
		if strings.TrimSpace(annotations[k]) == "" {
			add(k, "required when %s is set", AnnotationStatus)
		}
	}
	if v, lit := literal(AnnotationRepo); lit && v != "" && provider == GitHub {
		if owner, repo, ok := strings.Cut(v, "/"); !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			add(AnnotationRepo, "%q: GitHub wants OWNER/REPO", v)
		}
	}
	if v, lit := literal(AnnotationSHA); lit && v != "" && !isHex(v) {
		add(AnnotationSHA, "%q is not a commit SHA (hexadecimal)", v)
	}
	for _, k := range []string{AnnotationAPI, AnnotationURL} {
		if v, lit := literal(k); lit && v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(k, "%q is not an http(s) URL", v)
			}
		}
	}
	if v, lit := literal(AnnotationSecret); lit && v != "" && !validName(v) {
		add(AnnotationSecret, "%q is not a Secret name", v)
	}
	return sortProblems(out)
}

func userKeys() []string {
	return []string{AnnotationStatus, AnnotationSecret, AnnotationSecretKey, AnnotationRepo, AnnotationSHA,
		AnnotationRef, AnnotationContext, AnnotationURL, AnnotationAPI}
}

func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	return ps
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// validName is a DNS subdomain name (what a Secret's name must be).
func validName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && !((c == '-' || c == '.') && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return s != ""
}

// Status is one status to set on a commit.
type Status struct {
	Repo        string
	SHA         string
	Ref         string
	Context     string
	State       State
	Description string
	TargetURL   string
}

// Client posts statuses to one provider.
type Client interface {
	// Post sets st on its commit. A provider that answers that the commit is already in that state
	// (GitLab's "Cannot transition status") counts as done.
	Post(ctx context.Context, st Status) error
	// Find reports whether the commit already has st (same context, state and description): how a
	// restarted executor learns whether an attempt it cannot remember the outcome of got through.
	Find(ctx context.Context, st Status) (bool, error)
}

// Error is a provider's refusal or a failure to reach it. It never holds the token.
type Error struct {
	Provider string
	// StatusCode is the HTTP status (0: no answer).
	StatusCode int
	// Message is what the provider said, or the transport error.
	Message string
	// Permanent: retrying cannot help (401, 403 without rate limiting, 404, 400, 422): the run records it.
	Permanent bool
	// RetryAfter is how long the provider asked to wait (Retry-After, X-RateLimit-Reset), 0 if it did not.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	name := providerName(e.Provider)
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s unreachable: %s", name, e.Message)
	}
	msg := fmt.Sprintf("%s answered %d %s", name, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func providerName(p string) string {
	switch p {
	case GitHub:
		return "GitHub"
	case GitLab:
		return "GitLab"
	case "bitbucket":
		return "Bitbucket"
	}
	return p
}

// IsPermanent reports whether err is an *Error retrying cannot help.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter is how long err's provider asked to wait (0 if it did not or err is no *Error).
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Classify builds the *Error for a provider's non-2xx answer: 5xx and 429 are retried (after Retry-After
// when given), 403 with an exhausted rate limit (X-RateLimit-Remaining: 0) waits until X-RateLimit-Reset
// (GitLab: RateLimit-Reset), every other 4xx is permanent.
func Classify(provider string, resp *http.Response, message string, now time.Time) *Error {
	e := &Error{Provider: provider, StatusCode: resp.StatusCode, Message: oneLine(message)}
	h := resp.Header
	wait := retryAfter(h.Get("Retry-After"), now)
	limited := false
	for _, p := range []string{"X-RateLimit-", "RateLimit-"} {
		if h.Get(p+"Remaining") == "0" {
			limited = true
			if reset, err := strconv.ParseInt(h.Get(p+"Reset"), 10, 64); err == nil && wait == 0 {
				if d := time.Unix(reset, 0).Sub(now); d > 0 {
					wait = d
				}
			}
		}
	}
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests, c >= 500:
	case c == http.StatusForbidden && (limited || wait > 0):
	default:
		e.Permanent = true
	}
	if !e.Permanent {
		e.RetryAfter = wait
	}
	return e
}

// Unreachable wraps a transport error (connection refused, timeout): retried.
func Unreachable(provider string, err error) *Error {
	return &Error{Provider: provider, Message: oneLine(err.Error()), Err: err}
}

func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

// Truncate cuts s to at most n bytes at a rune boundary, ending with "…" when cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
