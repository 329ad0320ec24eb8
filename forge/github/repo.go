package github

import (
	"context"
	"fmt"
	"path"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/hookrun/hookrun/forge"
)

var _ forge.Repo = (*Client)(nil)

// ReadDir lists dir at ref (GET /repos/OWNER/REPO/contents/DIR?ref=REF) and reads each file in it.
func (c *Client) ReadDir(ctx context.Context, repo, ref, dir string) ([]forge.File, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	opts := &gh.RepositoryContentGetOptions{Ref: ref}
	file, entries, resp, err := c.gh.Repositories.GetContents(ctx, owner, name, dir, opts)
	if err := c.wrapNotFound(resp, err); err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", dir, ref, err)
	}
	if file != nil {
		return nil, fmt.Errorf("read %s at %s: a file, not a folder: %w", dir, ref, forge.ErrNotFound)
	}
	var paths []string
	for _, e := range entries {
		if e.GetType() != "file" {
			continue
		}
		p := e.GetPath()
		if p == "" {
			p = path.Join(dir, e.GetName())
		}
		paths = append(paths, p)
	}
	return forge.ReadAll(ctx, paths, func(ctx context.Context, p string) ([]byte, error) { return c.ReadFile(ctx, repo, ref, p) })
}

// ReadFile reads one file at ref (the contents API; files up to 1 MB).
func (c *Client) ReadFile(ctx context.Context, repo, ref, p string) ([]byte, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	file, _, resp, err := c.gh.Repositories.GetContents(ctx, owner, name, p, &gh.RepositoryContentGetOptions{Ref: ref})
	if err := c.wrapNotFound(resp, err); err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, ref, err)
	}
	if file == nil {
		return nil, fmt.Errorf("read %s at %s: a folder, not a file: %w", p, ref, forge.ErrNotFound)
	}
	s, err := file.GetContent()
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, ref, err)
	}
	return []byte(s), nil
}

// CanWrite asks the collaborator permission API (GET /repos/OWNER/REPO/collaborators/USER/permission):
// admin and write (maintain is reported as write) may; a user GitHub does not know may not.
func (c *Client) CanWrite(ctx context.Context, repo, user string) (bool, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return false, err
	}
	lvl, resp, err := c.gh.Repositories.GetPermissionLevel(ctx, owner, name, user)
	if err := c.wrapNotFound(resp, err); err != nil {
		if forge.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("permission of %s on %s: %w", user, repo, err)
	}
	switch strings.ToLower(lvl.GetPermission()) {
	case "admin", "write", "maintain":
		return true, nil
	}
	return false, nil
}

// ChangedFiles lists a pull request's files (GET /repos/OWNER/REPO/pulls/N/files, 100 a page).
func (c *Client) ChangedFiles(ctx context.Context, repo string, number int) ([]string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	var out []string
	opts := &gh.ListOptions{PerPage: 100}
	for page := 0; page < 30; page++ {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, owner, name, number, opts)
		if err := c.wrapNotFound(resp, err); err != nil {
			return nil, fmt.Errorf("files of pull request %d: %w", number, err)
		}
		for _, f := range files {
			out = append(out, f.GetFilename())
			if prev := f.GetPreviousFilename(); prev != "" {
				out = append(out, prev)
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// PullRequest reads a pull request (GET /repos/OWNER/REPO/pulls/N).
func (c *Client) PullRequest(ctx context.Context, repo string, number int) (forge.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return forge.PullRequest{}, err
	}
	pr, resp, err := c.gh.PullRequests.Get(ctx, owner, name, number)
	if err := c.wrapNotFound(resp, err); err != nil {
		return forge.PullRequest{}, fmt.Errorf("pull request %s#%d: %w", repo, number, err)
	}
	head, base := pr.GetHead(), pr.GetBase()
	return forge.PullRequest{Number: number, Title: pr.GetTitle(), HeadSHA: head.GetSHA(), HeadRef: head.GetRef(),
		BaseRef: base.GetRef(), Author: pr.GetUser().GetLogin(), HeadURL: head.GetRepo().GetHTMLURL(),
		Fork: head.GetRepo().GetFullName() != "" && !strings.EqualFold(head.GetRepo().GetFullName(), base.GetRepo().GetFullName())}, nil
}

// Comment comments on the pull request (POST /repos/OWNER/REPO/issues/N/comments).
func (c *Client) Comment(ctx context.Context, repo string, number int, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	_, resp, err := c.gh.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)})
	if err := c.wrap(resp, err); err != nil {
		return fmt.Errorf("comment on %s#%d: %w", repo, number, err)
	}
	return nil
}

// wrapNotFound is wrap, with a 404 also wrapping forge.ErrNotFound.
func (c *Client) wrapNotFound(resp *gh.Response, err error) error {
	err = c.wrap(resp, err)
	if fe, ok := err.(*forge.Error); ok && fe.StatusCode == 404 {
		return fmt.Errorf("%w: %w", forge.ErrNotFound, fe)
	}
	return err
}
