package interceptors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// RequestURLHeader carries the URL the delivery was posted to, for legacy webhook interceptors (Tekton's
// Eventlistener-Request-Url).
const RequestURLHeader = "Eventlistener-Request-Url"

// Event is the body and headers a legacy webhook interceptor's reply puts in place of the delivery's:
// the interceptors after it and the bindings see these.
type Event struct {
	Body    []byte
	Decoded any // Body decoded as JSON; nil when Body is empty
	Header  http.Header
}

// LegacyHeader is one entry of a legacy webhook interceptor's header list: a single value replaces the
// header, a list replaces it with every value.
type LegacyHeader struct {
	Name   string
	Values []string
	List   bool
}

// ParseLegacyHeader reads the value of a header entry: a string or a list of strings.
func ParseLegacyHeader(name string, value json.RawMessage) (LegacyHeader, error) {
	h := LegacyHeader{Name: http.CanonicalHeaderKey(name)}
	if name == "" || strings.ContainsAny(name, " :\r\n") {
		return h, fmt.Errorf("header name %q is not a valid HTTP header name", name)
	}
	var s string
	if err := json.Unmarshal(value, &s); err == nil {
		h.Values = []string{s}
		return h, nil
	}
	if err := json.Unmarshal(value, &h.Values); err != nil {
		return h, fmt.Errorf("header %s: value must be a string or a list of strings", name)
	}
	h.List = true
	return h, nil
}

// legacyWebhook is Tekton's v1alpha1 `webhook:` interceptor: the delivery's own body (with the
// extensions so far under "extensions") and headers are POSTed to the URL; a 200 reply's body and
// headers replace the event's for what follows.
type legacyWebhook struct {
	url     string
	display string
	headers []LegacyHeader
	client  *http.Client
	opts    Options
}

// NewLegacyWebhook returns Tekton's legacy webhook interceptor calling url with the extra headers. Each
// call is bounded by opts.Timeout (Tekton: 5 s), its reply by 4 MiB, and redirects are never followed.
// A 4xx reply skips the trigger (the interceptor declined the event); a 5xx reply, a transport error or
// a reply that is not JSON fails it.
func NewLegacyWebhook(url string, headers []LegacyHeader, opts Options) Interceptor {
	w := NewWebhook(url, nil, opts).(*webhookInterceptor) // same client rules
	return &legacyWebhook{url: url, display: w.display, headers: headers, client: w.client, opts: opts}
}

// Process implements Interceptor.
func (w *legacyWebhook) Process(ctx context.Context, req *Request) Response {
	body, err := bodyWithExtensions(req)
	if err != nil {
		return fail(InvalidArgument, "webhook interceptor %s: %v", w.display, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.timeout())
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fail(Internal, "webhook interceptor %s: %v", w.display, redactErr(err, w.url, w.display))
	}
	hreq.Header = req.Header.Clone()
	if hreq.Header == nil {
		hreq.Header = http.Header{}
	}
	hreq.Header.Del("Content-Length")
	hreq.Header.Set(RequestURLHeader, req.Context.EventURL)
	for _, h := range w.headers {
		hreq.Header.Del(h.Name)
		for _, v := range h.Values {
			hreq.Header.Add(h.Name, v)
		}
	}
	resp, err := w.client.Do(hreq)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail(Internal, "webhook interceptor %s: no reply within %v", w.display, w.opts.timeout())
		}
		if errors.Is(err, errRedirect) {
			return fail(Internal, "webhook interceptor %s answered with a redirect: redirects are not followed", w.display)
		}
		return fail(Internal, "webhook interceptor %s unreachable: %v", w.display, redactErr(err, w.url, w.display))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookResponse+1))
	if err != nil {
		return fail(Internal, "webhook interceptor %s: reading reply: %v", w.display, redactErr(err, w.url, w.display))
	}
	if len(raw) > maxWebhookResponse {
		return fail(Internal, "webhook interceptor %s: reply larger than %d bytes", w.display, maxWebhookResponse)
	}
	if resp.StatusCode != http.StatusOK {
		code := Internal
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			code = Skip
		}
		return fail(code, "webhook interceptor %s rejected the event: HTTP %d%s", w.display, resp.StatusCode, replySnippet(raw))
	}
	ev := &Event{Body: raw, Header: resp.Header.Clone()}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &ev.Decoded); err != nil {
			return fail(InvalidArgument, "webhook interceptor %s: reply body is not JSON: %s", w.display, jsonErrSummary(err))
		}
	}
	return Response{Continue: true, Code: OK, Replace: ev}
}

// bodyWithExtensions is the body a legacy webhook interceptor is sent: the delivery's bytes as they came
// when no extensions were added, else the body object with each extension set under "extensions".
func bodyWithExtensions(req *Request) ([]byte, error) {
	if len(req.Extensions) == 0 {
		return req.Body, nil
	}
	decoded, err := decodedBody(req)
	if err != nil {
		return nil, err
	}
	obj, ok := decoded.(map[string]any)
	if !ok {
		return nil, errors.New("the body is not a JSON object: extensions cannot be added to it")
	}
	out := make(map[string]any, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	ext := map[string]any{}
	if old, ok := obj["extensions"].(map[string]any); ok {
		for k, v := range old {
			ext[k] = v
		}
	}
	for k, v := range req.Extensions {
		ext[k] = v
	}
	out["extensions"] = ext
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode body with extensions: %w", err)
	}
	return b, nil
}

// replySnippet quotes the start of a refusal's body (Tekton puts it in its error), bounded and printable.
func replySnippet(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || !utf8.ValidString(s) {
		return ""
	}
	for i := range s {
		if i >= 200 {
			s = s[:i] + "…"
			break
		}
	}
	return ": " + strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
}
