package forgetest

import (
	"encoding/base64"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Comment is a comment the server received on a pull/merge request.
type Comment struct {
	Provider string
	Repo     string
	Number   int
	Body     string
}

// repoState is the fake repositories: files by repo and ref, permissions, changed files, comments.
type repoState struct {
	files   map[string]map[string]map[string]string // repo → ref → path → content
	perms   map[string]map[string]string            // repo → user → GitHub permission
	levels  map[string]map[string]int               // repo → user id → GitLab access level
	changed map[string][]string                     // repo#number → files
	pulls   map[string]PullRequest                  // repo#number → pull/merge request
	notes   []Comment
	reads   int
	// fileLists counts the pull/merge request file-list requests (each page); filesFault, when not 0, is
	// the status they are answered with (files.go).
	fileLists  int
	filesFault int
}

func newRepoState() repoState {
	return repoState{files: map[string]map[string]map[string]string{}, perms: map[string]map[string]string{},
		levels: map[string]map[string]int{}, changed: map[string][]string{}, pulls: map[string]PullRequest{}}
}

func (s *Server) repoRoutes(mux *http.ServeMux) {
	s.repos = newRepoState()
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/contents/{path...}", s.githubContents)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/collaborators/{user}/permission", s.githubPermission)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/pulls/{n}/files", s.githubFiles)
	mux.HandleFunc("GET /bitbucket/2.0/repositories/{ws}/{repo}/pullrequests/{n}/diffstat", s.bitbucketDiffstat)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{n}/comments", s.githubComment)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/pulls/{n}", s.githubPull)
	mux.HandleFunc("GET /api/v4/projects/{id}/merge_requests/{n}", s.gitlabMR)
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/tree", s.gitlabTree)
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/files/{path}/raw", s.gitlabRaw)
	mux.HandleFunc("GET /api/v4/projects/{id}/members/all/{user}", s.gitlabMember)
	mux.HandleFunc("GET /api/v4/projects/{id}/merge_requests/{n}/diffs", s.gitlabDiffs)
	mux.HandleFunc("POST /api/v4/projects/{id}/merge_requests/{n}/notes", s.gitlabNote)
}

// SetFiles puts files (path → content) in repo at ref (a commit SHA or a branch name; both may be set to
// the same files). Files already there at ref are kept unless replaced.
func (s *Server) SetFiles(repo, ref string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos.files[repo] == nil {
		s.repos.files[repo] = map[string]map[string]string{}
	}
	if s.repos.files[repo][ref] == nil {
		s.repos.files[repo][ref] = map[string]string{}
	}
	for p, c := range files {
		s.repos.files[repo][ref][p] = c
	}
}

// SetPermission sets a GitHub user's permission on repo ("admin", "write", "read", "none").
func (s *Server) SetPermission(repo, user, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos.perms[repo] == nil {
		s.repos.perms[repo] = map[string]string{}
	}
	s.repos.perms[repo][user] = permission
}

// SetAccessLevel makes GitLab user id a member of project repo with access level (30 Developer, 40 Maintainer).
func (s *Server) SetAccessLevel(repo, userID string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos.levels[repo] == nil {
		s.repos.levels[repo] = map[string]int{}
	}
	s.repos.levels[repo][userID] = level
}

// SetChangedFiles sets the files pull/merge request number of repo changes.
func (s *Server) SetChangedFiles(repo string, number int, files []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos.changed[repo+"#"+strconv.Itoa(number)] = files
}

// PullRequest is a pull/merge request the server knows.
type PullRequest struct {
	Number                    int
	Title                     string
	HeadSHA, HeadRef, BaseRef string
	// Author is the GitHub login or the GitLab user id.
	Author string
	// HeadRepo is the head's repository when it is a fork (GitHub OWNER/REPO; GitLab: any non-empty value).
	HeadRepo string
}

// SetPullRequest makes pull/merge request pr of repo known.
func (s *Server) SetPullRequest(repo string, pr PullRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos.pulls[repo+"#"+strconv.Itoa(pr.Number)] = pr
}

func (s *Server) pull(repo, n string) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.repos.pulls[repo+"#"+n]
	return pr, ok
}

func (s *Server) githubPull(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, false) {
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	pr, ok := s.pull(repo, r.PathValue("n"))
	if !ok {
		notFound(w)
		return
	}
	head := repo
	if pr.HeadRepo != "" {
		head = pr.HeadRepo
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": pr.Number, "title": pr.Title, "user": map[string]string{"login": pr.Author},
		"head": map[string]any{"sha": pr.HeadSHA, "ref": pr.HeadRef, "repo": map[string]string{"full_name": head, "html_url": s.URL + "/" + head}},
		"base": map[string]any{"ref": pr.BaseRef, "repo": map[string]string{"full_name": repo, "html_url": s.URL + "/" + repo}}})
}

