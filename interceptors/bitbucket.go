package interceptors

import (
	"context"
	"encoding/json"

	gh "github.com/google/go-github/v60/github"
)

const (
	bitbucketSignatureHeader = "X-Hub-Signature"
	bitbucketEventHeader     = "X-Event-Key"
)

// bitbucketInterceptor validates (Bitbucket Server) and filters (Server and
// Cloud) Bitbucket webhooks.
type bitbucketInterceptor struct {
	secret  *secretRef
	secrets SecretGetter
	events  eventFilter
}

func newBitbucket(params map[string]json.RawMessage, secrets SecretGetter) (*bitbucketInterceptor, error) {
	const iname = "bitbucket"
	if err := checkParamNames(iname, params, "secretRef", "eventTypes"); err != nil {
		return nil, err
	}
	b := &bitbucketInterceptor{secrets: secrets}
	var err error
	if b.secret, err = parseSecretRef(iname, params, secrets); err != nil {
		return nil, err
	}
	if b.events, err = parseEventTypes(iname, params); err != nil {
		return nil, err
	}
	return b, nil
}

// Process implements Interceptor: event type first, then the X-Hub-Signature
// HMAC (sha256= or sha1=) when a secret is configured.
func (b *bitbucketInterceptor) Process(ctx context.Context, req *Request) Response {
	if r := b.events.check(bitbucketEventHeader, req.Header.Get(bitbucketEventHeader)); r != nil {
		return *r
	}
	if b.secret == nil {
		return proceed(nil)
	}
	sig := req.Header.Get(bitbucketSignatureHeader)
	if sig == "" {
		return fail(Unauthenticated, "%s header missing", bitbucketSignatureHeader)
	}
	if r := checkHexSignature(bitbucketSignatureHeader, sig, "sha256=", "sha1="); r != nil {
		return *r
	}
	secret, r := readSecret(ctx, b.secrets, req.Namespace, b.secret)
	if r != nil {
		return *r
	}
	if err := gh.ValidateSignature(sig, req.Body, secret); err != nil {
		return fail(Unauthenticated, "%s does not match the payload", bitbucketSignatureHeader)
	}
	return proceed(nil)
}
