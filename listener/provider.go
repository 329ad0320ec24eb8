package listener

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// Header names the listener reads to name a delivery.
const (
	HeaderGitHubEvent     = "X-GitHub-Event"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
	HeaderGitLabEvent     = "X-Gitlab-Event"
	HeaderGitLabEventUUID = "X-Gitlab-Event-UUID"
	HeaderIdempotencyKey  = "Idempotency-Key"
	HeaderWebhookID       = "Webhook-Id" // Standard Webhooks (GitLab signing tokens)
	HeaderBitbucketEvent  = "X-Event-Key"
	HeaderBitbucketReq    = "X-Request-UUID"
)

// delivery is what the listener knows about one POST before any trigger runs.
type delivery struct {
	Provider string // github, gitlab, bitbucket or generic
	Event    string // provider event type, e.g. push, "Merge Request Hook", repo:push
	// ID is the sender's delivery id; stable across redeliveries. Empty when the sender gave none.
	ID string
	// EventID is hookrun's id for this event (the triggers-eventid label): derived from the identity once
	// a provider check authenticated the delivery, else from ID, so a redelivery carries the same one;
	// random when there is neither.
	EventID string
	// identity is what authenticated deliveries are told apart by (see replay.go); generation counts the
	// replay windows an identical delivery has outlived.
	identity   string
	generation int
}

// identify reads provider, event type and delivery id from the headers. The delivery-id headers are tried
// in a fixed order: X-GitHub-Delivery, Idempotency-Key, X-Gitlab-Event-UUID, webhook-id, X-Request-UUID.
func identify(h http.Header) delivery {
	d := delivery{Provider: "generic"}
	switch {
	case h.Get(HeaderGitHubEvent) != "":
		d.Provider, d.Event = "github", h.Get(HeaderGitHubEvent)
	case h.Get(HeaderGitLabEvent) != "":
		d.Provider, d.Event = "gitlab", h.Get(HeaderGitLabEvent)
	case h.Get(HeaderBitbucketEvent) != "":
		d.Provider, d.Event = "bitbucket", h.Get(HeaderBitbucketEvent)
	}
	for _, k := range []string{HeaderGitHubDelivery, HeaderIdempotencyKey, HeaderGitLabEventUUID, HeaderWebhookID, HeaderBitbucketReq} {
		if v := h.Get(k); v != "" {
			if len(v) > 256 {
				v = v[:256]
			}
			d.ID = v
			break
		}
	}
	if d.ID != "" {
		d.EventID = shortHash("event", d.ID)
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		d.EventID = hex.EncodeToString(b[:])[:12]
	}
	return d
}

// shortHash is a 12-hex-character digest of parts, used for stable ids and label values.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