func (s *Server) gitlabMR(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	pr, ok := s.pull(r.PathValue("id"), r.PathValue("n"))
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "404 Not found"})
		return
	}
	src := 1
	if pr.HeadRepo != "" {
		src = 2
	}
	author, _ := strconv.Atoi(pr.Author)
	writeJSON(w, http.StatusOK, map[string]any{"iid": pr.Number, "title": pr.Title, "sha": pr.HeadSHA,
		"source_branch": pr.HeadRef, "target_branch": pr.BaseRef, "source_project_id": src, "target_project_id": 1,
		"author": map[string]int{"id": author}})
}

// Comments returns the comments received, oldest first.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.repos.notes...)
}

// FileReads counts the repository file and folder reads served.
func (s *Server) FileReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos.reads
}

// lookup returns the files directly in dir at ref, or the file at p (dir ""), counting the read.
func (s *Server) lookup(repo, ref, p string) (file *string, dir []string, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos.reads++
	at := s.repos.files[repo][ref]
	if c, ok := at[p]; ok {
		return &c, nil, true
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	for fp := range at {
		if rest, ok := strings.CutPrefix(fp, prefix); ok && !strings.Contains(rest, "/") {
			dir = append(dir, fp)
		}
	}
	sort.Strings(dir)
	return nil, dir, len(dir) > 0
}

func (s *Server) repoAuth(w http.ResponseWriter, r *http.Request, gitlab bool) bool {
	ok := s.githubAuthorized(r)
	if gitlab {
		ok = r.Header.Get("PRIVATE-TOKEN") == s.Token
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, errorBody{Message: "Bad credentials"})
	}
	return ok
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody{Message: "Not Found"})
}

type githubContent struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	Encoding string `json:"encoding,omitempty"`
	Content  string `json:"content,omitempty"`
}

func (s *Server) githubContents(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, false) {
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	file, dir, ok := s.lookup(repo, r.URL.Query().Get("ref"), r.PathValue("path"))
	switch {
	case !ok:
		notFound(w)
	case file != nil:
		p := r.PathValue("path")
		writeJSON(w, http.StatusOK, githubContent{Type: "file", Name: path.Base(p), Path: p, Encoding: "base64",
			Content: base64.StdEncoding.EncodeToString([]byte(*file))})
	default:
		out := make([]githubContent, 0, len(dir))
		for _, p := range dir {
			out = append(out, githubContent{Type: "file", Name: path.Base(p), Path: p})
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) githubPermission(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, false) {
		return
	}
	s.mu.Lock()
	p, ok := s.repos.perms[r.PathValue("owner")+"/"+r.PathValue("repo")][r.PathValue("user")]
	s.mu.Unlock()
	if !ok {
		p = "read" // anyone may read a public repository
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission": p, "user": map[string]string{"login": r.PathValue("user")}})
}

func (s *Server) changedFiles(repo, n string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos.changed[repo+"#"+n]
}

func (s *Server) addComment(provider, repo, n, body string) {
	num, _ := strconv.Atoi(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos.notes = append(s.repos.notes, Comment{Provider: provider, Repo: repo, Number: num, Body: body})
}

func (s *Server) githubComment(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, false) {
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "Problems parsing JSON"})
		return
	}
	s.addComment("github", r.PathValue("owner")+"/"+r.PathValue("repo"), r.PathValue("n"), in.Body)
	writeJSON(w, http.StatusCreated, map[string]any{"id": 1, "body": in.Body})
}

func (s *Server) gitlabTree(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	q := r.URL.Query()
	if q.Get("page") != "" && q.Get("page") != "1" {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	_, dir, _ := s.lookup(r.PathValue("id"), q.Get("ref"), q.Get("path"))
	out := []map[string]string{}
	for _, p := range dir {
		out = append(out, map[string]string{"name": path.Base(p), "type": "blob", "path": p})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) gitlabRaw(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	file, _, _ := s.lookup(r.PathValue("id"), r.URL.Query().Get("ref"), r.PathValue("path"))
	if file == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "404 File Not Found"})
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(*file))
}

func (s *Server) gitlabMember(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	s.mu.Lock()
	lvl, ok := s.repos.levels[r.PathValue("id")][r.PathValue("user")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "404 Not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("user"), "access_level": lvl, "state": "active"})
}

func (s *Server) gitlabNote(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "400 Bad request"})
		return
	}
	s.addComment("gitlab", r.PathValue("id"), r.PathValue("n"), in.Body)
	writeJSON(w, http.StatusCreated, map[string]any{"id": 1, "body": in.Body})
}
