package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Project webhook events (GitLab 17.3: list; 17.4: resend):
//
//	GET  /projects/:id/hooks/:hook_id/events?page=N&per_page=M     the last 7 days, offset pagination (X-Next-Page)
//	POST /projects/:id/hooks/:hook_id/events/:hook_event_id/resend  executes the hook again, answers {"response_status": …}
//
// Each event is one attempt: its request headers carry the Idempotency-Key GitLab keeps across its own
// retries and across resends, so the events of one delivery share it. response_status is the HTTP status
// the receiver answered, as a string, or "internal error" when there was no answer (connection refused,
// timeout). A resend is refused when the hook's URL changed since the event, and is rate-limited (five
// per minute for each hook and user on GitLab.com).

// HookKeeps is how long GitLab lists a hook's events.
const HookKeeps = 7 * 24 * time.Hour

// Hook names one project webhook.
type Hook struct {
	Project string // the numeric project id, or its path ("group/subgroup/project"), unescaped
	ID      int64
}

// String is the hook as ParseHook reads it: PROJECT/HOOK_ID.
func (h Hook) String() string { return h.Project + "/" + strconv.FormatInt(h.ID, 10) }

// ParseHook reads "PROJECT/HOOK_ID": PROJECT is the numeric project id, or its path, plain
// ("group/project") or URL-encoded ("group%2Fproject"); HOOK_ID is the number in the hook's settings URL
// (…/-/hooks/HOOK_ID/edit).
func ParseHook(s string) (Hook, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (Hook, error) {
		return Hook{}, fmt.Errorf("gitlab hook %q: %s (want PROJECT/HOOK_ID, PROJECT the numeric id or the path group/project)", s, why)
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return bad("no project")
	}
	id, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || id <= 0 {
		return bad("the hook id is not a positive number")
	}
	project, err := url.PathUnescape(s[:i])
	if err != nil {
		return bad("the project path is not URL-encoded correctly")
	}
	if project == "" || len(project) > 1024 {
		return bad("empty or overlong project")
	}
	for _, seg := range strings.Split(project, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty, . or .. segment in the project path")
		}
	}
	if strings.IndexFunc(project, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '?' || r == '#' || r == '%' || r == utf8.RuneError
	}) >= 0 {
		return bad("the project path has a space, a control character, ?, # or % once decoded, or is not UTF-8")
	}
	return Hook{Project: project, ID: id}, nil
}

// InternalError is the response_status GitLab records when the receiver gave no answer.
const InternalError = "internal error"

// HookEvent is one attempt GitLab made to deliver an event to a hook (a retry or a resend is a new event
// with the same IdempotencyKey).
type HookEvent struct {
	ID             int64
	Trigger        string // push_hooks, merge_request_hooks, …
	URL            string
	Status         string // response_status as GitLab gives it: "200", "503", "internal error", …
	StatusCode     int    // Status as a number; 0: no answer
	Event          string // X-Gitlab-Event
	IdempotencyKey string
	CreatedAt      time.Time // zero when GitLab did not say (before 17.x's created_at)
}

// Failed reports whether the attempt did not get a 2xx/3xx answer (GitLab's own success category).
func (e HookEvent) Failed() bool { return e.StatusCode < 200 || e.StatusCode >= 400 }

// EventPage is one page of a hook's events; NextPage is 0 on the last.
type EventPage struct {
	Events   []HookEvent
	NextPage int
}

// hookEventJSON is what hookrun reads of an event (request_data and the response are not needed).
type hookEventJSON struct {
	ID             int64           `json:"id"`
	URL            string          `json:"url"`
	Trigger        string          `json:"trigger"`
	RequestHeaders map[string]any  `json:"request_headers"`
	ResponseStatus json.RawMessage `json:"response_status"`
	CreatedAt      string          `json:"created_at"`
}

// maxEventsBody bounds one page of the events list: each event carries its payload (request_data).
const maxEventsBody = 128 << 20

