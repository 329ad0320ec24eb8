package runctl

import (
	"regexp"
	"strings"
)

// Facts about an event that run control needs, read from the provider's payload. provider is github,
// gitlab or bitbucket (anything else: nothing is known); event is the provider's event header.

var skipMarker = regexp.MustCompile(`(?i)\[(skip ci|ci skip|no ci|skip actions|actions skip)\]`)

// SkipCI returns the skip marker in the head commit message of a push, if any.
func SkipCI(provider, event string, body any) (string, bool) {
	if !isPush(provider, event) {
		return "", false
	}
	if m := skipMarker.FindString(headMessage(provider, body)); m != "" {
		return m, true
	}
	return "", false
}

func isPush(provider, event string) bool {
	switch provider {
	case "github":
		return event == "push"
	case "gitlab":
		return event == "Push Hook"
	case "bitbucket":
		return event == "repo:push" || event == "repo:refs_changed"
	}
	return false
}

func headMessage(provider string, body any) string {
	switch provider {
	case "github":
		if m, ok := dig(body, "head_commit", "message").(string); ok {
			return m
		}
	case "gitlab":
		commits, _ := dig(body, "commits").([]any)
		head, _ := dig(body, "checkout_sha").(string)
		for _, c := range commits {
			if id, _ := dig(c, "id").(string); id != "" && id == head {
				m, _ := dig(c, "message").(string)
				return m
			}
		}
		if len(commits) > 0 {
			m, _ := dig(commits[len(commits)-1], "message").(string)
			return m
		}
	case "bitbucket":
		changes, _ := dig(body, "push", "changes").([]any)
		for _, ch := range changes {
			if m, ok := dig(ch, "new", "target", "message").(string); ok {
				return m
			}
		}
	}
	return ""
}

// ChangedFiles returns the files a push's commits added, modified or removed (GitHub, GitLab), and
// whether the payload listed them at all.
func ChangedFiles(provider, event string, body any) ([]string, bool) {
	if !isPush(provider, event) || provider == "bitbucket" {
		return nil, false
	}
	commits, ok := dig(body, "commits").([]any)
	if !ok {
		return nil, false
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range commits {
		for _, kind := range []string{"added", "modified", "removed"} {
			list, _ := dig(c, kind).([]any)
			for _, f := range list {
				if s, ok := f.(string); ok && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out, true
}

// Closed reports whether the event closes or merges a pull/merge request.
func Closed(provider, event string, body any) bool {
	switch provider {
	case "github":
		a, _ := dig(body, "action").(string)
		return event == "pull_request" && a == "closed"
	case "gitlab":
		a, _ := dig(body, "object_attributes", "action").(string)
		return event == "Merge Request Hook" && (a == "close" || a == "merge")
	case "bitbucket":
		switch event {
		case "pullrequest:fulfilled", "pullrequest:rejected", "pr:merged", "pr:declined", "pr:deleted":
			return true
		}
	}
	return false
}

// DefaultBranchPush reports whether the event is a push to the repository's default branch (as far as
// the payload tells).
func DefaultBranchPush(provider, event string, body any) bool {
	if !isPush(provider, event) {
		return false
	}
	var ref, def string
	switch provider {
	case "github":
		ref, _ = dig(body, "ref").(string)
		def, _ = dig(body, "repository", "default_branch").(string)
	case "gitlab":
		ref, _ = dig(body, "ref").(string)
		def, _ = dig(body, "project", "default_branch").(string)
	case "bitbucket":
		def, _ = dig(body, "repository", "mainbranch", "name").(string)
		if changes, _ := dig(body, "push", "changes").([]any); len(changes) > 0 {
			ref, _ = dig(changes[0], "new", "name").(string)
		}
	}
	return def != "" && strings.TrimPrefix(ref, "refs/heads/") == def
}

// dig walks decoded JSON objects.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
