package forge

import (
	"context"
	"errors"
	"sort"

	"golang.org/x/sync/errgroup"
)

// ErrNotFound marks a path, ref, pull request or user the forge does not know (an *Error with 404 wraps it).
var ErrNotFound = errors.New("not found")

// File is one file read from a repository.
type File struct {
	Path    string
	Content []byte
}

// Repo reads a repository and talks on its pull/merge requests: what package pac needs to run the
// pipelines kept in a repository's `.tekton/` folder and to answer comment commands.
//
// repo is "owner/repo" on GitHub and the project's numeric id or "group/project" path on GitLab; number is
// the pull request's number (GitLab: the merge request's iid).
type Repo interface {
	// ReadDir returns the files directly in dir at ref (sub-folders are not read), sorted by path. A dir
	// or ref that does not exist is an error wrapping ErrNotFound.
	ReadDir(ctx context.Context, repo, ref, dir string) ([]File, error)
	// ReadFile returns one file at ref; a missing file is an error wrapping ErrNotFound.
	ReadFile(ctx context.Context, repo, ref, path string) ([]byte, error)
	// CanWrite reports whether user (GitHub login; GitLab user id) may push to repo: a collaborator with
	// write, maintain or admin permission on GitHub, a member with access level Developer (30) or more on
	// GitLab.
	CanWrite(ctx context.Context, repo, user string) (bool, error)
	// ChangedFiles lists the paths a pull/merge request changes (at most the first 3,000).
	ChangedFiles(ctx context.Context, repo string, number int) ([]string, error)
	// PullRequest reads a pull/merge request (a comment event does not say where its head is).
	PullRequest(ctx context.Context, repo string, number int) (PullRequest, error)
	// Comment posts body as a comment on the pull/merge request.
	Comment(ctx context.Context, repo string, number int, body string) error
}

// PullRequest is what pac needs of a pull/merge request.
type PullRequest struct {
	Number                    int
	Title                     string
	HeadSHA, HeadRef, BaseRef string
	// Author is the GitHub login, the GitLab user id.
	Author string
	// Fork: the head is in another repository.
	Fork    bool
	HeadURL string
}

// IsNotFound reports whether err says the forge does not know what was asked for.
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.StatusCode == 404
}

// readConcurrency bounds the file reads ReadAll has in flight (a folder's files, within the ~10 s a forge
// waits for the webhook's answer).
const readConcurrency = 8

// ReadAll reads paths with read, a few at a time, and returns the files sorted by path; the first error
// stops it.
func ReadAll(ctx context.Context, paths []string, read func(ctx context.Context, path string) ([]byte, error)) ([]File, error) {
	out := make([]File, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i, p := range paths {
		g.Go(func() error {
			data, err := read(gctx, p)
			out[i] = File{Path: p, Content: data}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
