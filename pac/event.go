package pac

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookrun/hookrun/pac/match"
)

// Kinds of event pac acts on.
const (
	KindPush        = "push"
	KindPullRequest = "pull_request"
	KindComment     = "comment"
	// KindClosed is a pull/merge request closed or merged: its cancel-in-progress runs are cancelled.
	KindClosed = "closed"
)

// Event is a delivery as pac sees it, from either provider.
type Event struct {
	Provider string // "github" or "gitlab"
	// Kind is KindPush, KindPullRequest or KindComment.
	Kind string
	// Action is the pull/merge request's action (opened, synchronize, reopen, update, …), or the
	// comment's.
	Action string
	// RepoURL is the (base) repository's web URL; Repo is its API name (GitHub OWNER/REPO, GitLab
	// group/project path); Owner and Name its two halves (GitLab: namespace and last segment).
	RepoURL, Repo, Owner, Name string
	DefaultBranch              string
	// SHA is the head commit; SourceBranch and TargetBranch the branches (a push: both the pushed branch,
	// or refs/tags/… for a tag).
	SHA, SourceBranch, TargetBranch string
	// Number is the pull request's number (GitLab: the merge request's iid), 0 on a push.
	Number int
	Title  string
	// Sender is who caused the event (GitHub login, GitLab username); SenderID is GitLab's user id
	// (what its membership API takes), the login on GitHub.
	Sender, SenderID string
	// Author is the pull request's author (login; GitLab user id), for /ok-to-test.
	Author string
	// Fork: the pull/merge request's head is in another repository.
	Fork bool
	// SourceURL is the head repository's web URL.
	SourceURL string
	// Comment is the comment's text (KindComment).
	Comment string
	// Files are the changed files, when the payload lists them (pushes); pull requests' are read from the
	// forge.
	Files      match.Files
	FilesKnown bool
	// Deleted: a push that deletes its branch.
	Deleted bool
	Body    any
	Header  http.Header
}

// ErrIgnored marks a delivery pac has nothing to do with (another event type, a closed PR, …).
type ErrIgnored struct{ Reason string }

func (e *ErrIgnored) Error() string { return e.Reason }

func ignored(format string, args ...any) error {
	return &ErrIgnored{Reason: fmt.Sprintf(format, args...)}
}

// ParseEvent reads a verified delivery of provider ("github" or "gitlab") with its headers and raw body.
func ParseEvent(provider string, header http.Header, body []byte) (*Event, error) {
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	var ev *Event
	var err error
	switch provider {
	case "github":
		ev, err = parseGitHub(header.Get("X-GitHub-Event"), body)
	case "gitlab":
		ev, err = parseGitLab(header.Get("X-Gitlab-Event"), body)
	default:
		return nil, ignored("provider %q is not handled by Pipelines-as-Code repositories (github, gitlab)", provider)
	}
	if err != nil {
		return nil, err
	}
	ev.Provider, ev.Body, ev.Header = provider, decoded, header
	return ev, nil
}

type ghRepo struct {
	FullName      string `json:"full_name"`
	Name          string `json:"name"`
	HTMLURL       string `json:"html_url"`
	DefaultBranch string `json:"default_branch"`
	Owner         struct {
		Login string `json:"login"`
	} `json:"owner"`
}

type ghUser struct {
	Login string `json:"login"`
}

