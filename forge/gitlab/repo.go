package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hookrun/hookrun/forge"
)

var _ forge.Repo = (*Client)(nil)

// developer is GitLab's Developer access level, the least that may push.
const developer = 30

type treeEntry struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
}

// ReadDir lists dir at ref (GET /projects/:id/repository/tree) and reads each file in it.
func (c *Client) ReadDir(ctx context.Context, repo, ref, dir string) ([]forge.File, error) {
	var paths []string
	for page := 1; page <= 10; page++ {
		q := url.Values{"path": {dir}, "ref": {ref}, "per_page": {"100"}, "page": {strconv.Itoa(page)}}
		data, err := c.do(ctx, http.MethodGet, c.endpoint(q, "projects", repo, "repository", "tree"), nil)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", dir, ref, notFound(err))
		}
		var entries []treeEntry
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, fmt.Errorf("read %s at %s: tree: %w", dir, ref, err)
		}
		if page == 1 && len(entries) == 0 {
			// GitLab answers an empty list, not 404, for a path that does not exist.
			return nil, fmt.Errorf("read %s at %s: %w", dir, ref, forge.ErrNotFound)
		}
		for _, e := range entries {
			if e.Type != "blob" {
				continue
			}
			paths = append(paths, e.Path)
		}
		if len(entries) < 100 {
			break
		}
	}
	return forge.ReadAll(ctx, paths, func(ctx context.Context, p string) ([]byte, error) { return c.ReadFile(ctx, repo, ref, p) })
}

// ReadFile reads one file at ref (GET /projects/:id/repository/files/:path/raw).
func (c *Client) ReadFile(ctx context.Context, repo, ref, p string) ([]byte, error) {
	data, err := c.do(ctx, http.MethodGet, c.endpoint(url.Values{"ref": {ref}}, "projects", repo, "repository", "files", p, "raw"), nil)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", p, ref, notFound(err))
	}
	return data, nil
}

// CanWrite reads the user's membership, inherited included (GET /projects/:id/members/all/:user_id): an
// access level of Developer (30) or more may push. user is GitLab's numeric user id.
func (c *Client) CanWrite(ctx context.Context, repo, user string) (bool, error) {
	data, err := c.do(ctx, http.MethodGet, c.endpoint(nil, "projects", repo, "members", "all", user), nil)
	if err != nil {
		if forge.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("membership of user %s in %s: %w", user, repo, err)
	}
	var m struct {
		AccessLevel int    `json:"access_level"`
		State       string `json:"state"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return false, fmt.Errorf("membership of user %s in %s: %w", user, repo, err)
	}
	return m.AccessLevel >= developer && (m.State == "" || m.State == "active"), nil
}

// ChangedFiles lists a merge request's files (GET /projects/:id/merge_requests/:iid/diffs, 100 a page).
func (c *Client) ChangedFiles(ctx context.Context, repo string, number int) ([]string, error) {
	var out []string
	for page := 1; page <= 30; page++ {
		q := url.Values{"per_page": {"100"}, "page": {strconv.Itoa(page)}}
		data, err := c.do(ctx, http.MethodGet, c.endpoint(q, "projects", repo, "merge_requests", strconv.Itoa(number), "diffs"), nil)
		if err != nil {
			return nil, fmt.Errorf("files of merge request %d: %w", number, notFound(err))
		}
		var diffs []struct {
			OldPath string `json:"old_path"`
			NewPath string `json:"new_path"`
		}
		if err := json.Unmarshal(data, &diffs); err != nil {
			return nil, fmt.Errorf("files of merge request %d: %w", number, err)
		}
		for _, d := range diffs {
			out = append(out, d.NewPath)
			if d.OldPath != "" && d.OldPath != d.NewPath {
				out = append(out, d.OldPath)
			}
		}
		if len(diffs) < 100 {
			break
		}
	}
	return out, nil
}

// PullRequest reads a merge request (GET /projects/:id/merge_requests/:iid).
func (c *Client) PullRequest(ctx context.Context, repo string, number int) (forge.PullRequest, error) {
	data, err := c.do(ctx, http.MethodGet, c.endpoint(nil, "projects", repo, "merge_requests", strconv.Itoa(number)), nil)
	if err != nil {
		return forge.PullRequest{}, fmt.Errorf("merge request %s!%d: %w", repo, number, notFound(err))
	}
	var mr struct {
		Title           string `json:"title"`
		SHA             string `json:"sha"`
		SourceBranch    string `json:"source_branch"`
		TargetBranch    string `json:"target_branch"`
		SourceProjectID int    `json:"source_project_id"`
		TargetProjectID int    `json:"target_project_id"`
		Author          struct {
			ID int `json:"id"`
		} `json:"author"`
	}
	if err := json.Unmarshal(data, &mr); err != nil {
		return forge.PullRequest{}, fmt.Errorf("merge request %s!%d: %w", repo, number, err)
	}
	return forge.PullRequest{Number: number, Title: mr.Title, HeadSHA: mr.SHA, HeadRef: mr.SourceBranch, BaseRef: mr.TargetBranch,
		Author: strconv.Itoa(mr.Author.ID), Fork: mr.SourceProjectID != mr.TargetProjectID}, nil
}

// Comment posts a note on the merge request (POST /projects/:id/merge_requests/:iid/notes).
func (c *Client) Comment(ctx context.Context, repo string, number int, body string) error {
	data, err := json.Marshal(map[string]string{"body": body})
	if err != nil {
		return fmt.Errorf("gitlab: %w", err)
	}
	if _, err := c.do(ctx, http.MethodPost, c.endpoint(nil, "projects", repo, "merge_requests", strconv.Itoa(number), "notes"), data); err != nil {
		return fmt.Errorf("comment on %s!%d: %w", repo, number, err)
	}
	return nil
}

// notFound makes a 404 answer also wrap forge.ErrNotFound.
func notFound(err error) error {
	if fe, ok := err.(*forge.Error); ok && fe.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", forge.ErrNotFound, fe)
	}
	return err
}
