package forgetest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Webhook deliveries, as GitHub keeps them for repository and organization webhooks:
//
//	GET  /api/v3/repos/{owner}/{repo}/hooks/{id}/deliveries               (cursor pagination, newest first)
//	POST /api/v3/repos/{owner}/{repo}/hooks/{id}/deliveries/{delivery}/attempts   (redeliver: 202)
//	and the same under /api/v3/orgs/{org}/hooks/{id}/…
//
// A test names a hook ("OWNER/REPO/ID" or "org/ORG/ID"), points it at a URL (SetHook), and has the server
// Deliver events to it: each is POSTed for real and its outcome recorded, so a listener that is down
// leaves failed deliveries. A redelivery POSTs the recorded headers and body again, as GitHub does, and
// records a new delivery with the same GUID.

// HookDelivery is one attempt the fake made to deliver an event to a hook.
type HookDelivery struct {
	ID          int64
	GUID        string
	DeliveredAt time.Time
	Redelivery  bool
	Status      string // "OK" or why it failed
	StatusCode  int    // 0: no answer
	Event       string
	Header      http.Header
	Body        []byte
}

type hookState struct {
	urls       map[string]string         // hook → URL deliveries are POSTed to
	deliveries map[string][]HookDelivery // hook → deliveries, oldest first
	nextID     int64
	client     *http.Client
}

func newHookState() hookState {
	return hookState{urls: map[string]string{}, deliveries: map[string][]HookDelivery{}, nextID: 1000,
		client: &http.Client{Timeout: 60 * time.Second}}
}

func (s *Server) hookRoutes(mux *http.ServeMux) {
	repo := func(r *http.Request) string {
		return r.PathValue("owner") + "/" + r.PathValue("repo") + "/" + r.PathValue("id")
	}
	org := func(r *http.Request) string { return "org/" + r.PathValue("org") + "/" + r.PathValue("id") }
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/hooks/{id}/deliveries", func(w http.ResponseWriter, r *http.Request) {
		s.listDeliveries(w, r, repo(r))
	})
	mux.HandleFunc("GET /api/v3/orgs/{org}/hooks/{id}/deliveries", func(w http.ResponseWriter, r *http.Request) {
		s.listDeliveries(w, r, org(r))
	})
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/hooks/{id}/deliveries/{delivery}/attempts", func(w http.ResponseWriter, r *http.Request) {
		s.redeliver(w, r, repo(r))
	})
	mux.HandleFunc("POST /api/v3/orgs/{org}/hooks/{id}/deliveries/{delivery}/attempts", func(w http.ResponseWriter, r *http.Request) {
		s.redeliver(w, r, org(r))
	})
}

// SetHook makes hook deliver to url (a hook must be set before Deliver; changing the URL is how a test
// points GitHub at a listener that came up on another port).
func (s *Server) SetHook(hook, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.urls[hook] = url
}

// Deliver POSTs body with header to hook's URL and records the outcome as a new delivery; the GUID is
// header's X-GitHub-Delivery.
func (s *Server) Deliver(hook string, header http.Header, body []byte) HookDelivery {
	return s.attempt(hook, HookDelivery{GUID: header.Get("X-GitHub-Delivery"), Event: header.Get("X-GitHub-Event"),
		Header: header.Clone(), Body: bytes.Clone(body)})
}

// Deliveries returns hook's deliveries, oldest first.
func (s *Server) Deliveries(hook string) []HookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]HookDelivery(nil), s.hooks.deliveries[hook]...)
}

func (s *Server) attempt(hook string, d HookDelivery) HookDelivery {
	s.mu.Lock()
	target, ok := s.hooks.urls[hook]
	s.hooks.nextID++
	d.ID = s.hooks.nextID
	client := s.hooks.client
	s.mu.Unlock()
	d.DeliveredAt = time.Now().UTC()
	switch {
	case !ok:
		d.Status = "hook has no URL"
	default:
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(d.Body))
		if err != nil {
			d.Status = err.Error()
			break
		}
		req.Header = d.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			d.Status = "failed to connect to host"
			break
		}
		resp.Body.Close()
		d.StatusCode = resp.StatusCode
		d.Status = "OK"
		if resp.StatusCode >= 400 {
			d.Status = fmt.Sprintf("Invalid HTTP Response: %d", resp.StatusCode)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.deliveries[hook] = append(s.hooks.deliveries[hook], d)
	return d
}

