package forgetest

import (
	"net/http"
	"strconv"
)

// Pull/merge request file lists, paginated as each forge pages them: GitHub (per_page, page, a Link
// header with rel="next"), GitLab (per_page, page; a short page is the last), Bitbucket Cloud under
// /bitbucket/2.0/ (pagelen, page, a "next" URL in the body; a Bearer token, or none for a public
// repository).

// BitbucketAPI is the base URL of the fake Bitbucket Cloud API.
func (s *Server) BitbucketAPI() string { return s.URL + "/bitbucket/2.0/" }

// FileListRequests is how many file-list pages were asked for, on any forge.
func (s *Server) FileListRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos.fileLists
}

// SetFilesFault makes file-list requests answer code (0: answer normally).
func (s *Server) SetFilesFault(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos.filesFault = code
}

// filesPage counts the request and returns the page of repo#n's files it asks for (size per page, the
// page number from 1), whether more follow, and a fault status to answer instead (0: none).
func (s *Server) filesPage(r *http.Request, repo, sizeParam string, size int) (page []string, pageNo int, more bool, fault int) {
	s.mu.Lock()
	s.repos.fileLists++
	fault = s.repos.filesFault
	s.mu.Unlock()
	if n, err := strconv.Atoi(r.URL.Query().Get(sizeParam)); err == nil && n > 0 {
		size = n
	}
	pageNo = 1
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		pageNo = n
	}
	all := s.changedFiles(repo, r.PathValue("n"))
	from := min((pageNo-1)*size, len(all))
	to := min(from+size, len(all))
	return all[from:to], pageNo, to < len(all), fault
}

func (s *Server) githubFiles(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, false) {
		return
	}
	files, page, more, fault := s.filesPage(r, r.PathValue("owner")+"/"+r.PathValue("repo"), "per_page", 30)
	if fault != 0 {
		writeJSON(w, fault, errorBody{Message: http.StatusText(fault)})
		return
	}
	if more {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		w.Header().Set("Link", `<`+s.URL+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	out := []map[string]string{}
	for _, f := range files {
		out = append(out, map[string]string{"filename": f, "status": "modified"})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) gitlabDiffs(w http.ResponseWriter, r *http.Request) {
	if !s.repoAuth(w, r, true) {
		return
	}
	files, _, _, fault := s.filesPage(r, r.PathValue("id"), "per_page", 20)
	if fault != 0 {
		writeJSON(w, fault, map[string]string{"message": http.StatusText(fault)})
		return
	}
	out := []map[string]string{}
	for _, f := range files {
		out = append(out, map[string]string{"old_path": f, "new_path": f})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) bitbucketDiffstat(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("Authorization"); a != "" && a != "Bearer "+s.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]string{"message": "Unauthorized"}})
		return
	}
	files, page, more, fault := s.filesPage(r, r.PathValue("ws")+"/"+r.PathValue("repo"), "pagelen", 500)
	if fault != 0 {
		writeJSON(w, fault, map[string]any{"type": "error", "error": map[string]string{"message": http.StatusText(fault)}})
		return
	}
	values := []map[string]any{}
	for _, f := range files {
		values = append(values, map[string]any{"status": "modified", "old": map[string]string{"path": f}, "new": map[string]string{"path": f}})
	}
	out := map[string]any{"values": values, "page": page, "pagelen": len(values)}
	if more {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		out["next"] = s.URL + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}
