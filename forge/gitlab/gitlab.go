// Package gitlab sets commit statuses on GitLab (gitlab.com or self-managed) with the documented
// commit-status API over net/http: POST /projects/:id/statuses/:sha and
// GET /projects/:id/repository/commits/:sha/statuses. (gitlab.com/gitlab-org/api/client-go is on the module
// proxy, but two endpoints do not justify its size and dependencies.)
package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookrun/hookrun/forge"
)

// DefaultAPI is gitlab.com.
const DefaultAPI = "https://gitlab.com"

// Client is a forge.Client for one token.
type Client struct {
	base  *url.URL // …/api/v4/
	token string
	hc    *http.Client
	now   func() time.Time
}

// New returns a client for api (DefaultAPI when empty; "/api/v4/" is added unless the URL already ends
// with it) sending token as PRIVATE-TOKEN (personal, project or group access token with api scope).
func New(api, token string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if api == "" {
		api = DefaultAPI
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: API URL %q is not an http(s) URL", api)
	}
	p := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(p, "/api/v4") {
		p += "/api/v4"
	}
	u.Path, u.RawPath = p+"/", ""
	return &Client{base: u, token: token, hc: hc, now: time.Now}, nil
}

// endpoint joins the base URL and path segments, escaping each (a project path's "/" becomes %2F).
func (c *Client) endpoint(query url.Values, segments ...string) string {
	esc := make([]string, len(segments))
	for i, s := range segments {
		esc[i] = url.PathEscape(s)
	}
	s := c.base.String() + strings.Join(esc, "/")
	if len(query) > 0 {
		s += "?" + query.Encode()
	}
	return s
}

type statusBody struct {
	State       string `json:"state"`
	Ref         string `json:"ref,omitempty"`
	Name        string `json:"name"`
	TargetURL   string `json:"target_url,omitempty"`
	Description string `json:"description"`
}

// Post sets st on its commit.
func (c *Client) Post(ctx context.Context, st forge.Status) error {
	body, err := json.Marshal(statusBody{
		State: forge.ProviderState(forge.GitLab, st.State), Ref: st.Ref, Name: st.Context, TargetURL: st.TargetURL,
		Description: forge.Truncate(st.Description, forge.MaxDescription),
	})
	if err != nil {
		return fmt.Errorf("gitlab: %w", err)
	}
	_, err = c.do(ctx, http.MethodPost, c.endpoint(nil, "projects", st.Repo, "statuses", st.SHA), body)
	var fe *forge.Error
	if asForgeError(err, &fe) && fe.StatusCode == http.StatusBadRequest && strings.Contains(fe.Message, "Cannot transition status") {
		// The commit's status of this name is already in that state (GitLab refuses a transition to itself).
		return nil
	}
	return err
}

type commitStatus struct {
	Status      string `json:"status"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Find looks for st among the commit's statuses of its name (and ref).
func (c *Client) Find(ctx context.Context, st forge.Status) (bool, error) {
	q := url.Values{"name": {st.Context}, "all": {"true"}, "per_page": {"100"}}
	if st.Ref != "" {
		q.Set("ref", st.Ref)
	}
	data, err := c.do(ctx, http.MethodGet, c.endpoint(q, "projects", st.Repo, "repository", "commits", st.SHA, "statuses"), nil)
	if err != nil {
		return false, err
	}
	var list []commitStatus
	if err := json.Unmarshal(data, &list); err != nil {
		return false, &forge.Error{Provider: forge.GitLab, StatusCode: http.StatusOK, Message: "statuses: " + err.Error(), Err: err}
	}
	want := forge.ProviderState(forge.GitLab, st.State)
	desc := forge.Truncate(st.Description, forge.MaxDescription)
	for _, s := range list {
		if s.Name == st.Context && s.Status == want && s.Description == desc {
			return true, nil
		}
	}
	return false, nil
}

func (c *Client) do(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	data, _, err := c.doHeader(ctx, method, u, body, 4<<20)
	return data, err
}

// doHeader is do that also returns the answer's headers (pagination) and reads at most limit bytes of
// the answer (more is an error, not a truncated answer).
func (c *Client) doHeader(ctx context.Context, method, u string, body []byte, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("gitlab: %w", err)
	}
	req.Header.Set("PRIVATE-TOKEN", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, forge.Unreachable(forge.GitLab, redact(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, forge.Unreachable(forge.GitLab, redact(err))
	}
	if int64(len(data)) > limit {
		return nil, resp.Header, &forge.Error{Provider: forge.GitLab, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("answer larger than %d bytes", limit), Permanent: true}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp.Header, nil
	}
	return nil, resp.Header, forge.Classify(forge.GitLab, resp, message(data), c.now())
}

// message extracts GitLab's error text: {"message": "…"}, {"message": {"field": ["…"]}} or {"error": "…"}.
func message(data []byte) string {
	var m struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil {
		return strings.TrimSpace(string(data))
	}
	var s string
	if json.Unmarshal(m.Message, &s) == nil && s != "" {
		return s
	}
	if len(m.Message) > 0 && string(m.Message) != "null" {
		return string(m.Message)
	}
	return m.Error
}

func asForgeError(err error, target **forge.Error) bool {
	fe, ok := err.(*forge.Error)
	if ok {
		*target = fe
	}
	return ok
}

// redact drops userinfo and query from a transport error's URL.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User, u.RawQuery = nil, ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
