package forge_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
	"github.com/hookrun/hookrun/forge/github"
	"github.com/hookrun/hookrun/forge/gitlab"
)

// TestRepo: both providers' clients read a folder at a ref, a file, permissions, changed files and
// comment, against the fake forge; a missing folder is ErrNotFound.
func TestRepo(t *testing.T) {
	srv := forgetest.NewServer("tok")
	defer srv.Close()
	ghc, err := github.New(srv.GitHubAPI(), "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	glc, err := gitlab.New(srv.GitLabAPI(), "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{".tekton/b.yaml": "b", ".tekton/a.yaml": "a", ".tekton/sub/c.yaml": "c", "OWNERS": "approvers: [x]"}
	srv.SetFiles("o/r", sha, files)
	srv.SetFiles("g/p", sha, files)
	srv.SetPermission("o/r", "alice", "write")
	srv.SetPermission("o/r", "bob", "read")
	srv.SetAccessLevel("g/p", "7", 30)
	srv.SetAccessLevel("g/p", "8", 20)
	srv.SetChangedFiles("o/r", 3, []string{"x.go"})
	srv.SetChangedFiles("g/p", 3, []string{"x.go"})
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		c             forge.Repo
		repo, yes, no string
		_             string
	}{
		{"github", ghc, "o/r", "alice", "bob", "o/r"},
		{"gitlab", glc, "g/p", "7", "8", "g/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.ReadDir(ctx, tc.repo, sha, ".tekton")
			if err != nil {
				t.Fatal(err)
			}
			want := []forge.File{{Path: ".tekton/a.yaml", Content: []byte("a")}, {Path: ".tekton/b.yaml", Content: []byte("b")}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ReadDir = %q, want %q", got, want)
			}
			if _, err := tc.c.ReadDir(ctx, tc.repo, "other", ".tekton"); !errors.Is(err, forge.ErrNotFound) {
				t.Errorf("ReadDir at unknown ref: %v, want ErrNotFound", err)
			}
			if b, err := tc.c.ReadFile(ctx, tc.repo, sha, "OWNERS"); err != nil || string(b) != files["OWNERS"] {
				t.Errorf("ReadFile = %q, %v", b, err)
			}
			if _, err := tc.c.ReadFile(ctx, tc.repo, sha, "nope"); !forge.IsNotFound(err) {
				t.Errorf("ReadFile missing: %v", err)
			}
			if ok, err := tc.c.CanWrite(ctx, tc.repo, tc.yes); !ok || err != nil {
				t.Errorf("CanWrite(%s) = %v, %v", tc.yes, ok, err)
			}
			for _, u := range []string{tc.no, "9999"} {
				if ok, err := tc.c.CanWrite(ctx, tc.repo, u); ok || err != nil {
					t.Errorf("CanWrite(%s) = %v, %v", u, ok, err)
				}
			}
			if f, err := tc.c.ChangedFiles(ctx, tc.repo, 3); err != nil || !reflect.DeepEqual(f, []string{"x.go"}) {
				t.Errorf("ChangedFiles = %q, %v", f, err)
			}
			if err := tc.c.Comment(ctx, tc.repo, 3, "hello "+tc.name); err != nil {
				t.Fatal(err)
			}
		})
	}
	cs := srv.Comments()
	if len(cs) != 2 || cs[0].Repo != "o/r" || cs[1].Repo != "g/p" || cs[1].Number != 3 || cs[1].Body != "hello gitlab" {
		t.Errorf("comments = %+v", cs)
	}
}
