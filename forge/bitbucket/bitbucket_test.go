package bitbucket_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/bitbucket"
	"github.com/hookrun/hookrun/forge/forgetest"
)

func TestChangedFiles(t *testing.T) {
	fake := forgetest.NewServer("bb-token-secret")
	t.Cleanup(fake.Close)
	many := make([]string, 1200)
	for i := range many {
		many[i] = fmt.Sprintf("f%04d", i)
	}
	fake.SetChangedFiles("w/r", 4, many)
	for _, tc := range []struct {
		name, token, repo string
		fault             int
		want              int
		pages             int
		err               string
		permanent         bool
	}{
		{"anonymous, three pages", "", "w/r", 0, 1200, 3, "", false},
		{"token", "bb-token-secret", "w/r", 0, 1200, 3, "", false},
		{"bad token", "wrong", "w/r", 0, 0, 0, "401", true},
		{"server error", "", "w/r", 502, 0, 1, "502", false},
		{"not workspace/repo", "", "r", 0, 0, 0, "WORKSPACE/REPO", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := bitbucket.New(fake.BitbucketAPI(), tc.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			fake.SetFilesFault(tc.fault)
			defer fake.SetFilesFault(0)
			before := fake.FileListRequests()
			files, err := c.ChangedFiles(context.Background(), tc.repo, 4)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || forge.IsPermanent(err) != tc.permanent {
					t.Fatalf("err %v (permanent %v), want %q permanent %v", err, forge.IsPermanent(err), tc.err, tc.permanent)
				}
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatal("the error shows the token")
				}
				return
			}
			if err != nil || len(files) != tc.want || files[0] != "f0000" || files[len(files)-1] != "f1199" {
				t.Fatalf("%d files (%v), want %d", len(files), err, tc.want)
			}
			if got := fake.FileListRequests() - before; got != tc.pages {
				t.Fatalf("%d pages asked, want %d", got, tc.pages)
			}
		})
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, api := range []string{"ftp://x", "not a url", "http://"} {
		if _, err := bitbucket.New(api, "", http.DefaultClient); err == nil {
			t.Fatalf("%q accepted", api)
		}
	}
}
