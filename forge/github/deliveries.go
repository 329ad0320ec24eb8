package github

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/hookrun/hookrun/forge"
)

// Hook kinds a delivery log belongs to.
const (
	HookRepo = "repo" // a repository webhook: /repos/OWNER/REPO/hooks/ID/deliveries
	HookOrg  = "org"  // an organization webhook: /orgs/ORG/hooks/ID/deliveries
)

// Hook names one webhook whose deliveries GitHub keeps (for three days).
type Hook struct {
	Kind  string // HookRepo or HookOrg
	Owner string // the repository's owner, or the organization
	Repo  string // empty for HookOrg
	ID    int64
}

// String is the hook as ParseHook reads it: OWNER/REPO/ID or org/ORG/ID.
func (h Hook) String() string {
	if h.Kind == HookOrg {
		return "org/" + h.Owner + "/" + strconv.FormatInt(h.ID, 10)
	}
	s := h.Owner + "/" + h.Repo + "/" + strconv.FormatInt(h.ID, 10)
	if h.Owner == "org" || h.Owner == "repo" {
		s = "repo/" + s
	}
	return s
}

// ParseHook reads "OWNER/REPO/HOOK_ID" (a repository webhook) or "org/ORG/HOOK_ID" (an organization
// webhook). A repository whose owner is literally "org" (or "repo") is written with a leading "repo/":
// "repo/org/REPO/HOOK_ID".
func ParseHook(s string) (Hook, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	bad := func(why string) (Hook, error) {
		return Hook{}, fmt.Errorf("github hook %q: %s (want OWNER/REPO/HOOK_ID or org/ORG/HOOK_ID)", s, why)
	}
	var h Hook
	switch {
	case len(parts) == 3 && parts[0] == "org":
		h = Hook{Kind: HookOrg, Owner: parts[1]}
	case len(parts) == 3:
		h = Hook{Kind: HookRepo, Owner: parts[0], Repo: parts[1]}
	case len(parts) == 4 && parts[0] == "repo":
		h, parts = Hook{Kind: HookRepo, Owner: parts[1], Repo: parts[2]}, parts[1:]
	default:
		return bad("wrong number of parts")
	}
	if h.Owner == "" || (h.Kind == HookRepo && h.Repo == "") {
		return bad("empty owner or repository")
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 {
		return bad("the hook id is not a positive number")
	}
	h.ID = id
	return h, nil
}

// Delivery is one attempt GitHub made to deliver an event to a hook (a redelivery is a new attempt with
// the same GUID).
type Delivery struct {
	ID          int64
	GUID        string
	DeliveredAt time.Time
	Redelivery  bool
	Status      string // "OK", or why it failed
	StatusCode  int    // the hook's answer; 0: no answer
	Event       string
	Action      string
}

// Failed reports whether the attempt did not get a 2xx/3xx answer.
func (d Delivery) Failed() bool {
	return d.StatusCode == 0 || d.StatusCode >= 400 || !strings.EqualFold(d.Status, "OK")
}

// ListPage is one page of a hook's deliveries, newest first; Next is the cursor of the next (older) page,
// empty on the last.
type ListPage struct {
	Deliveries []Delivery
	Next       string
}

// ListDeliveries returns one page (up to perPage, at most 100) of hook's deliveries, newest first,
// starting at cursor ("" for the newest).
func (c *Client) ListDeliveries(ctx context.Context, hook Hook, cursor string, perPage int) (ListPage, error) {
	if perPage <= 0 || perPage > 100 {
		perPage = 100
	}
	opts := &gh.ListCursorOptions{Cursor: cursor, PerPage: perPage}
	var (
		list []*gh.HookDelivery
		resp *gh.Response
		err  error
	)
	switch hook.Kind {
	case HookOrg:
		list, resp, err = c.gh.Organizations.ListHookDeliveries(ctx, hook.Owner, hook.ID, opts)
	default:
		list, resp, err = c.gh.Repositories.ListHookDeliveries(ctx, hook.Owner, hook.Repo, hook.ID, opts)
	}
	if err := c.wrap(resp, err); err != nil {
		return ListPage{}, fmt.Errorf("list deliveries of hook %s: %w", hook, err)
	}
	page := ListPage{Deliveries: make([]Delivery, 0, len(list))}
	if resp != nil {
		page.Next = resp.Cursor
	}
	for _, d := range list {
		page.Deliveries = append(page.Deliveries, Delivery{
			ID: d.GetID(), GUID: d.GetGUID(), DeliveredAt: d.GetDeliveredAt().Time, Redelivery: d.GetRedelivery(),
			Status: d.GetStatus(), StatusCode: d.GetStatusCode(), Event: d.GetEvent(), Action: d.GetAction(),
		})
	}
	return page, nil
}

// Redeliver asks GitHub to deliver delivery id of hook again (POST …/deliveries/ID/attempts). GitHub
// accepts (202) and delivers later, as a new delivery with the same GUID.
func (c *Client) Redeliver(ctx context.Context, hook Hook, id int64) error {
	var (
		resp *gh.Response
		err  error
	)
	switch hook.Kind {
	case HookOrg:
		_, resp, err = c.gh.Organizations.RedeliverHookDelivery(ctx, hook.Owner, hook.ID, id)
	default:
		_, resp, err = c.gh.Repositories.RedeliverHookDelivery(ctx, hook.Owner, hook.Repo, hook.ID, id)
	}
	var accepted *gh.AcceptedError
	if errors.As(err, &accepted) {
		err = nil
	}
	if err := c.wrap(resp, err); err != nil {
		return fmt.Errorf("redeliver delivery %d of hook %s: %w", id, hook, err)
	}
	return nil
}

// ErrAppHook is returned for a GitHub App's webhook: its deliveries API (/app/hook/deliveries)
// authenticates with a JWT signed by the App's private key, which hookrun does not hold.
var ErrAppHook = errors.New("a GitHub App's webhook deliveries need a JWT signed with the App's private key, " +
	"which hookrun does not support: configure a repository or organization webhook (OWNER/REPO/HOOK_ID, org/ORG/HOOK_ID) instead")

// compile-time: Client stays a forge.Client.
var _ forge.Client = (*Client)(nil)
