// Package bitbucket reads what run control needs from Bitbucket Cloud's REST API 2.0 over net/http: the
// files a pull request changes (GET /repositories/WORKSPACE/REPO/pullrequests/ID/diffstat, paginated by
// its "next" links). hookrun reports no build statuses to Bitbucket.
package bitbucket

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookrun/hookrun/forge"
)

// Provider is the provider name run control uses for Bitbucket.
const Provider = "bitbucket"

// DefaultAPI is Bitbucket Cloud's API.
const DefaultAPI = "https://api.bitbucket.org/2.0/"

// maxPages bounds a diffstat walk (500 entries a page: 15,000 files).
const maxPages = 30

// Client calls one Bitbucket Cloud API with one token (empty: anonymous, public repositories only).
type Client struct {
	base  *url.URL // …/2.0/
	token string
	hc    *http.Client
	now   func() time.Time
}

// New returns a client for api (DefaultAPI when empty) sending token as a Bearer token (a repository,
// project or workspace access token).
func New(api, token string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if api == "" {
		api = DefaultAPI
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bitbucket: API URL %q is not an http(s) URL", api)
	}
	u.Path, u.RawPath, u.RawQuery = strings.TrimSuffix(u.Path, "/")+"/", "", ""
	return &Client{base: u, token: token, hc: hc, now: time.Now}, nil
}

type diffstatPage struct {
	Values []struct {
		Old *struct {
			Path string `json:"path"`
		} `json:"old"`
		New *struct {
			Path string `json:"path"`
		} `json:"new"`
	} `json:"values"`
	Next string `json:"next"`
}

// ChangedFiles lists the paths pull request number of repo (WORKSPACE/REPO) changes: new paths, and the
// old path of a renamed or removed file.
func (c *Client) ChangedFiles(ctx context.Context, repo string, number int) ([]string, error) {
	ws, slug, ok := strings.Cut(repo, "/")
	if !ok || ws == "" || slug == "" || strings.Contains(slug, "/") {
		return nil, &forge.Error{Provider: Provider, Permanent: true, Message: fmt.Sprintf("repository %q is not WORKSPACE/REPO", repo)}
	}
	next := c.base.JoinPath("repositories", ws, slug, "pullrequests", strconv.Itoa(number), "diffstat").String() + "?pagelen=500"
	var out []string
	for page := 0; next != "" && page < maxPages; page++ {
		var p diffstatPage
		if err := c.get(ctx, next, &p); err != nil {
			return nil, fmt.Errorf("files of pull request %d: %w", number, err)
		}
		for _, v := range p.Values {
			if v.New != nil && v.New.Path != "" {
				out = append(out, v.New.Path)
			}
			if v.Old != nil && v.Old.Path != "" && (v.New == nil || v.New.Path != v.Old.Path) {
				out = append(out, v.Old.Path)
			}
		}
		next = p.Next
	}
	return out, nil
}

func (c *Client) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bitbucket: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return forge.Unreachable(Provider, redact(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return forge.Unreachable(Provider, redact(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fe := forge.Classify(Provider, resp, message(data), c.now())
		if resp.StatusCode == http.StatusNotFound {
			fe.Err = forge.ErrNotFound
		}
		return fe
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &forge.Error{Provider: Provider, StatusCode: resp.StatusCode, Message: "diffstat: " + err.Error(), Err: err}
	}
	return nil
}

// message is Bitbucket's error text: {"error": {"message": "…"}}.
func message(data []byte) string {
	var m struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &m) == nil && m.Error.Message != "" {
		return m.Error.Message
	}
	return strings.TrimSpace(string(data))
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
