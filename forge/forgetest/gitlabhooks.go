package forgetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Project webhook events, as GitLab (17.3+, resend 17.4+) keeps them:
//
//	GET  /api/v4/projects/{id}/hooks/{hook_id}/events?status=&page=&per_page=   newest first, offset pages (X-Next-Page)
//	POST /api/v4/projects/{id}/hooks/{hook_id}/events/{hook_event_id}/resend    201 {"response_status": …}
//
// A test names a hook "PROJECT/ID" (PROJECT as the API path names it once unescaped: "42" or
// "group/project"), points it at a URL (SetGitLabHook) and has the server DeliverGitLab events to it:
// each is POSTed for real and its outcome recorded, so a listener that is down leaves failed events
// (response_status "internal error"). As GitLab does, every attempt gets a fresh X-Gitlab-Webhook-UUID
// and X-Gitlab-Event-UUID and keeps the Idempotency-Key; the list shows X-Gitlab-Token as [REDACTED];
// a resend re-encodes the stored payload (so its bytes need not be the original's) and is refused when
// the hook's URL changed since the event.

// GitLabHookEvent is one attempt the fake made to deliver an event to a GitLab hook.
type GitLabHookEvent struct {
	ID             int64
	URL            string
	Trigger        string
	Resend         bool
	ResponseStatus string // "200", "503", "internal error"
	IdempotencyKey string
	CreatedAt      time.Time
	Header         http.Header
	Body           []byte
}

type gitlabHookState struct {
	urls        map[string]string            // hook → URL
	events      map[string][]GitLabHookEvent // hook → events, oldest first
	nextID      int64
	resendLimit int                    // resends per minute and hook; 0: unlimited
	resends     map[string][]time.Time // hook → recent resends
}

func newGitLabHookState() gitlabHookState {
	return gitlabHookState{urls: map[string]string{}, events: map[string][]GitLabHookEvent{}, nextID: 5000,
		resends: map[string][]time.Time{}}
}

func (s *Server) gitlabHookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v4/projects/{id}/hooks/{hook}/events", s.gitlabListEvents)
	mux.HandleFunc("POST /api/v4/projects/{id}/hooks/{hook}/events/{event}/resend", s.gitlabResend)
}

// SetGitLabHook makes GitLab hook "PROJECT/ID" deliver to url.
func (s *Server) SetGitLabHook(hook, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.glhooks.urls[hook] = url
}

// SetGitLabResendLimit makes the resend endpoint answer 429 beyond n resends per minute and hook (GitLab.com:
// 5); 0 lifts the limit.
func (s *Server) SetGitLabResendLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.glhooks.resendLimit = n
}

// DeliverGitLab POSTs body with header to hook's URL and records the attempt as a new event. The
// trigger is derived from X-Gitlab-Event ("Push Hook" → push_hooks); an Idempotency-Key is added when
// header has none.
func (s *Server) DeliverGitLab(hook string, header http.Header, body []byte) GitLabHookEvent {
	h := header.Clone()
	if h.Get("Idempotency-Key") == "" {
		h.Set("Idempotency-Key", randomID())
	}
	return s.gitlabAttempt(hook, GitLabHookEvent{Trigger: gitlabTrigger(h.Get("X-Gitlab-Event")), Header: h, Body: bytes.Clone(body)})
}

// GitLabEvents returns hook's events, oldest first.
func (s *Server) GitLabEvents(hook string) []GitLabHookEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GitLabHookEvent(nil), s.glhooks.events[hook]...)
}