type ghCommit struct {
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

type ghPayload struct {
	Action     string     `json:"action"`
	Ref        string     `json:"ref"`
	After      string     `json:"after"`
	Deleted    bool       `json:"deleted"`
	Commits    []ghCommit `json:"commits"`
	HeadCommit *struct {
		Message string `json:"message"`
	} `json:"head_commit"`
	Repository  ghRepo `json:"repository"`
	Sender      ghUser `json:"sender"`
	PullRequest *struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		User   ghUser `json:"user"`
		Head   struct {
			SHA  string `json:"sha"`
			Ref  string `json:"ref"`
			Repo ghRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref  string `json:"ref"`
			Repo ghRepo `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Issue *struct {
		Number      int             `json:"number"`
		Title       string          `json:"title"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		Body string `json:"body"`
		User ghUser `json:"user"`
	} `json:"comment"`
}

func parseGitHub(event string, body []byte) (*Event, error) {
	var p ghPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("github %s payload: %w", event, err)
	}
	ev := &Event{RepoURL: p.Repository.HTMLURL, Repo: p.Repository.FullName, Owner: p.Repository.Owner.Login,
		Name: p.Repository.Name, DefaultBranch: p.Repository.DefaultBranch, Sender: p.Sender.Login, SenderID: p.Sender.Login}
	switch event {
	case "push":
		ev.Kind, ev.SHA, ev.Deleted = KindPush, p.After, p.Deleted || strings.Trim(p.After, "0") == ""
		ev.SourceBranch = branchOf(p.Ref)
		ev.TargetBranch = ev.SourceBranch
		if p.HeadCommit != nil {
			ev.Title = firstLine(p.HeadCommit.Message)
		}
		for _, c := range p.Commits {
			ev.Files.Added = append(ev.Files.Added, c.Added...)
			ev.Files.Deleted = append(ev.Files.Deleted, c.Removed...)
			ev.Files.Modified = append(ev.Files.Modified, c.Modified...)
		}
		ev.Files.All = dedupe(ev.Files.Added, ev.Files.Deleted, ev.Files.Modified)
		ev.FilesKnown = len(p.Commits) > 0
		ev.SourceURL = ev.RepoURL
	case "pull_request":
		pr := p.PullRequest
		if pr == nil {
			return nil, fmt.Errorf("github pull_request payload without pull_request")
		}
		switch p.Action {
		case "opened", "synchronize", "reopened", "closed":
		default:
			return nil, ignored("pull_request action %q runs nothing (opened, synchronize, reopened do; closed cancels)", p.Action)
		}
		ev.Kind, ev.Action, ev.Number, ev.Title, ev.Author = KindPullRequest, p.Action, pr.Number, pr.Title, pr.User.Login
		if p.Action == "closed" {
			ev.Kind = KindClosed
		}
		ev.SHA, ev.SourceBranch, ev.TargetBranch = pr.Head.SHA, pr.Head.Ref, pr.Base.Ref
		ev.SourceURL = pr.Head.Repo.HTMLURL
		// A head repository GitHub no longer names (a deleted fork) counts as a fork: untrusted.
		ev.Fork = !strings.EqualFold(pr.Head.Repo.FullName, pr.Base.Repo.FullName)
	case "issue_comment":
		if p.Issue == nil || len(p.Issue.PullRequest) == 0 || string(p.Issue.PullRequest) == "null" || p.Comment == nil {
			return nil, ignored("a comment on an issue, not on a pull request")
		}
		if p.Action != "created" {
			return nil, ignored("issue_comment action %q (only new comments are commands)", p.Action)
		}
		ev.Kind, ev.Action, ev.Number, ev.Title = KindComment, p.Action, p.Issue.Number, p.Issue.Title
		ev.Comment, ev.Sender, ev.SenderID = p.Comment.Body, p.Comment.User.Login, p.Comment.User.Login
	default:
		return nil, ignored("GitHub event %q runs nothing (push, pull_request, issue_comment do)", event)
	}
	return ev, nil
}

type glProject struct {
	ID                int    `json:"id"`
	Name              string `json:"name"`
	WebURL            string `json:"web_url"`
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
}

type glMR struct {
	IID             int    `json:"iid"`
	Title           string `json:"title"`
	Action          string `json:"action"`
	SourceBranch    string `json:"source_branch"`
	TargetBranch    string `json:"target_branch"`
	SourceProjectID int    `json:"source_project_id"`
	TargetProjectID int    `json:"target_project_id"`
	AuthorID        int    `json:"author_id"`
	OldRev          string `json:"oldrev"`
	LastCommit      struct {
		ID string `json:"id"`
	} `json:"last_commit"`
	Source struct {
		WebURL string `json:"web_url"`
	} `json:"source"`
}

type glPayload struct {
	ObjectKind   string     `json:"object_kind"`
	Ref          string     `json:"ref"`
	After        string     `json:"after"`
	CheckoutSHA  string     `json:"checkout_sha"`
	UserUsername string     `json:"user_username"`
	UserID       int        `json:"user_id"`
	Commits      []ghCommit `json:"commits"`
	Project      glProject  `json:"project"`
	User         struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	ObjectAttributes json.RawMessage `json:"object_attributes"`
	MergeRequest     *glMR           `json:"merge_request"`
}

