package interceptors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v60/github"
	"sigs.k8s.io/yaml"
)

// okToTest is the comment that lets an owner approve a pull request's runs (Tekton's /ok-to-test: alone
// on a line).
var okToTest = regexp.MustCompile(`(^|\n)/ok-to-test(\r\n|\r|\n|$)`)

// maxMemberPages bounds the pages of organization members or collaborators read for one check.
const maxMemberPages = 10

// Owner check types (githubOwners.checkType), as Tekton spells them.
const (
	checkOrgMembers  = "orgMembers"
	checkRepoMembers = "repoMembers"
	checkAll         = "all"
	checkNone        = "none"
)

// ownersCheck is the github interceptor's githubOwners param: on pull_request and issue_comment events,
// the sender must be an owner (an org member, a repository collaborator, or listed in the repository's
// OWNERS file) or an owner must have commented /ok-to-test, else the trigger is skipped.
type ownersCheck struct {
	checkType string
	token     *secretRef
}

func parseOwners(own githubOwners, secrets SecretGetter) (*ownersCheck, error) {
	switch own.CheckType {
	case "", checkOrgMembers, checkRepoMembers, checkAll, checkNone:
	default:
		return nil, fmt.Errorf("checkType %q is not %s, %s, %s or %s", own.CheckType, checkOrgMembers, checkRepoMembers, checkAll, checkNone)
	}
	oc := &ownersCheck{checkType: own.CheckType}
	if t := own.PersonalAccessToken; t != nil {
		if t.SecretName == "" || t.SecretKey == "" {
			return nil, errors.New("personalAccessToken needs secretName and secretKey")
		}
		if secrets == nil {
			return nil, errors.New("no SecretGetter configured")
		}
		oc.token = t
	}
	return oc, nil
}

// ownersPayload is what the owners check reads from a pull_request or issue_comment payload.
type ownersPayload struct {
	pr      pullRequestRef
	sender  string
	comment string
}

func ownersPayloadOf(event string, body any) (ownersPayload, error) {
	root, _ := body.(map[string]any)
	var p ownersPayload
	if event == "issue_comment" {
		issue, _ := root["issue"].(map[string]any)
		comment, _ := root["comment"].(map[string]any)
		if issue == nil || comment == nil {
			return p, errors.New("issue_comment body missing 'issue' or 'comment' section")
		}
		p.comment = str(comment["body"])
		root = map[string]any{"number": issue["number"], "repository": root["repository"], "sender": root["sender"]}
	}
	pr, err := pullRequestOf(root)
	if err != nil {
		return p, err
	}
	p.pr = pr
	sender, _ := root["sender"].(map[string]any)
	if p.sender = str(sender["login"]); p.sender == "" {
		return p, errors.New("payload body missing 'sender.login' field")
	}
	return p, nil
}

// checkOwners runs the githubOwners check on a pull_request or issue_comment delivery.
func (g *githubInterceptor) checkOwners(ctx context.Context, req *Request, event string) Response {
	body, err := decodedBody(req)
	if err != nil {
		return fail(InvalidArgument, "%v", err)
	}
	p, err := ownersPayloadOf(event, body)
	if err != nil {
		return fail(InvalidArgument, "githubOwners: %v", err)
	}
	var token string
	if g.owners.token != nil {
		v, r := readSecret(ctx, g.secrets, req.Namespace, g.owners.token)
		if r != nil {
			return *r
		}
		token = string(v)
	}
	if token == "" && g.owners.checkType != checkNone {
		return fail(Skip, "githubOwners: checkType is set to check org or repo members but no personalAccessToken was supplied")
	}
	client, err := g.githubAPI(req, p.pr, token)
	if err != nil {
		return fail(InvalidArgument, "githubOwners: %v", err)
	}
	owner, err := g.isOwner(ctx, client, p)
	if err != nil {
		return fail(Internal, "githubOwners: checking %s on %s/%s: %s", p.sender, p.pr.owner, p.pr.repo, redactToken(err.Error(), token))
	}
	switch {
	case owner && event == "pull_request":
		return proceed(nil)
	case owner && okToTest.MatchString(p.comment):
		return proceed(nil)
	}
	return fail(Skip, "githubOwners: owners check requirements not met (%s is not an owner of %s/%s, or no /ok-to-test from one)", p.sender, p.pr.owner, p.pr.repo)
}

// isOwner reports whether the sender is an org member or collaborator (as checkType asks) or is listed
// in the repository's OWNERS file (approvers or reviewers).
func (g *githubInterceptor) isOwner(ctx context.Context, client *gh.Client, p ownersPayload) (bool, error) {
	ct := g.owners.checkType
	if ct == checkOrgMembers || ct == checkAll {
		ok, err := listContains(p.sender, func(page int) ([]*gh.User, *gh.Response, error) {
			return client.Organizations.ListMembers(ctx, p.pr.owner, &gh.ListMembersOptions{PublicOnly: true, ListOptions: gh.ListOptions{Page: page, PerPage: 100}})
		})
		if err != nil || ok {
			return ok, err
		}
	}
	if ct == checkRepoMembers || ct == checkAll {
		ok, err := listContains(p.sender, func(page int) ([]*gh.User, *gh.Response, error) {
			return client.Repositories.ListCollaborators(ctx, p.pr.owner, p.pr.repo, &gh.ListCollaboratorsOptions{ListOptions: gh.ListOptions{Page: page, PerPage: 100}})
		})
		if err != nil || ok {
			return ok, err
		}
	}
	file, _, resp, err := client.Repositories.GetContents(ctx, p.pr.owner, p.pr.repo, "OWNERS", nil)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if file == nil {
		return false, errors.New("OWNERS is a directory")
	}
	text, err := file.GetContent()
	if err != nil {
		return false, fmt.Errorf("OWNERS: %w", err)
	}
	var owners struct {
		Approvers []string `json:"approvers"`
		Reviewers []string `json:"reviewers"`
	}
	if err := yaml.Unmarshal([]byte(text), &owners); err != nil {
		return false, fmt.Errorf("OWNERS: %w", err)
	}
	for _, o := range append(owners.Approvers, owners.Reviewers...) {
		if strings.EqualFold(o, p.sender) {
			return true, nil
		}
	}
	return false, nil
}

// listContains pages through a user list (at most maxMemberPages) looking for login; a 404 (no such org,
// or members hidden) is "not listed".
func listContains(login string, list func(page int) ([]*gh.User, *gh.Response, error)) (bool, error) {
	page := 1
	for i := 0; i < maxMemberPages; i++ {
		users, resp, err := list(page)
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, u := range users {
			if u.GetLogin() == login {
				return true, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return false, nil
		}
		page = resp.NextPage
	}
	return false, nil
}