func gitlabTrigger(event string) string {
	switch event {
	case "Push Hook":
		return "push_hooks"
	case "Tag Push Hook":
		return "tag_push_hooks"
	case "Merge Request Hook":
		return "merge_request_hooks"
	case "Note Hook":
		return "note_hooks"
	}
	return "push_hooks"
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) gitlabAttempt(hook string, e GitLabHookEvent) GitLabHookEvent {
	s.mu.Lock()
	target, ok := s.glhooks.urls[hook]
	s.glhooks.nextID++
	e.ID = s.glhooks.nextID
	client := s.hooks.client
	s.mu.Unlock()
	e.URL, e.CreatedAt = target, time.Now().UTC()
	e.Header = e.Header.Clone()
	e.Header.Set("X-Gitlab-Webhook-UUID", randomID())
	e.Header.Set("X-Gitlab-Event-UUID", randomID())
	e.IdempotencyKey = e.Header.Get("Idempotency-Key")
	e.ResponseStatus = "internal error"
	if ok {
		if req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(e.Body)); err == nil {
			req.Header = e.Header.Clone()
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				e.ResponseStatus = strconv.Itoa(resp.StatusCode)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.glhooks.events[hook] = append(s.glhooks.events[hook], e)
	return e
}

// gitlabGate applies fault, token and hook checks to an events request.
func (s *Server) gitlabGate(w http.ResponseWriter, r *http.Request) (string, bool) {
	hook := r.PathValue("id") + "/" + r.PathValue("hook")
	s.mu.Lock()
	_, known := s.glhooks.urls[hook]
	s.mu.Unlock()
	return hook, s.gate(w, r, "gitlab", hook, r.Header.Get("PRIVATE-TOKEN") == s.Token, known)
}

type gitlabEventJSON struct {
	ID             int64             `json:"id"`
	URL            string            `json:"url"`
	Trigger        string            `json:"trigger"`
	RequestHeaders map[string]string `json:"request_headers"`
	RequestData    json.RawMessage   `json:"request_data"`
	ResponseStatus string            `json:"response_status"`
	CreatedAt      string            `json:"created_at"`
}

func toGitLabJSON(e GitLabHookEvent) gitlabEventJSON {
	h := map[string]string{}
	for k := range e.Header {
		h[k] = e.Header.Get(k)
	}
	if _, ok := h["X-Gitlab-Token"]; ok {
		h["X-Gitlab-Token"] = "[REDACTED]"
	}
	data := json.RawMessage(e.Body)
	if !json.Valid(data) {
		data = json.RawMessage(`{}`)
	}
	return gitlabEventJSON{ID: e.ID, URL: e.URL, Trigger: e.Trigger, RequestHeaders: h, RequestData: data,
		ResponseStatus: e.ResponseStatus, CreatedAt: e.CreatedAt.Format("2006-01-02T15:04:05.000Z")}
}

// statusMatches applies the list's status filter: a code, or successful, client_failure, server_failure
// (which includes "internal error").
func statusMatches(filter []string, status string) bool {
	if len(filter) == 0 {
		return true
	}
	code, _ := strconv.Atoi(status)
	for _, f := range filter {
		switch {
		case f == "successful" && code >= 200 && code < 300,
			f == "client_failure" && code >= 400 && code < 500,
			f == "server_failure" && (code >= 500 && code < 600 || status == "internal error"),
			f == status:
			return true
		}
	}
	return false
}

func (s *Server) gitlabListEvents(w http.ResponseWriter, r *http.Request) {
	hook, ok := s.gitlabGate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if page <= 0 {
		page = 1
	}
	if perPage <= 0 {
		perPage = 20
	}
	perPage = min(perPage, 100)
	filter := append(q["status"], q["status[]"]...)
	var all []GitLabHookEvent
	for _, e := range s.GitLabEvents(hook) {
		if statusMatches(filter, e.ResponseStatus) {
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	out := []gitlabEventJSON{}
	for i := (page - 1) * perPage; i < len(all) && i < page*perPage; i++ {
		out = append(out, toGitLabJSON(all[i]))
	}
	pages := (len(all) + perPage - 1) / perPage
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Per-Page", strconv.Itoa(perPage))
	w.Header().Set("X-Total", strconv.Itoa(len(all)))
	w.Header().Set("X-Total-Pages", strconv.Itoa(pages))
	if page < pages {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	} else {
		w.Header().Set("X-Next-Page", "")
	}
	writeJSON(w, http.StatusOK, out)
}

// gitlabResend executes the event again (synchronously) and answers its status, as GitLab does.
func (s *Server) gitlabResend(w http.ResponseWriter, r *http.Request) {
	hook, ok := s.gitlabGate(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("event"), 10, 64)
	var orig *GitLabHookEvent
	for _, e := range s.GitLabEvents(hook) {
		if e.ID == id {
			orig = &e
			break
		}
	}
	if orig == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "404 Not found"})
		return
	}
	s.mu.Lock()
	current := s.glhooks.urls[hook]
	limited := s.resendLimited(hook)
	s.mu.Unlock()
	switch {
	case limited:
		w.Header().Set("Retry-After", "60")
		writeJSON(w, http.StatusTooManyRequests, errorBody{Message: "This endpoint has been requested too many times. Try again later."})
		return
	case current != orig.URL:
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: "The hook URL has changed, and this log entry cannot be retried"})
		return
	}
	body := orig.Body
	var data any
	if json.Unmarshal(orig.Body, &data) == nil { // GitLab sends the stored request_data, encoded anew
		body, _ = json.Marshal(data)
	}
	e := s.gitlabAttempt(hook, GitLabHookEvent{Trigger: orig.Trigger, Resend: true, Header: orig.Header, Body: body})
	code, err := strconv.Atoi(e.ResponseStatus)
	if err != nil {
		writeJSON(w, http.StatusCreated, map[string]string{"response_status": e.ResponseStatus})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int{"response_status": code})
}

// resendLimited counts a resend against the per-minute limit; s.mu is held.
func (s *Server) resendLimited(hook string) bool {
	if s.glhooks.resendLimit <= 0 {
		return false
	}
	now := time.Now()
	recent := s.glhooks.resends[hook][:0]
	for _, t := range s.glhooks.resends[hook] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.glhooks.resendLimit {
		s.glhooks.resends[hook] = recent
		return true
	}
	s.glhooks.resends[hook] = append(recent, now)
	return false
}
