package listener

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Outgoing is one webhook delivery to send, signed the way its provider signs it.
type Outgoing struct {
	Provider string // github, gitlab or bitbucket
	Event    string // github: push, pull_request…; gitlab: push, merge_request… or the header value; bitbucket: repo:push…
	Secret   string // HMAC secret (github, bitbucket) or token (gitlab); empty = unsigned
	ID       string // delivery id; empty = a fresh one
	Body     []byte
}

// gitlabEvent maps short names to X-Gitlab-Event values; anything else is sent as given.
func gitlabEvent(short string) string {
	switch strings.ToLower(short) {
	case "push":
		return "Push Hook"
	case "tag_push", "tag-push":
		return "Tag Push Hook"
	case "merge_request", "merge-request", "mr":
		return "Merge Request Hook"
	case "note":
		return "Note Hook"
	case "pipeline":
		return "Pipeline Hook"
	case "issue":
		return "Issue Hook"
	case "release":
		return "Release Hook"
	}
	return short
}

// NewUUID returns a random RFC 4122 version-4 UUID, the shape providers use for delivery ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Request builds the signed POST of o to url.
func (o Outgoing) Request(ctx context.Context, url string) (*http.Request, error) {
	if o.ID == "" {
		o.ID = NewUUID()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(o.Body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "hookrun-send")
	mac := func() string {
		m := hmac.New(sha256.New, []byte(o.Secret))
		m.Write(o.Body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	switch strings.ToLower(o.Provider) {
	case "github":
		h.Set(HeaderGitHubEvent, o.Event)
		h.Set(HeaderGitHubDelivery, o.ID)
		if o.Secret != "" {
			h.Set("X-Hub-Signature-256", mac())
		}
	case "gitlab":
		h.Set(HeaderGitLabEvent, gitlabEvent(o.Event))
		h.Set(HeaderIdempotencyKey, o.ID)
		h.Set(HeaderGitLabEventUUID, o.ID)
		if o.Secret != "" {
			h.Set("X-Gitlab-Token", o.Secret)
		}
	case "bitbucket":
		h.Set(HeaderBitbucketEvent, o.Event)
		h.Set(HeaderBitbucketReq, o.ID)
		if o.Secret != "" {
			h.Set("X-Hub-Signature", mac())
		}
	default:
		return nil, fmt.Errorf("provider %q: want github, gitlab or bitbucket", o.Provider)
	}
	return req, nil
}
