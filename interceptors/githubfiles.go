package interceptors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// enterpriseHostHeader names the GitHub Enterprise Server host a delivery came from.
const enterpriseHostHeader = "X-Github-Enterprise-Host"

// maxChangedFilesPages bounds the pages of a pull request's file list read (GitHub lists at most 3,000
// files, 30 pages of 100).
const maxChangedFilesPages = 30

// pullRequestRef is what listing a pull request's files needs from its payload.
type pullRequestRef struct {
	owner, repo string
	number      int
	// htmlHost is the host of repository.html_url: the signed payload's word for where the repository
	// lives, against which an X-Github-Enterprise-Host header (not covered by the signature) is checked.
	htmlHost string
}

// pullRequestOf reads the pull request number and repository of a pull_request payload, as Tekton does
// (number, repository.full_name).
func pullRequestOf(body any) (pullRequestRef, error) {
	root, _ := body.(map[string]any)
	n, ok := root["number"].(float64)
	if !ok || n < 1 || n != float64(int(n)) {
		return pullRequestRef{}, errors.New("pull_request body missing 'number' field")
	}
	repo, _ := root["repository"].(map[string]any)
	full, _ := repo["full_name"].(string)
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return pullRequestRef{}, errors.New("payload body missing 'repository.full_name' field (OWNER/REPO)")
	}
	ref := pullRequestRef{owner: owner, repo: name, number: int(n)}
	if u, err := url.Parse(str(repo["html_url"])); err == nil {
		ref.htmlHost = u.Host
	}
	return ref, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// githubAPI returns the GitHub API client for a delivery: Options.GitHubAPIURL when set, else GitHub
// Enterprise Server's API when the delivery names its host (X-Github-Enterprise-Host, honoured only when
// the signed payload's repository lives on that host: the header is not signed and the token must not
// follow a forged one), else api.github.com.
func (g *githubInterceptor) githubAPI(req *Request, pr pullRequestRef, token string) (*gh.Client, error) {
	c := gh.NewClient(&http.Client{Timeout: g.opts.timeout(), CheckRedirect: NoRedirects})
	if token != "" {
		c = c.WithAuthToken(token)
	}
	base := g.opts.GitHubAPIURL
	if host := req.Header.Get(enterpriseHostHeader); base == "" && host != "" {
		if !strings.EqualFold(host, pr.htmlHost) {
			return nil, fmt.Errorf("%s %q is not the host of the payload's repository.html_url (%q)", enterpriseHostHeader, host, pr.htmlHost)
		}
		base = "https://" + host
	}
	if base == "" {
		return c, nil
	}
	return c.WithEnterpriseURLs(base, base)
}

// pullRequestFiles lists the files a pull request changes, through the GitHub API with the
// personalAccessToken when one is set (Tekton's addChangedFiles for pull_request events).
func (g *githubInterceptor) pullRequestFiles(ctx context.Context, req *Request) Response {
	body, err := decodedBody(req)
	if err != nil {
		return fail(InvalidArgument, "%v", err)
	}
	pr, err := pullRequestOf(body)
	if err != nil {
		return fail(InvalidArgument, "addChangedFiles: %v", err)
	}
	var token string
	if g.token != nil {
		v, r := readSecret(ctx, g.secrets, req.Namespace, g.token)
		if r != nil {
			return *r
		}
		token = string(v)
	}
	client, err := g.githubAPI(req, pr, token)
	if err != nil {
		return fail(InvalidArgument, "addChangedFiles: %v", err)
	}
	var names []string
	opt := &gh.ListOptions{PerPage: 100}
	for page := 0; page < maxChangedFilesPages; page++ {
		files, resp, err := client.PullRequests.ListFiles(ctx, pr.owner, pr.repo, pr.number, opt)
		if err != nil {
			return fail(Internal, "addChangedFiles: listing the files of %s/%s#%d: %s", pr.owner, pr.repo, pr.number, redactToken(err.Error(), token))
		}
		for _, f := range files {
			names = append(names, f.GetFilename())
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return proceed(map[string]any{changedFilesKey: strings.Join(names, ",")})
}

// redactToken keeps a token out of a message.
func redactToken(msg, token string) string {
	if token == "" {
		return msg
	}
	return strings.ReplaceAll(msg, token, "[redacted]")
}
