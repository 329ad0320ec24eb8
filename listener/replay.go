package listener

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
)

// Replays.
//
// A delivery's identity decides the names of what its triggers create (templates.Options.NameSeed), so a
// second delivery of the same event meets AlreadyExists at the API server — across every listener
// replica — and is answered as a duplicate. Which identity is trusted depends on what was authenticated:
//
//   - a body HMAC (GitHub, Bitbucket) vouches for the bytes, not for the delivery-id headers: the
//     identity is the SHA-256 of the body, so the same signed bytes replayed with a fresh
//     X-GitHub-Delivery are the same event. A real redelivery carries the same bytes, so it stays a
//     duplicate too;
//   - a GitLab token (X-Gitlab-Token) is the secret itself and vouches for headers and body alike: the
//     identity is the Idempotency-Key, which GitLab keeps on its own retries and on a resend (whose
//     payload it encodes anew, so the bytes may differ: recover_gitlab.go). Without one (older GitLab,
//     other senders), the SHA-256 of the body as above;
//   - a Standard Webhooks signature covers webhook-id and a timestamp (checked to ±5 min): the signed id
//     is the identity;
//   - nothing authenticated: the sender's delivery id, as before (none: every POST is a new event).
//
// Identical authenticated bytes are a replay for --replay-window after the first run was created; after
// that they make a new run (generation 1, 2, … of the same identity), so a sender that legitimately posts
// the same signed body every day still gets its daily run.

// maxGenerations bounds the runs one identity can make, one per replay window.
const maxGenerations = 64

// identify settles the delivery's identity and event id once the provider checks have run.
func (d delivery) identify(v *verdict, header http.Header, body []byte) delivery {
	switch {
	case v.proof == interceptors.TokenProof && header.Get(HeaderIdempotencyKey) != "":
		d.identity = "idempotency-key:" + header.Get(HeaderIdempotencyKey)
	case v.proof == interceptors.BodyProof || v.proof == interceptors.TokenProof:
		sum := sha256.Sum256(body)
		d.identity = "sha256:" + hex.EncodeToString(sum[:])
	case v.proof == interceptors.SignedIDProof:
		d.identity = "webhook-id:" + header.Get(HeaderWebhookID)
	default:
		return d
	}
	d.EventID = shortHash("event", d.identity)
	return d
}

// seed is the NameSeed of a trigger's resources for this delivery: "" when the delivery has no identity
// (generateName then picks random names).
func (d delivery) seed(el *triggersv1beta1.EventListener, t *trigger) string {
	base := el.Namespace + "/" + el.Name + "/" + t.Namespace + "/" + t.Name + "/"
	switch {
	case d.identity != "" && d.generation > 0:
		return base + d.identity + "/" + strconv.Itoa(d.generation)
	case d.identity != "":
		return base + d.identity
	case d.ID != "":
		return base + d.ID // unauthenticated deliveries: the seed of earlier releases
	}
	return ""
}

// expired reports whether a duplicate's first resource was created longer than the replay window ago,
// so that the same authenticated bytes make a new run. Anything that cannot be read counts as recent:
// when in doubt, no second run.
func (s *Server) expired(ctx context.Context, d delivery, res TriggerResult) bool {
	if d.identity == "" || s.opts.ReplayWindow < 0 || !res.Duplicate || len(res.Resources) == 0 {
		return false
	}
	r := res.Resources[0]
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return false
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gv.WithKind(r.Kind))
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, obj); err != nil {
		return false
	}
	created := obj.GetCreationTimestamp().Time
	return !created.IsZero() && time.Since(created) > s.opts.ReplayWindow
}