// maxEventsPage bounds what one page of the events list may hold (GitLab's per_page is at most 100).
const maxEventsPage = 1000

// ParseHookEvents reads the answer of the events list. It is untrusted input: anything it cannot read is
// an error, and fields of the wrong type are left empty instead of trusted.
func ParseHookEvents(data []byte) ([]HookEvent, error) {
	var raw []hookEventJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("hook events: %w", err)
	}
	if len(raw) > maxEventsPage {
		return nil, fmt.Errorf("hook events: %d events in one page, more than %d", len(raw), maxEventsPage)
	}
	out := make([]HookEvent, 0, len(raw))
	for _, r := range raw {
		if r.ID <= 0 {
			return nil, fmt.Errorf("hook events: an event without a positive id (%d)", r.ID)
		}
		e := HookEvent{ID: r.ID, Trigger: r.Trigger, URL: r.URL}
		e.Status, e.StatusCode = responseStatus(r.ResponseStatus)
		e.Event = headerValue(r.RequestHeaders, "X-Gitlab-Event")
		e.IdempotencyKey = headerValue(r.RequestHeaders, "Idempotency-Key")
		if t, err := time.Parse(time.RFC3339Nano, r.CreatedAt); err == nil {
			e.CreatedAt = t
		}
		out = append(out, e)
	}
	return out, nil
}

// responseStatus reads response_status: a string ("200", "internal error") in the events list, a
// number in the resend answer.
func responseStatus(raw json.RawMessage) (string, int) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", 0
		}
		s = n.String()
	}
	s = strings.TrimSpace(s)
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 999 {
		code = 0
	}
	return s, code
}

// headerValue finds a request header case-insensitively; a value that is not a string counts as absent.
func headerValue(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			if s, ok := v.(string); ok && len(s) <= 256 {
				return s
			}
		}
	}
	return ""
}

// ListHookEvents returns one page (1-based; per_page at most 100) of hook's events.
func (c *Client) ListHookEvents(ctx context.Context, hook Hook, page, perPage int) (EventPage, error) {
	if page <= 0 {
		page = 1
	}
	if perPage <= 0 || perPage > 100 {
		perPage = 100
	}
	q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
	data, h, err := c.doHeader(ctx, http.MethodGet, c.endpoint(q, "projects", hook.Project, "hooks", strconv.FormatInt(hook.ID, 10), "events"), nil, maxEventsBody)
	if err != nil {
		return EventPage{}, fmt.Errorf("list events of hook %s: %w", hook, err)
	}
	events, err := ParseHookEvents(data)
	if err != nil {
		return EventPage{}, fmt.Errorf("list events of hook %s: %w", hook, err)
	}
	p := EventPage{Events: events}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Next-Page"))); err == nil && n > page {
		p.NextPage = n
	}
	return p, nil
}

// Resend asks GitLab to execute hook again with event id's payload and Idempotency-Key. GitLab does it
// at once and answers the receiver's status: failed reports whether that attempt failed too (status is
// what GitLab said).
func (c *Client) Resend(ctx context.Context, hook Hook, id int64) (status string, failed bool, err error) {
	u := c.endpoint(nil, "projects", hook.Project, "hooks", strconv.FormatInt(hook.ID, 10), "events", strconv.FormatInt(id, 10), "resend")
	data, _, err := c.doHeader(ctx, http.MethodPost, u, nil, 1<<20)
	if err != nil {
		return "", false, fmt.Errorf("resend event %d of hook %s: %w", id, hook, err)
	}
	var answer struct {
		ResponseStatus json.RawMessage `json:"response_status"`
	}
	if json.Unmarshal(data, &answer) != nil || len(answer.ResponseStatus) == 0 {
		return "", false, nil // accepted; what the receiver answered is not known
	}
	s, code := responseStatus(answer.ResponseStatus)
	return s, code < 200 || code >= 400, nil
}
