package interceptors

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

const (
	bitbucketSignatureHeader = "X-Hub-Signature"
	bitbucketEventHeader     = "X-Event-Key"
)

// bitbucketInterceptor validates (Bitbucket Server) and filters (Server and
// Cloud) Bitbucket webhooks.
type bitbucketInterceptor struct {
	secret    *secretRef
	secrets   SecretGetter
	events    eventFilter
	allowSHA1 bool
}

func newBitbucket(params map[string]json.RawMessage, secrets SecretGetter) (*bitbucketInterceptor, error) {
	const iname = "bitbucket"
	if err := checkParamNames(iname, params, "secretRef", "eventTypes", "allowSHA1"); err != nil {
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
	if raw, present := params["allowSHA1"]; present && !isNull(raw) {
		if err := json.Unmarshal(raw, &b.allowSHA1); err != nil {
			return nil, paramError(iname, "allowSHA1", errors.New("must be a boolean"))
		}
	}
	return b, nil
}

// Process implements Interceptor: event type first, then the X-Hub-Signature
// HMAC (sha256=, or sha1= with allowSHA1: true) when a secret is configured.
func (b *bitbucketInterceptor) Process(ctx context.Context, req *Request) Response {
	return b.Verify(ctx, req)
}

// Authenticates implements Verifier.
func (b *bitbucketInterceptor) Authenticates() bool { return b.secret != nil }

// Finish implements Verifier: nothing is left to do once Verify passed.
func (b *bitbucketInterceptor) Finish(context.Context, *Request) Response { return proceed(nil) }

// Verify implements Verifier: everything Process does, on the raw body.
func (b *bitbucketInterceptor) Verify(ctx context.Context, req *Request) Response {
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
	algos := []string{"sha256="}
	if b.allowSHA1 {
		algos = append(algos, "sha1=")
	} else if strings.HasPrefix(sig, "sha1=") {
		return fail(Unauthenticated, "%s is a SHA-1 signature: refused unless the bitbucket interceptor sets allowSHA1: true", bitbucketSignatureHeader)
	}
	if r := checkHexSignature(bitbucketSignatureHeader, sig, algos...); r != nil {
		return *r
	}
	secret, r := readSecret(ctx, b.secrets, req.Namespace, b.secret)
	if r != nil {
		return *r
	}
	if err := gh.ValidateSignature(sig, req.Body, secret); err != nil {
		return fail(Unauthenticated, "%s does not match the payload", bitbucketSignatureHeader)
	}
	return Response{Continue: true, Code: OK, Proof: BodyProof}
}
