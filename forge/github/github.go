// Package github sets commit statuses on GitHub and GitHub Enterprise through go-github.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/hookrun/hookrun/forge"
)

// DefaultAPI is github.com's API.
const DefaultAPI = "https://api.github.com/"

// Client is a forge.Client for one token.
type Client struct {
	gh  *gh.Client
	now func() time.Time
}

// New returns a client for api (DefaultAPI when empty; a GitHub Enterprise host without a path gets
// /api/v3/) authenticating with token. hc carries timeouts and transport (nil: http.DefaultClient).
func New(api, token string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	// WithAuthToken wraps the transport; copy so the caller's client is not changed.
	c := gh.NewClient(&http.Client{Transport: hc.Transport, Timeout: hc.Timeout}).WithAuthToken(token)
	base, err := BaseURL(api)
	if err != nil {
		return nil, err
	}
	c.BaseURL = base
	return &Client{gh: c, now: time.Now}, nil
}

// BaseURL is the API base URL for api: DefaultAPI when empty, "https://HOST" becomes
// "https://HOST/api/v3/" (GitHub Enterprise Server), and a trailing slash is added.
func BaseURL(api string) (*url.URL, error) {
	if api == "" {
		api = DefaultAPI
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("github: API URL %q is not an http(s) URL", api)
	}
	if (u.Path == "" || u.Path == "/") && u.Host != "api.github.com" {
		u.Path = "/api/v3/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", &forge.Error{Provider: forge.GitHub, Permanent: true,
			Message: fmt.Sprintf("repository %q is not OWNER/REPO", repo)}
	}
	return owner, name, nil
}

// Post sets st on its commit (POST /repos/OWNER/REPO/statuses/SHA).
func (c *Client) Post(ctx context.Context, st forge.Status) error {
	owner, repo, err := splitRepo(st.Repo)
	if err != nil {
		return err
	}
	rs := &gh.RepoStatus{
		State:       gh.String(forge.ProviderState(forge.GitHub, st.State)),
		Context:     gh.String(st.Context),
		Description: gh.String(forge.Truncate(st.Description, forge.MaxDescription)),
	}
	if st.TargetURL != "" {
		rs.TargetURL = gh.String(st.TargetURL)
	}
	_, resp, err := c.gh.Repositories.CreateStatus(ctx, owner, repo, st.SHA, rs)
	return c.wrap(resp, err)
}

// Find looks for st among the commit's newest 100 statuses (GET /repos/OWNER/REPO/commits/SHA/statuses).
func (c *Client) Find(ctx context.Context, st forge.Status) (bool, error) {
	owner, repo, err := splitRepo(st.Repo)
	if err != nil {
		return false, err
	}
	list, resp, err := c.gh.Repositories.ListStatuses(ctx, owner, repo, st.SHA, &gh.ListOptions{PerPage: 100})
	if err := c.wrap(resp, err); err != nil {
		return false, err
	}
	want := forge.ProviderState(forge.GitHub, st.State)
	desc := forge.Truncate(st.Description, forge.MaxDescription)
	for _, s := range list {
		if s.GetContext() == st.Context && s.GetState() == want && s.GetDescription() == desc {
			return true, nil
		}
	}
	return false, nil
}

// wrap turns go-github's answer into a *forge.Error (nil on success).
func (c *Client) wrap(resp *gh.Response, err error) error {
	if err == nil {
		return nil
	}
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	var msg string
	var er *gh.ErrorResponse
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &er):
		msg, hr = er.Message, er.Response
	case errors.As(err, &rl):
		msg, hr = rl.Message, rl.Response
		if hr == nil || hr.StatusCode == 0 {
			// go-github refused locally: the rate limit it last saw has not reset.
			return &forge.Error{Provider: forge.GitHub, Message: rl.Message, RetryAfter: time.Until(rl.Rate.Reset.Time), Err: err}
		}
	case errors.As(err, &ab):
		msg, hr = ab.Message, ab.Response
		if ab.RetryAfter != nil && hr != nil {
			e := forge.Classify(forge.GitHub, hr, msg, c.now())
			e.RetryAfter, e.Permanent, e.Err = *ab.RetryAfter, false, err
			return e
		}
	}
	if hr == nil || hr.StatusCode < 300 {
		return forge.Unreachable(forge.GitHub, redact(err))
	}
	e := forge.Classify(forge.GitHub, hr, msg, c.now())
	e.Err = err
	return e
}

// redact drops the request URL's query (go-github's errors carry the URL; tokens never are in it, but a
// user's API URL might hold credentials in userinfo).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.User, u.RawQuery = nil, ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
