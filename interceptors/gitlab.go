package interceptors

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	gitlabTokenHeader = "X-Gitlab-Token"
	gitlabEventHeader = "X-Gitlab-Event"

	// Standard Webhooks (https://www.standardwebhooks.com), used by GitLab's signing tokens.
	swIDHeader        = "Webhook-Id"
	swTimestampHeader = "Webhook-Timestamp"
	swSignatureHeader = "Webhook-Signature"
	swSecretPrefix    = "whsec_"
	// swTolerance is how far webhook-timestamp may be from now.
	swTolerance = 5 * time.Minute
)

// gitlabInterceptor validates and filters GitLab webhooks.
type gitlabInterceptor struct {
	secret  *secretRef
	secrets SecretGetter
	events  eventFilter
	now     func() time.Time
}

func newGitLab(params map[string]json.RawMessage, secrets SecretGetter, opts Options) (*gitlabInterceptor, error) {
	const iname = "gitlab"
	if err := checkParamNames(iname, params, "secretRef", "eventTypes"); err != nil {
		return nil, err
	}
	g := &gitlabInterceptor{secrets: secrets, now: opts.now}
	var err error
	if g.secret, err = parseSecretRef(iname, params, secrets); err != nil {
		return nil, err
	}
	if g.events, err = parseEventTypes(iname, params); err != nil {
		return nil, err
	}
	return g, nil
}

// Process implements Interceptor: event type first, then the secret. The
// secret authenticates the request when it equals X-Gitlab-Token or when it
// is the key of a valid Standard Webhooks signature (GitLab signing tokens).
func (g *gitlabInterceptor) Process(ctx context.Context, req *Request) Response {
	return g.Verify(ctx, req)
}

// Authenticates implements Verifier.
func (g *gitlabInterceptor) Authenticates() bool { return g.secret != nil }

// Finish implements Verifier: the gitlab interceptor has nothing left to do once Verify passed.
func (g *gitlabInterceptor) Finish(context.Context, *Request) Response { return proceed(nil) }

// Verify implements Verifier: everything Process does, on the raw body.
func (g *gitlabInterceptor) Verify(ctx context.Context, req *Request) Response {
	if r := g.events.check(gitlabEventHeader, req.Header.Get(gitlabEventHeader)); r != nil {
		return *r
	}
	if g.secret == nil {
		return proceed(nil)
	}
	token := req.Header.Get(gitlabTokenHeader)
	signature := req.Header.Get(swSignatureHeader)
	if token == "" && signature == "" {
		return fail(Unauthenticated, "%s header missing", gitlabTokenHeader)
	}
	secret, r := readSecret(ctx, g.secrets, req.Namespace, g.secret)
	if r != nil {
		return *r
	}
	var reasons []string
	if token != "" {
		if subtle.ConstantTimeCompare([]byte(token), secret) == 1 {
			return Response{Continue: true, Code: OK, Proof: TokenProof}
		}
		reasons = append(reasons, gitlabTokenHeader+" does not match the secret")
	}
	if signature != "" {
		code, reason := verifyStandardWebhook(secret, req.Header, req.Body, g.now())
		if code == OK {
			return Response{Continue: true, Code: OK, Proof: SignedIDProof}
		}
		if code != Unauthenticated {
			return fail(code, "%s", reason)
		}
		reasons = append(reasons, reason)
	}
	return fail(Unauthenticated, "%s", strings.Join(reasons, "; "))
}

// verifyStandardWebhook checks the webhook-signature header against
// HMAC-SHA256(key, id "." timestamp "." body). A secret starting with
// "whsec_" is the base64 of the key; any other secret is the key itself.
// It returns OK, or Unauthenticated/Internal with a reason that never
// contains the secret.
func verifyStandardWebhook(secret []byte, h http.Header, body []byte, now time.Time) (Code, string) {
	id := h.Get(swIDHeader)
	ts := h.Get(swTimestampHeader)
	sigs := h.Get(swSignatureHeader)
	switch {
	case sigs == "":
		return Unauthenticated, "webhook-signature header missing"
	case id == "":
		return Unauthenticated, "webhook-id header missing"
	case ts == "":
		return Unauthenticated, "webhook-timestamp header missing"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Unauthenticated, "webhook-timestamp is not a unix time in seconds"
	}
	// Compare in seconds, against bounds that cannot overflow.
	tol := int64(swTolerance / time.Second)
	if nowSec := now.Unix(); sec < nowSec-tol || sec > nowSec+tol {
		return Unauthenticated, "webhook-timestamp outside tolerance (±5m)"
	}
	key := secret
	if rest, found := bytes.CutPrefix(secret, []byte(swSecretPrefix)); found {
		key = make([]byte, base64.StdEncoding.DecodedLen(len(rest)))
		n, err := base64.StdEncoding.Decode(key, rest)
		if err != nil {
			return Internal, "secret has the whsec_ prefix but the rest is not valid base64"
		}
		key = key[:n]
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	got := make([]byte, base64.StdEncoding.DecodedLen(base64.StdEncoding.EncodedLen(sha256.Size)))
	for _, s := range strings.Fields(sigs) {
		b64, found := strings.CutPrefix(s, "v1,")
		if !found || base64.StdEncoding.DecodedLen(len(b64)) > len(got) {
			continue
		}
		n, err := base64.StdEncoding.Decode(got, []byte(b64))
		if err != nil {
			continue
		}
		if hmac.Equal(got[:n], want) {
			return OK, ""
		}
	}
	return Unauthenticated, "webhook-signature does not match the payload"
}
