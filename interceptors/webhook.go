package interceptors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxWebhookResponse bounds the size of an external interceptor's reply: it is decoded into
// extensions, so it costs listener memory for every delivery.
const maxWebhookResponse = 4 << 20

// errRedirect refuses redirects: an interceptor's URL is configuration, and a reply that points
// elsewhere (another host, a metadata endpoint) must not take the delivery's body and headers with it.
var errRedirect = errors.New("external interceptors must answer themselves: redirects are not followed")

// NoRedirects is an http.Client CheckRedirect that refuses every redirect.
func NoRedirects(*http.Request, []*http.Request) error { return errRedirect }

// webhookInterceptor calls an external interceptor over HTTP(S).
type webhookInterceptor struct {
	url     string
	display string // url without credentials, for messages
	params  map[string]json.RawMessage
	client  *http.Client
	opts    Options
}

// NewWebhook returns an Interceptor that POSTs Tekton's InterceptorRequest
// JSON to url and interprets the InterceptorResponse it answers. It is used
// for ClusterInterceptors/Interceptors that are not built in (resolved to a
// URL by the caller); Tekton's legacy `webhook:` interceptor speaks another
// protocol (NewLegacyWebhook). Each call
// is bounded by opts.Timeout, its reply by 4 MiB, and redirects are never
// followed (whatever opts.HTTPClient says). A transport error, a redirect, a
// non-200 status or an undecodable reply gives an Internal response.
func NewWebhook(url string, params map[string]json.RawMessage, opts Options) Interceptor {
	client := &http.Client{Timeout: opts.timeout()}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient // shares the Transport (and its connection pool)
		client = &c
		if client.Timeout <= 0 || client.Timeout > opts.timeout() {
			client.Timeout = opts.timeout()
		}
	}
	client.CheckRedirect = NoRedirects
	return &webhookInterceptor{url: url, display: redactURL(url), params: params, client: client, opts: opts}
}

// interceptorRequest is Tekton's InterceptorRequest wire format.
type interceptorRequest struct {
	Body              string                     `json:"body,omitempty"`
	Header            http.Header                `json:"header,omitempty"`
	Extensions        map[string]any             `json:"extensions,omitempty"`
	InterceptorParams map[string]json.RawMessage `json:"interceptor_params,omitempty"`
	Context           triggerContext             `json:"context"`
}

type triggerContext struct {
	EventURL  string `json:"event_url,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	TriggerID string `json:"trigger_id,omitempty"`
}

// interceptorResponse is Tekton's InterceptorResponse wire format.
type interceptorResponse struct {
	Extensions map[string]any `json:"extensions"`
	Continue   bool           `json:"continue"`
	Status     struct {
		Code    grpcCode `json:"code"`
		Message string   `json:"message"`
	} `json:"status"`
}

// grpcCode is a gRPC status code that decodes from a number or from a name
// ("FAILED_PRECONDITION", "FailedPrecondition").
type grpcCode uint32

var grpcCodeNames = map[string]grpcCode{
	"ok": 0, "cancelled": 1, "canceled": 1, "unknown": 2, "invalidargument": 3, "deadlineexceeded": 4,
	"notfound": 5, "alreadyexists": 6, "permissiondenied": 7, "resourceexhausted": 8,
	"failedprecondition": 9, "aborted": 10, "outofrange": 11, "unimplemented": 12, "internal": 13,
	"unavailable": 14, "dataloss": 15, "unauthenticated": 16,
}

func (c *grpcCode) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*c = 0
		return nil
	}
	if n, err := strconv.ParseUint(string(b), 10, 32); err == nil {
		*c = grpcCode(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("status code must be a number or a code name: %w", err)
	}
	name := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	v, found := grpcCodeNames[name]
	if !found {
		return fmt.Errorf("unknown status code %q", s)
	}
	*c = v
	return nil
}

// toCode maps a gRPC code to a Code.
func (c grpcCode) toCode() Code {
	switch c {
	case 0:
		return OK
	case 9: // FailedPrecondition
		return Skip
	case 16:
		return Unauthenticated
	case 3:
		return InvalidArgument
	}
	return Internal
}

// Process implements Interceptor.
func (w *webhookInterceptor) Process(ctx context.Context, req *Request) Response {
	payload, err := json.Marshal(interceptorRequest{
		Body:              string(req.Body),
		Header:            req.Header,
		Extensions:        req.Extensions,
		InterceptorParams: w.params,
		Context: triggerContext{
			EventURL:  req.Context.EventURL,
			EventID:   req.Context.EventID,
			TriggerID: req.Context.TriggerID,
		},
	})
	if err != nil {
		return fail(Internal, "interceptor %s: encoding request: %v", w.display, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.timeout())
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(payload))
	if err != nil {
		return fail(Internal, "interceptor %s: %v", w.display, redactErr(err, w.url, w.display))
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := w.client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(Internal, "interceptor %s: no reply within %v", w.display, w.opts.timeout())
		}
		if errors.Is(err, errRedirect) {
			return fail(Internal, "interceptor %s answered with a redirect: redirects are not followed", w.display)
		}
		return fail(Internal, "interceptor %s unreachable: %v", w.display, redactErr(err, w.url, w.display))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; never echo the body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fail(Internal, "interceptor %s answered HTTP %d", w.display, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookResponse+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(Internal, "interceptor %s: no reply within %v", w.display, w.opts.timeout())
		}
		return fail(Internal, "interceptor %s: reading reply: %v", w.display, redactErr(err, w.url, w.display))
	}
	if len(raw) > maxWebhookResponse {
		return fail(Internal, "interceptor %s: reply larger than %d bytes", w.display, maxWebhookResponse)
	}
	var ir interceptorResponse
	if err := json.Unmarshal(raw, &ir); err != nil {
		return fail(Internal, "interceptor %s: reply is not an InterceptorResponse: %v", w.display, jsonErrSummary(err))
	}
	if ir.Continue {
		return proceed(ir.Extensions)
	}
	code := ir.Status.Code.toCode()
	if code == OK {
		// Stopped without an error status: the trigger is skipped.
		code = Skip
	}
	msg := ir.Status.Message
	if msg == "" {
		msg = fmt.Sprintf("interceptor %s stopped processing", w.display)
	}
	return Response{Code: code, Message: msg}
}

// redactURL removes credentials from a URL for use in messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	return u.Redacted()
}

// redactErr returns err's text with the raw URL replaced by its redacted form.
func redactErr(err error, raw, display string) string {
	if raw == display {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), raw, display)
}

// jsonErrSummary describes a JSON decoding error without quoting the input.
func jsonErrSummary(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has the wrong type (%s)", typ.Field, typ.Value)
	}
	return err.Error()
}
