package dev

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// prepareRepo makes state/repo, a git repository with a passing test script, on first use, and writes
// state/push.json: a GitHub push event for its HEAD whose clone_url points at it, so the github-push
// example runs without network. It returns the payload path.
func prepareRepo(state string) (string, error) {
	repo := filepath.Join(state, "repo")
	if _, err := exec.LookPath("git"); err != nil {
		return "", errors.New("git is not installed")
	}
	if _, err := os.Stat(filepath.Join(repo, ".git")); err != nil {
		if err := os.MkdirAll(repo, 0o755); err != nil {
			return "", err
		}
		files := map[string]string{
			"README.md":  "# demo\n\nA repository `hookrun dev` made so the github-push example has something to clone.\n",
			"test.sh":    "#!/bin/sh\nset -e\necho \"running tests in $(pwd)\"\ntest -f README.md\necho \"all tests passed\"\n",
			"Dockerfile": "FROM alpine:3.20\nCOPY README.md /\n",
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o755); err != nil {
				return "", err
			}
		}
		for _, args := range [][]string{
			{"init", "--quiet", "--initial-branch=main"},
			{"add", "."},
			{"-c", "user.name=hookrun", "-c", "user.email=dev@hookrun.invalid", "commit", "--quiet", "-m", "first commit"},
		} {
			cmd := exec.Command("git", args...)
			cmd.Dir = repo
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("git %s: %v: %s", args[0], err, out)
			}
		}
	}
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git rev-parse: %w", err)
	}
	sha := strings.TrimSpace(string(out))
	payload := fmt.Sprintf(`{
  "ref": "refs/heads/main",
  "before": "0000000000000000000000000000000000000000",
  "after": %q,
  "head_commit": {"id": %q, "message": "first commit"},
  "repository": {"name": "repo", "full_name": "local/repo", "clone_url": %q},
  "pusher": {"name": "hookrun"}
}
`, sha, sha, "file://"+repo)
	path := filepath.Join(state, "push.json")
	return path, os.WriteFile(path, []byte(payload), 0o644)
}