// hookRequest records a GitHub deliveries request and applies the fault and the token check; it reports
// whether the handler should go on.
func (s *Server) hookRequest(w http.ResponseWriter, r *http.Request, hook string) bool {
	s.mu.Lock()
	_, known := s.hooks.urls[hook]
	s.mu.Unlock()
	return s.gate(w, r, "github", hook, s.githubAuthorized(r), known)
}

// gate records a webhook-log request (deliveries, events) and applies the fault, the token check and
// the hook's existence, answering as provider does; it reports whether the handler should go on.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, provider, hook string, authorized, known bool) bool {
	s.mu.Lock()
	f := s.fault
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Provider: provider, Method: r.Method, Hook: hook, At: time.Now()})
	s.mu.Unlock()
	code := 0
	defer func() {
		s.mu.Lock()
		s.requests[idx].Code = code
		s.mu.Unlock()
	}()
	unauthorized, notFound := "Bad credentials", "Not Found"
	if provider == "gitlab" {
		unauthorized, notFound = "401 Unauthorized", "404 Not found"
	}
	switch {
	case f != nil && len(f.States) == 0 && f.Drop:
		drop(w)
		return false
	case f != nil && len(f.States) == 0 && f.Code != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code = f.Code
		writeJSON(w, f.Code, errorBody{Message: http.StatusText(f.Code)})
		return false
	case !authorized:
		code = http.StatusUnauthorized
		writeJSON(w, code, errorBody{Message: unauthorized})
		return false
	case !known:
		code = http.StatusNotFound
		writeJSON(w, code, errorBody{Message: notFound})
		return false
	}
	code = http.StatusOK
	return true
}

type deliveryJSON struct {
	ID          int64   `json:"id"`
	GUID        string  `json:"guid"`
	DeliveredAt string  `json:"delivered_at"`
	Redelivery  bool    `json:"redelivery"`
	Duration    float64 `json:"duration"`
	Status      string  `json:"status"`
	StatusCode  int     `json:"status_code"`
	Event       string  `json:"event"`
}

func toJSON(d HookDelivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, GUID: d.GUID, DeliveredAt: d.DeliveredAt.Format(time.RFC3339), Redelivery: d.Redelivery,
		Status: d.Status, StatusCode: d.StatusCode, Event: d.Event}
}

// listDeliveries answers newest first; the cursor is the id to continue below.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, hook string) {
	if !s.hookRequest(w, r, hook) {
		return
	}
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 || perPage > 100 {
		perPage = 30
	}
	below := int64(-1)
	if c := r.URL.Query().Get("cursor"); c != "" {
		v, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Message: "bad cursor"})
			return
		}
		below = v
	}
	all := s.Deliveries(hook)
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	out := []deliveryJSON{}
	var next int64 = -1
	for _, d := range all {
		if below >= 0 && d.ID >= below {
			continue
		}
		if len(out) == perPage {
			next = d.ID + 1 // the page after starts at d
			break
		}
		out = append(out, toJSON(d))
	}
	if next >= 0 {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		q := url.Values{"per_page": {strconv.Itoa(perPage)}, "cursor": {strconv.FormatInt(next, 10)}}
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
	}
	writeJSON(w, http.StatusOK, out)
}

// redeliver POSTs the recorded delivery again (synchronously, so a test sees its outcome at once) and
// answers 202 as GitHub does.
func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, hook string) {
	if !s.hookRequest(w, r, hook) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Not Found"})
		return
	}
	var orig *HookDelivery
	for _, d := range s.Deliveries(hook) {
		if d.ID == id {
			orig = &d
			break
		}
	}
	if orig == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Not Found"})
		return
	}
	d := s.attempt(hook, HookDelivery{GUID: orig.GUID, Event: orig.Event, Redelivery: true, Header: orig.Header, Body: orig.Body})
	writeJSON(w, http.StatusAccepted, toJSON(d))
}
