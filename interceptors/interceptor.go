// Package interceptors implements hookrun's in-process versions of Tekton
// Triggers' core interceptors (github, gitlab, bitbucket, cel) and a client
// for external interceptors that speak Tekton's InterceptorRequest /
// InterceptorResponse JSON protocol, or the legacy v1alpha1 webhook protocol
// (the delivery forwarded as is, the reply taking its place).
//
// An Interceptor is built once from its params (Build, NewWebhook) when the
// trigger configuration is loaded; everything that can be validated then is
// validated then. Process is called per event and must be cheap.
package interceptors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Code is the outcome class of an interceptor call (mirrors Tekton's status codes).
type Code int

const (
	// OK means the interceptor let the event continue.
	OK Code = iota
	// Skip means a filter did not match or the event type is not wanted
	// (Tekton's FailedPrecondition); the trigger is skipped.
	Skip
	// Unauthenticated means a bad or missing signature or token.
	Unauthenticated
	// InvalidArgument means bad interceptor params or a bad payload.
	InvalidArgument
	// Internal is anything else (a secret that cannot be read, an external
	// interceptor that is down, ...).
	Internal
)

// String returns the name of the code.
func (c Code) String() string {
	switch c {
	case OK:
		return "OK"
	case Skip:
		return "Skip"
	case Unauthenticated:
		return "Unauthenticated"
	case InvalidArgument:
		return "InvalidArgument"
	case Internal:
		return "Internal"
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Context identifies the event and trigger an interceptor call belongs to
// (Tekton's TriggerContext).
type Context struct {
	EventURL, EventID, TriggerID string
}

// Request is the input of one interceptor call.
type Request struct {
	// Body holds the raw body bytes exactly as received; HMACs are computed over it.
	Body []byte
	// Decoded is the body decoded once by the caller with encoding/json
	// (map[string]any etc.). It is shared between calls and must be treated
	// as read-only. When nil, interceptors that need it decode Body themselves
	// (an empty Body counts as the empty object, as in Tekton).
	Decoded any
	// Header holds the request headers with canonical keys, as net/http
	// produces them.
	Header http.Header
	// Extensions holds the extensions accumulated from earlier interceptors.
	// Interceptors never modify it; they return additions in Response.Extensions.
	Extensions map[string]any
	// Namespace is the trigger's namespace: where secretRef secrets are looked up.
	Namespace string
	// Context identifies the event and trigger.
	Context Context
}

// Response is the outcome of one interceptor call.
type Response struct {
	// Continue reports whether trigger processing goes on.
	Continue bool
	// Extensions holds new or changed top-level extension keys to merge (nil if none).
	Extensions map[string]any
	// Code classifies the outcome; it is OK exactly when Continue is true.
	Code Code
	// Message is a human readable reason. It never contains a secret value.
	Message string
	// Proof says what a provider check authenticated when it let the event continue (Verifier
	// interceptors); NoProof from every other interceptor.
	Proof Proof
	// Replace, from a legacy webhook interceptor that continued, is the body and headers that take the
	// delivery's place for the rest of the chain and the bindings. Run applies it to the Request and
	// reports the last one in its own Response.
	Replace *Event
}

// Proof is what a successful signature or token check vouches for.
type Proof int

const (
	// NoProof: nothing was authenticated (no secret configured, or not a provider check).
	NoProof Proof = iota
	// BodyProof: the sender holds the secret and the raw body is what it sent (HMAC over the body). The
	// delivery id headers are not covered: the same bytes sent again with a fresh id are a replay.
	BodyProof
	// SignedIDProof: the delivery id and a timestamp are signed together with the body (Standard
	// Webhooks): the id can be trusted to tell one delivery from another, and the timestamp bounds replays.
	SignedIDProof
	// TokenProof: the sender presented the secret itself (GitLab's X-Gitlab-Token). A plain token covers
	// no part of the request more than another: whoever holds it can send any body and any header, so the
	// sender's delivery id (GitLab's Idempotency-Key, kept on its retries and resends, whose payload GitLab
	// encodes anew) is as trustworthy as the bytes.
	TokenProof
)

// Verifier is implemented by the provider checks (github, gitlab, bitbucket): interceptors whose
// authentication needs only the headers and the raw body. The listener runs Verify for every trigger
// before it decodes the body, so a sender that holds no secret never costs a JSON decode.
type Verifier interface {
	Interceptor
	// Verify runs the part of Process that needs no decoded body: content type, event type filter and,
	// when a secret is configured, the signature or token. It never reads req.Decoded. A response that
	// continues carries the Proof and no Extensions.
	Verify(ctx context.Context, req *Request) Response
	// Finish runs the rest of Process for a request Verify let continue (github: changed_files). Process
	// is Verify followed by Finish.
	Finish(ctx context.Context, req *Request) Response
	// Authenticates reports whether Verify checks a secret (a secretRef is configured).
	Authenticates() bool
}

// Interceptor processes one event for one trigger.
type Interceptor interface {
	// Process runs the interceptor. It is safe for concurrent use.
	Process(ctx context.Context, req *Request) Response
}

// SecretGetter reads one key of a Secret (the listener backs it with an informer cache).
type SecretGetter interface {
	GetSecretKey(ctx context.Context, namespace, name, key string) ([]byte, error)
}

// Options tunes the interceptors built by Build and NewWebhook.
type Options struct {
	// CELCostLimit is the per-evaluation cost budget of a CEL expression;
	// 0 means 1,000,000.
	CELCostLimit uint64
	// HTTPClient is used by Webhook interceptors; nil means a client with a timeout.
	HTTPClient *http.Client
	// Timeout is the per-call timeout of external interceptors; 0 means 5s.
	Timeout time.Duration
	// Now is the clock used for timestamp tolerance checks; nil means time.Now.
	Now func() time.Time
	// GitHubAPIURL is the GitHub API the github interceptor's addChangedFiles lists pull request files
	// from; empty means api.github.com, or the GitHub Enterprise Server a delivery names.
	GitHubAPIURL string
}

// defaultCELCostLimit is the CEL cost budget used when Options.CELCostLimit is 0.
const defaultCELCostLimit uint64 = 1_000_000

// defaultTimeout is the external interceptor timeout used when Options.Timeout is 0.
const defaultTimeout = 5 * time.Second

func (o Options) celCostLimit() uint64 {
	if o.CELCostLimit == 0 {
		return defaultCELCostLimit
	}
	return o.CELCostLimit
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return defaultTimeout
	}
	return o.Timeout
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// ErrUnknownInterceptor is wrapped by the error Build returns for a name that
// is not a built-in interceptor.
var ErrUnknownInterceptor = errors.New("unknown interceptor")

// Build returns the built-in interceptor for name ("github", "gitlab",
// "bitbucket", "cel") configured by params (Tekton's interceptor params, as
// name -> raw JSON value). Everything that can be checked at load time is
// checked here, with an error naming the offending param. An unknown name
// gives an error wrapping ErrUnknownInterceptor. secrets may be nil when no
// param refers to a Secret.
//
// CEL expressions are compiled and type-checked here; each evaluation is
// bounded by Options.CELCostLimit and each Process call by a one second
// wall-clock limit.
func Build(name string, params map[string]json.RawMessage, secrets SecretGetter, opts Options) (Interceptor, error) {
	// Each case checks err itself so that a failed build never yields a
	// non-nil Interceptor holding a nil pointer.
	switch name {
	case "github":
		ic, err := newGitHub(params, secrets, opts)
		if err != nil {
			return nil, err
		}
		return ic, nil
	case "gitlab":
		ic, err := newGitLab(params, secrets, opts)
		if err != nil {
			return nil, err
		}
		return ic, nil
	case "bitbucket":
		ic, err := newBitbucket(params, secrets)
		if err != nil {
			return nil, err
		}
		return ic, nil
	case "cel":
		ic, err := newCEL(params, secrets, opts)
		if err != nil {
			return nil, err
		}
		return ic, nil
	}
	return nil, fmt.Errorf("%w %q (built-ins are github, gitlab, bitbucket, cel)", ErrUnknownInterceptor, name)
}

// Authenticating reports, from configuration alone, whether the built-in interceptor name configured
// by params refuses senders that do not hold a secret: a github, gitlab or bitbucket interceptor with a
// secretRef, or a cel interceptor whose filter calls compareSecret. External interceptors may
// authenticate too, but nothing in their configuration says so: they count as not authenticating.
func Authenticating(name string, params map[string]json.RawMessage) bool {
	switch name {
	case "github", "gitlab", "bitbucket":
		return !isNull(params["secretRef"])
	case "cel":
		var filter string
		if err := json.Unmarshal(params["filter"], &filter); err != nil {
			return false
		}
		return strings.Contains(filter, "compareSecret(")
	}
	return false
}

// ---- helpers shared by the built-ins ----

func proceed(ext map[string]any) Response {
	return Response{Continue: true, Code: OK, Extensions: ext}
}

func fail(code Code, format string, args ...any) Response {
	return Response{Code: code, Message: fmt.Sprintf(format, args...)}
}

// checkParamNames rejects params whose names are not in allowed.
func checkParamNames(iname string, params map[string]json.RawMessage, allowed ...string) error {
	for name := range params {
		known := false
		for _, a := range allowed {
			if name == a {
				known = true
				break
			}
		}
		if !known {
			return fmt.Errorf("%s interceptor: unknown param %q (known: %v)", iname, name, allowed)
		}
	}
	return nil
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// decodeStrict decodes raw into dst, rejecting unknown object fields and trailing data.
func decodeStrict(raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the value")
	}
	return nil
}

// paramError wraps err with the interceptor and param names.
func paramError(iname, pname string, err error) error {
	return fmt.Errorf("%s interceptor: param %q: %w", iname, pname, err)
}

// secretRef is Tekton's SecretRef param value.
type secretRef struct {
	SecretName string `json:"secretName"`
	SecretKey  string `json:"secretKey"`
	// Namespace is accepted for compatibility with old manifests and
	// ignored: secrets are always read from the trigger's namespace.
	Namespace string `json:"namespace,omitempty"`
}

// parseSecretRef parses the secretRef param; it returns nil when absent.
func parseSecretRef(iname string, params map[string]json.RawMessage, secrets SecretGetter) (*secretRef, error) {
	raw, present := params["secretRef"]
	if !present || isNull(raw) {
		return nil, nil
	}
	var ref secretRef
	if err := decodeStrict(raw, &ref); err != nil {
		return nil, paramError(iname, "secretRef", err)
	}
	if ref.SecretName == "" {
		return nil, paramError(iname, "secretRef", errors.New("secretName is empty"))
	}
	if ref.SecretKey == "" {
		return nil, paramError(iname, "secretRef", errors.New("secretKey is empty"))
	}
	if secrets == nil {
		return nil, paramError(iname, "secretRef", errors.New("no SecretGetter configured"))
	}
	return &ref, nil
}

// readSecret reads the referenced secret value; the error message names the
// secret but never contains its value. An empty value is refused: an HMAC
// keyed with nothing can be forged by anyone.
func readSecret(ctx context.Context, sg SecretGetter, ns string, ref *secretRef) ([]byte, *Response) {
	v, err := sg.GetSecretKey(ctx, ns, ref.SecretName, ref.SecretKey)
	if err != nil {
		r := fail(Internal, "reading key %q of secret %s/%s: %v", ref.SecretKey, ns, ref.SecretName, err)
		return nil, &r
	}
	if len(v) == 0 {
		r := fail(Internal, "key %q of secret %s/%s is empty", ref.SecretKey, ns, ref.SecretName)
		return nil, &r
	}
	return v, nil
}

// eventFilter is the eventTypes param: nil means no filtering; a non-nil
// (possibly empty) list allows exactly its members, as in Tekton.
type eventFilter []string

func parseEventTypes(iname string, params map[string]json.RawMessage) (eventFilter, error) {
	raw, present := params["eventTypes"]
	if !present || isNull(raw) {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, paramError(iname, "eventTypes", errors.New("must be a list of strings"))
	}
	if list == nil {
		list = []string{}
	}
	return eventFilter(list), nil
}

// check returns a Skip response when the filter is set and event is not in it.
func (f eventFilter) check(header string, event string) *Response {
	if f == nil {
		return nil
	}
	for _, e := range f {
		if e == event {
			return nil
		}
	}
	r := fail(Skip, "event type %q (%s) is not allowed", event, header)
	return &r
}

// decodedBody returns req.Decoded, decoding req.Body when the caller did not.
func decodedBody(req *Request) (any, error) {
	if req.Decoded != nil {
		return req.Decoded, nil
	}
	if len(bytes.TrimSpace(req.Body)) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal(req.Body, &v); err != nil {
		return nil, fmt.Errorf("failed to parse the body as JSON: %w", err)
	}
	return v, nil
}