func parseGitLab(event string, body []byte) (*Event, error) {
	var p glPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("gitlab %s payload: %w", event, err)
	}
	ev := &Event{RepoURL: p.Project.WebURL, Repo: p.Project.PathWithNamespace, Name: p.Project.Name,
		DefaultBranch: p.Project.DefaultBranch}
	if i := strings.LastIndex(ev.Repo, "/"); i > 0 {
		ev.Owner, ev.Name = ev.Repo[:i], ev.Repo[i+1:]
	}
	ev.Sender, ev.SenderID = p.User.Username, itoa(p.User.ID)
	switch event {
	case "Push Hook", "Tag Push Hook":
		ev.Kind, ev.SHA, ev.Sender, ev.SenderID = KindPush, p.CheckoutSHA, p.UserUsername, itoa(p.UserID)
		if ev.SHA == "" {
			ev.SHA = p.After
		}
		ev.Deleted = strings.Trim(p.After, "0") == ""
		ev.SourceBranch = branchOf(p.Ref)
		ev.TargetBranch = ev.SourceBranch
		for _, c := range p.Commits {
			ev.Files.Added = append(ev.Files.Added, c.Added...)
			ev.Files.Deleted = append(ev.Files.Deleted, c.Removed...)
			ev.Files.Modified = append(ev.Files.Modified, c.Modified...)
		}
		ev.Files.All = dedupe(ev.Files.Added, ev.Files.Deleted, ev.Files.Modified)
		ev.FilesKnown = len(p.Commits) > 0
		ev.SourceURL = ev.RepoURL
	case "Merge Request Hook":
		var mr glMR
		if err := json.Unmarshal(p.ObjectAttributes, &mr); err != nil {
			return nil, fmt.Errorf("gitlab merge request payload: %w", err)
		}
		switch mr.Action {
		case "open", "reopen", "", "close", "merge":
		case "update":
			if mr.OldRev == "" {
				return nil, ignored("merge request update without new commits (title, labels, …) runs nothing")
			}
		default:
			return nil, ignored("merge request action %q runs nothing (open, reopen, update with new commits do; close and merge cancel)", mr.Action)
		}
		fillMR(ev, &mr)
		ev.Kind, ev.Action = KindPullRequest, mr.Action
		if mr.Action == "close" || mr.Action == "merge" {
			ev.Kind = KindClosed
		}
	case "Note Hook":
		var note struct {
			Note         string `json:"note"`
			NoteableType string `json:"noteable_type"`
		}
		if err := json.Unmarshal(p.ObjectAttributes, &note); err != nil {
			return nil, fmt.Errorf("gitlab note payload: %w", err)
		}
		if note.NoteableType != "MergeRequest" || p.MergeRequest == nil {
			return nil, ignored("a note on a %s, not on a merge request", note.NoteableType)
		}
		fillMR(ev, p.MergeRequest)
		ev.Kind, ev.Comment = KindComment, note.Note
	default:
		return nil, ignored("GitLab event %q runs nothing (Push Hook, Merge Request Hook, Note Hook do)", event)
	}
	return ev, nil
}

func fillMR(ev *Event, mr *glMR) {
	ev.Number, ev.Title, ev.Author = mr.IID, mr.Title, itoa(mr.AuthorID)
	ev.SHA, ev.SourceBranch, ev.TargetBranch = mr.LastCommit.ID, mr.SourceBranch, mr.TargetBranch
	ev.Fork = mr.SourceProjectID != 0 && mr.TargetProjectID != 0 && mr.SourceProjectID != mr.TargetProjectID
	ev.SourceURL = mr.Source.WebURL
	if ev.SourceURL == "" {
		ev.SourceURL = ev.RepoURL
	}
}

// branchOf is a push's branch name: refs/heads/ cut, tags kept whole (refs/tags/v1).
func branchOf(ref string) string { return strings.TrimPrefix(ref, "refs/heads/") }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func itoa(i int) string {
	if i == 0 {
		return ""
	}
	return strconv.Itoa(i)
}

func dedupe(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// matchEvent is what the annotations are matched against.
func (ev *Event) matchEvent(eventType string) match.Event {
	h := map[string]string{}
	for k, v := range ev.Header {
		h[strings.ToLower(k)] = strings.Join(v, ",")
	}
	return match.Event{Type: eventType, TargetBranch: ev.TargetBranch, SourceBranch: ev.SourceBranch,
		TargetURL: ev.RepoURL, SourceURL: ev.SourceURL, Title: ev.Title, Body: ev.Body, Headers: h,
		Files: ev.Files, FilesKnown: ev.FilesKnown}
}
