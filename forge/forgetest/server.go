// Package forgetest is a fake forge for tests: a real HTTP server on 127.0.0.1 implementing GitHub's
// commit-status endpoints (under /api/v3/, as GitHub Enterprise serves them) and GitLab's (under /api/v4/),
// plus the repository endpoints package pac uses (contents at a ref, collaborator permission or project
// membership, pull/merge request files, comments: repo.go), the webhook delivery logs of both
// (GitHub deliveries: deliveries.go; GitLab hook events: gitlabhooks.go),
// recording every request it receives and every status it applies, with faults a test switches on: answer
// 5xx or 429 (with Retry-After), drop the connection, or apply a status and lose the answer.
package forgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is one request the server received.
type Request struct {
	Provider string // "github" or "gitlab"
	Method   string
	Repo     string // OWNER/REPO or the GitLab project id/path
	// Hook is the webhook of a deliveries or events request (GitHub OWNER/REPO/ID or org/ORG/ID:
	// deliveries.go; GitLab PROJECT/ID: gitlabhooks.go).
	Hook string
	SHA  string
	// The status posted (POST only), in the provider's words.
	State, Context, Description, TargetURL, Ref string
	// Code is the answer (0: the connection was dropped).
	Code int
	// Applied: the status was stored (2xx, or a lost answer after storing).
	Applied bool
	At      time.Time
}

// Fault makes the server misbehave for the requests it matches.
type Fault struct {
	// Code answers with this status (e.g. 503, 429) without applying anything.
	Code int
	// RetryAfter is sent as Retry-After with Code.
	RetryAfter string
	// RateLimitReset, when set, is sent as X-RateLimit-Reset (and RateLimit-Reset) with
	// X-RateLimit-Remaining: 0.
	RateLimitReset time.Time
	// Drop closes the connection without an answer, applying nothing (a forge that is down).
	Drop bool
	// LoseAnswer applies the status, then closes the connection without answering.
	LoseAnswer bool
	// States limits the fault to POSTs of these provider states (empty: every request).
	States []string
}

func (f *Fault) matches(r *Request) bool {
	if len(f.States) == 0 {
		return true
	}
	if r.Method != http.MethodPost {
		return false
	}
	for _, s := range f.States {
		if s == r.State {
			return true
		}
	}
	return false
}

// Server is the fake forge.
type Server struct {
	// URL is the server's root, http://127.0.0.1:PORT.
	URL string
	// Token is the token it accepts (Authorization: Bearer/token for GitHub, PRIVATE-TOKEN for GitLab).
	Token string

	srv      *httptest.Server
	mu       sync.Mutex
	fault    *Fault
	requests []Request
	statuses map[string][]Request // provider/repo/sha → applied statuses, oldest first
	repos    repoState            // repository contents, permissions and comments (repo.go)
	hooks    hookState            // webhooks and their delivery logs (deliveries.go)
	glhooks  gitlabHookState      // GitLab project webhooks and their events (gitlabhooks.go)
}

// NewServer starts a fake forge accepting token. Close it when done.
func NewServer(token string) *Server {
	s := &Server{Token: token, statuses: map[string][]Request{}, hooks: newHookState(), glhooks: newGitLabHookState()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/statuses/{sha}", s.githubPost)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/commits/{sha}/statuses", s.githubList)
	mux.HandleFunc("POST /api/v4/projects/{id}/statuses/{sha}", s.gitlabPost)
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/commits/{sha}/statuses", s.gitlabList)
	s.repoRoutes(mux)
	s.hookRoutes(mux)
	s.gitlabHookRoutes(mux)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// GitHubAPI is the base URL to give go-github (hookrun.dev/status-api for GitHub).
func (s *Server) GitHubAPI() string { return s.URL + "/api/v3/" }

// GitLabAPI is the base URL for GitLab (hookrun.dev/status-api for GitLab).
func (s *Server) GitLabAPI() string { return s.URL }

// SetFault switches a fault on (nil: off).
func (s *Server) SetFault(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Statuses returns the statuses applied to a commit, oldest first.
func (s *Server) Statuses(provider, repo, sha string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.statuses[provider+"/"+repo+"/"+sha]...)
}

// AllStatuses returns every applied status by commit key "provider/repo/sha".
func (s *Server) AllStatuses() map[string][]Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]Request, len(s.statuses))
	for k, v := range s.statuses {
		out[k] = append([]Request(nil), v...)
	}
	return out
}

type errorBody struct {
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// serve records req and answers it: fault, auth, then apply (for POSTs) and answer.
func (s *Server) serve(w http.ResponseWriter, req Request, authorized bool, apply func() (int, any)) {
	s.mu.Lock()
	req.At = time.Now()
	f := s.fault
	idx := len(s.requests)
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	record := func(code int, applied bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[idx].Code, s.requests[idx].Applied = code, applied
		if applied {
			k := req.Provider + "/" + req.Repo + "/" + req.SHA
			req.Applied = true
			s.statuses[k] = append(s.statuses[k], req)
		}
	}
	if f != nil && f.matches(&req) {
		switch {
		case f.Drop:
			record(0, false)
			drop(w)
			return
		case f.Code != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			if !f.RateLimitReset.IsZero() {
				for _, p := range []string{"X-RateLimit-", "RateLimit-"} {
					w.Header().Set(p+"Remaining", "0")
					w.Header().Set(p+"Reset", fmt.Sprint(f.RateLimitReset.Unix()))
				}
			}
			record(f.Code, false)
			writeJSON(w, f.Code, errorBody{Message: http.StatusText(f.Code)})
			return
		}
	}
	if !authorized {
		record(http.StatusUnauthorized, false)
		if req.Provider == "gitlab" {
			writeJSON(w, http.StatusUnauthorized, errorBody{Message: "401 Unauthorized"})
		} else {
			writeJSON(w, http.StatusUnauthorized, errorBody{Message: "Bad credentials"})
		}
		return
	}
	code, body := apply()
	applied := req.Method == http.MethodPost && code/100 == 2
	if f != nil && f.LoseAnswer && f.matches(&req) {
		record(0, applied)
		drop(w)
		return
	}
	record(code, applied)
	writeJSON(w, code, body)
}

type githubStatus struct {
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url,omitempty"`
}

func (s *Server) githubAuthorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return a == "Bearer "+s.Token || a == "token "+s.Token
}

func (s *Server) githubPost(w http.ResponseWriter, r *http.Request) {
	var in githubStatus
	bad := json.NewDecoder(r.Body).Decode(&in) != nil
	req := Request{Provider: "github", Method: r.Method, Repo: r.PathValue("owner") + "/" + r.PathValue("repo"),
		SHA: r.PathValue("sha"), State: in.State, Context: in.Context, Description: in.Description, TargetURL: in.TargetURL}
	s.serve(w, req, s.githubAuthorized(r), func() (int, any) {
		switch {
		case bad:
			return http.StatusBadRequest, errorBody{Message: "Problems parsing JSON"}
		case !oneOf(in.State, "pending", "success", "failure", "error"):
			return http.StatusUnprocessableEntity, errorBody{Message: "Validation Failed"}
		case len(in.Description) > 140:
			return http.StatusUnprocessableEntity, errorBody{Message: "description is too long (maximum is 140 characters)"}
		}
		if in.Context == "" {
			in.Context = "default"
		}
		return http.StatusCreated, in
	})
}

func (s *Server) githubList(w http.ResponseWriter, r *http.Request) {
	req := Request{Provider: "github", Method: r.Method, Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), SHA: r.PathValue("sha")}
	s.serve(w, req, s.githubAuthorized(r), func() (int, any) {
		applied := s.Statuses("github", req.Repo, req.SHA)
		out := []githubStatus{}
		for i := len(applied) - 1; i >= 0; i-- { // newest first, as GitHub lists them
			a := applied[i]
			out = append(out, githubStatus{State: a.State, Context: a.Context, Description: a.Description, TargetURL: a.TargetURL})
		}
		return http.StatusOK, out
	})
}

type gitlabStatus struct {
	Status      string `json:"status"`
	State       string `json:"state,omitempty"`
	Name        string `json:"name"`
	Ref         string `json:"ref,omitempty"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url,omitempty"`
}

func (s *Server) gitlabPost(w http.ResponseWriter, r *http.Request) {
	var in gitlabStatus
	bad := json.NewDecoder(r.Body).Decode(&in) != nil
	req := Request{Provider: "gitlab", Method: r.Method, Repo: r.PathValue("id"), SHA: r.PathValue("sha"),
		State: in.State, Context: in.Name, Description: in.Description, TargetURL: in.TargetURL, Ref: in.Ref}
	s.serve(w, req, r.Header.Get("PRIVATE-TOKEN") == s.Token, func() (int, any) {
		switch {
		case bad:
			return http.StatusBadRequest, errorBody{Message: "400 Bad request"}
		case !oneOf(in.State, "pending", "running", "success", "failed", "canceled", "skipped"):
			return http.StatusBadRequest, map[string]string{"error": "state does not have a valid value"}
		}
		// GitLab refuses a transition from a state to itself for the same name and ref.
		prev := s.Statuses("gitlab", req.Repo, req.SHA)
		for i := len(prev) - 1; i >= 0; i-- {
			if prev[i].Context == in.Name && prev[i].Ref == in.Ref {
				if prev[i].State == in.State {
					return http.StatusBadRequest, errorBody{Message: fmt.Sprintf("Cannot transition status via :%s from :%s", in.State, in.State)}
				}
				break
			}
		}
		in.Status = in.State
		in.State = ""
		return http.StatusCreated, in
	})
}

func (s *Server) gitlabList(w http.ResponseWriter, r *http.Request) {
	req := Request{Provider: "gitlab", Method: r.Method, Repo: r.PathValue("id"), SHA: r.PathValue("sha")}
	name, ref := r.URL.Query().Get("name"), r.URL.Query().Get("ref")
	s.serve(w, req, r.Header.Get("PRIVATE-TOKEN") == s.Token, func() (int, any) {
		out := []gitlabStatus{}
		for _, a := range s.Statuses("gitlab", req.Repo, req.SHA) {
			if (name == "" || a.Context == name) && (ref == "" || a.Ref == ref) {
				out = append(out, gitlabStatus{Status: a.State, Name: a.Context, Ref: a.Ref, Description: a.Description, TargetURL: a.TargetURL})
			}
		}
		return http.StatusOK, out
	})
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func decodeJSON(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
