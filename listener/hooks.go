package listener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/bindings"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/runctl"
	"github.com/hookrun/hookrun/templates"
)

// handleHook serves POST /hooks, /hooks/{name} and /: one delivery, answered with its outcome.
//
// Order of work, cheapest refusal first: the EventListener must exist; the body is read within
// --body-timeout into memory reserved from the global budget; only then is an in-flight slot taken; the
// provider checks run on the raw bytes; the body is decoded only if some trigger still needs it (a sender
// that holds no secret never costs a decode); then the triggers fire.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request, elName string) {
	c := &hookCall{s: s, w: w, r: r, elName: elName, start: time.Now(), d: identify(r.Header),
		code: http.StatusInternalServerError, elLabel: otherLabel}
	defer c.count()

	if !c.admit() {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.HandlerTimeout)
	defer cancel()

	el, ok := c.eventListener(ctx)
	if !ok {
		return
	}
	mem := s.budget.hold()
	defer mem.release()
	body, err := s.readBody(ctx, w, r, mem)
	if err != nil {
		w.Header().Set("Connection", "close") // what is left of the body is not worth reading
		c.fail(s.bodyAnswer(err))
		return
	}
	release, ok := s.slots.acquire(ctx)
	if !ok {
		c.fail(http.StatusTooManyRequests, fmt.Sprintf("more than %d deliveries in flight (--max-in-flight) and the backlog is full; retry later", s.opts.MaxInFlight))
		return
	}
	defer release()
	validate := payloadValidation(el)
	if reason := checkContent(body, validate); reason != "" {
		c.fail(http.StatusBadRequest, reason)
		return
	}
	c.fire(ctx, el, mem, body, validate)
}

// hookCall is one delivery to handleHook, from its arrival to its answer.
type hookCall struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	elName  string
	start   time.Time
	d       delivery
	code    int    // the answer's status
	elLabel string // the name of an EventListener that exists, once found: never the path alone
}

// count counts the delivery in the metrics, once it is answered.
func (c *hookCall) count() {
	c.s.metrics.events.WithLabelValues(c.elLabel, c.d.Provider, c.s.metrics.eventLabels.label(c.d.Provider, c.d.Event), strconv.Itoa(c.code)).Inc()
	c.s.metrics.tekton.delivery(c.code, time.Since(c.start).Seconds())
}

// fail refuses the delivery with code and msg, and logs it.
func (c *hookCall) fail(code int, msg string) {
	c.code = code
	c.s.log.Info("delivery refused", "listener", c.elName, "provider", c.d.Provider, "event", c.d.Event,
		"deliveryID", c.d.ID, "eventID", c.d.EventID, "remote", c.r.RemoteAddr, "code", code, "reason", msg)
	if code == http.StatusTooManyRequests {
		c.w.Header().Set("Retry-After", "1")
	}
	writeError(c.w, code, msg)
}

// admit refuses, before reading anything, a delivery that names no EventListener or announces an oversize body.
func (c *hookCall) admit() bool {
	if c.elName == "" {
		c.fail(http.StatusNotFound, "no EventListener named in the path (/hooks/NAME) and no default set with --eventlistener")
		return false
	}
	// Refuse an announced oversize body before reading any of it.
	if c.r.ContentLength > c.s.opts.MaxBody {
		c.fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the %d-byte limit (--max-body)", c.r.ContentLength, c.s.opts.MaxBody))
		return false
	}
	return true
}

// eventListener reads the named EventListener.
func (c *hookCall) eventListener(ctx context.Context) (*triggersv1beta1.EventListener, bool) {
	var el triggersv1beta1.EventListener
	if err := c.s.reader.Get(ctx, client.ObjectKey{Namespace: c.s.opts.Namespace, Name: c.elName}, &el); err != nil {
		if apierrors.IsNotFound(err) {
			c.fail(http.StatusNotFound, fmt.Sprintf("EventListener %q not found in namespace %s", c.elName, c.s.opts.Namespace))
			return nil, false
		}
		c.fail(http.StatusServiceUnavailable, "cannot read EventListener configuration; retry later")
		return nil, false
	}
	c.elLabel = el.Name
	return &el, true
}

// fire verifies the delivery against the EventListener's triggers, fires them and answers.
func (c *hookCall) fire(ctx context.Context, el *triggersv1beta1.EventListener, mem *hold, body []byte, validate bool) {
	s, r := c.s, c.r
	trigs, err := s.config.triggers(ctx, el)
	if err != nil {
		if errors.Is(err, errConfig) {
			c.fail(http.StatusInternalServerError, err.Error())
		} else {
			c.fail(http.StatusServiceUnavailable, "cannot read trigger configuration; retry later")
		}
		return
	}
	v := s.verify(ctx, trigs, c.d, body, r.Header)
	c.d = c.d.identify(v, r.Header, body)
	var decoded any
	if v.needsBody() {
		if decoded, err = s.decode(ctx, mem, body); err != nil {
			if validate || !errors.Is(err, errNotJSON) {
				c.fail(s.bodyAnswer(err))
				return
			}
			decoded = map[string]any{} // payload validation off: a body that is not JSON is an empty body
		}
	}
	resp := Response{
		EventListener: el.Name, Namespace: el.Namespace, EventListenerUID: string(el.UID),
		EventID: c.d.EventID, DeliveryID: c.d.ID, Triggers: make([]TriggerResult, 0, len(trigs)),
	}
	var made []createdObj
	resp.Triggers, made = s.fireAll(ctx, el, v, c.d, body, decoded, r.Header, requestURL(r))
	c.answer(el, v, &resp, made, body)
}

// answer answers the delivery with resp, after rolling it back and dead-lettering it when it is to be
// retried, records it and logs it.
func (c *hookCall) answer(el *triggersv1beta1.EventListener, v *verdict, resp *Response, made []createdObj, body []byte) {
	s, r, d := c.s, c.r, c.d
	c.code = statusFor(resp.Triggers)
	if c.code == http.StatusServiceUnavailable {
		s.rollBackDelivery(el, d, resp, made)
		s.deadLetter(r, el, d, body, resp)
		c.w.Header().Set("Retry-After", "5")
	}
	outcome := summary(resp.Triggers)
	s.recordDelivery(el, d, c.code, resp.Triggers)
	s.sendCloudEvents(el, d, r.Header, resp.Triggers)
	c.code = s.coarsen(el, d, v, resp, c.code, r.RemoteAddr)
	writeJSON(c.w, c.code, *resp)
	s.log.Info("delivery", "listener", el.Name, "namespace", el.Namespace, "provider", d.Provider, "event", d.Event,
		"deliveryID", d.ID, "eventID", d.EventID, "authenticated", v.authenticated(), "remote", r.RemoteAddr,
		"code", c.code, "outcome", outcome, "duration", time.Since(c.start).String())
}

// fireAll runs every trigger of a verified delivery, in order, and returns their results and what they
// created (for a rollback).
func (s *Server) fireAll(ctx context.Context, el *triggersv1beta1.EventListener, v *verdict, d delivery, body []byte, decoded any, header http.Header, eventURL string) ([]TriggerResult, []createdObj) {
	results := make([]TriggerResult, 0, len(v.runs))
	var made []createdObj
	for i := range v.runs {
		ru := &v.runs[i]
		var res TriggerResult
		if ru.done != nil {
			res = *ru.done
		} else {
			res = s.fire(ctx, el, ru, d, body, decoded, header, eventURL, &made)
			// The same authenticated bytes after the replay window: a new run, under the next generation's
			// names (another replica racing for it meets AlreadyExists and answers duplicate).
			for dg := d; s.expired(ctx, dg, res) && dg.generation < maxGenerations; {
				dg.generation++
				res = s.fire(ctx, el, ru, dg, body, decoded, header, eventURL, &made)
			}
		}
		s.metrics.outcomes.WithLabelValues(el.Name, res.Name, res.Status).Inc()
		results = append(results, res)
	}
	return results, made
}

// rollBackDelivery deletes what a delivery created when the API server was unavailable for one of its
// triggers, and says so in the answer: nothing of it is kept, the sender retries.
func (s *Server) rollBackDelivery(el *triggersv1beta1.EventListener, d delivery, resp *Response, made []createdObj) {
	if err := s.rollback(made); err != nil {
		s.log.Error("rollback incomplete", "listener", el.Name, "eventID", d.EventID, "error", err)
	}
	resp.Message = "the Kubernetes API was unavailable; nothing from this delivery was kept, send it again"
	for i := range resp.Triggers {
		if resp.Triggers[i].Status == StatusCreated && !resp.Triggers[i].Duplicate {
			resp.Triggers[i].Status = StatusFailed
			resp.Triggers[i].Reason = "rolled back: another trigger of this delivery could not reach the Kubernetes API"
			resp.Triggers[i].Resources = nil
		}
	}
}

func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// fire runs one trigger whose provider check (if any) passed on the raw body: the rest of its
// interceptors, bindings, template, creation.
func (s *Server) fire(ctx context.Context, el *triggersv1beta1.EventListener, ru *run, d delivery, body []byte, decoded any, header http.Header, eventURL string, made *[]createdObj) TriggerResult {
	t, cp := ru.t, ru.cp
	res := TriggerResult{Name: t.Name, Namespace: t.Namespace}
	failed := func(reason string) TriggerResult {
		res.Status, res.Reason = StatusFailed, reason
		return res
	}
	req := &interceptors.Request{
		Body: body, Decoded: decoded, Header: header, Extensions: map[string]any{}, Namespace: t.Namespace,
		Context: interceptors.Context{EventURL: eventURL, EventID: d.EventID, TriggerID: "namespaces/" + t.Namespace + "/triggers/" + t.Name},
	}
	res.Cancelled = s.cancelOnClose(ctx, t, cp.runctl, d, decoded, header)
	if len(cp.chain) > 0 {
		begin := time.Now()
		out := ru.runChain(ctx, req)
		s.metrics.interceptorTime.WithLabelValues(cp.first).Observe((ru.verifyTime + time.Since(begin)).Seconds())
		if !out.Continue {
			switch out.Code {
			case interceptors.Skip:
				res.Status, res.Reason = StatusSkipped, out.Message
				return res
			case interceptors.Unauthenticated:
				res.unauthenticated = true
				return failed(out.Message)
			case interceptors.InvalidArgument:
				res.badInput = true
				return failed(out.Message)
			default:
				return failed(out.Message)
			}
		}
		req.Extensions = out.Extensions
		if req.Extensions == nil {
			req.Extensions = map[string]any{}
		}
		if out.Replace != nil { // a legacy webhook interceptor's reply is the event from here on
			decoded, header = out.Replace.Decoded, out.Replace.Header
		}
	}
	skip, note, pr, needFiles := preflight(cp.runctl, d, decoded)
	r, why, bad := s.render(ctx, el, t, cp, d, decoded, header, req.Extensions, eventURL)
	if skip == "" && why == "" && needFiles {
		skip, note = s.filterPullRequest(ctx, t.Namespace, cp.runctl, pr, r.objs)
	}
	if skip != "" {
		// What the trigger would have made (nil if it could not render) says whether a status is expected.
		res.Status, res.Reason = StatusSkipped, skip
		if n := s.reportSkipped(ctx, t.Namespace, r.objs, skip); n != "" {
			res.Reason += "; " + n
		}
		return res
	}
	if why != "" {
		res.badInput = bad
		return failed(why)
	}
	return s.createInGroup(ctx, el, t, cp.runctl, d, r.group, r.values, r.objs, made, res, note)
}

// rendered is what a trigger's bindings and template made of an event, in its concurrency group.
type rendered struct {
	values map[string]string
	objs   []*unstructured.Unstructured
	group  group
}

// render resolves t's bindings, stamps its concurrency group and renders its template. why says what
// failed ("" = nothing), bad whether the payload is at fault.
func (s *Server) render(ctx context.Context, el *triggersv1beta1.EventListener, t *trigger, cp *compiled, d delivery, decoded any,
	header http.Header, ext map[string]any, eventURL string) (r rendered, why string, bad bool) {
	values, missing, err := cp.bindings.Resolve(&bindings.Event{
		Body: decoded, Header: header, Extensions: ext, EventID: d.EventID, EventURL: eventURL, TriggerName: t.Name,
	})
	if err != nil {
		return r, "bindings: " + err.Error(), true
	}
	opts, queuedAt := renderOptions(el, t, d), time.Now()
	key, err := stampGroup(ctx, cp.runctl, d, runctl.Event{Body: decoded, Header: header, Extensions: ext}, queuedAt, &opts)
	if err != nil {
		return r, "concurrency group: " + err.Error(), true
	}
	objs, err := cp.template.Render(values, missing, opts)
	if err != nil {
		return r, "template: " + err.Error(), errors.Is(err, templates.ErrMissingParam)
	}
	return rendered{values: values, objs: objs, group: group{key: key, queuedAt: queuedAt}}, "", false
}

// renderOptions are the labels, annotations and deterministic names of what t renders for d.
func renderOptions(el *triggersv1beta1.EventListener, t *trigger, d delivery) templates.Options {
	opts := templates.Options{
		Namespace: t.Namespace,
		Labels: map[string]string{
			triggersv1beta1.LabelEventListener: el.Name,
			triggersv1beta1.LabelTrigger:       t.Name,
			triggersv1beta1.LabelEventID:       d.EventID,
		},
		Annotations: deliveryAnnotations(d),
	}
	if seed := d.seed(el, t); seed != "" {
		// A redelivery or a replay renders the same names and $(uid), so creation is idempotent at the
		// API server (replay.go says which identity is trusted).
		opts.NameSeed = seed
		opts.UID = shortHash("uid", seed)[:8]
	}
	return opts
}

// create creates what t rendered for d, as t's identity (the trigger's or EventListener's ServiceAccount,
// or the listener confined to t's namespace); a trigger refused for good keeps nothing.
func (s *Server) create(ctx context.Context, el *triggersv1beta1.EventListener, t *trigger, d delivery, values map[string]string, objs []*unstructured.Unstructured, made *[]createdObj) TriggerResult {
	res := TriggerResult{Name: t.Name, Namespace: t.Namespace}
	failed := func(reason string) TriggerResult {
		res.Status, res.Reason = StatusFailed, reason
		return res
	}
	elID := elIdentity{Namespace: el.Namespace, Name: el.Name, ServiceAccount: el.Spec.ServiceAccountName}
	if s.opts.Trace != nil {
		s.trace(elID, t, values, objs)
	}
	c, err := s.clientFor(ctx, elID, t, objs)
	if err != nil {
		res.unavailable = errors.Is(err, errUnavailable)
		return failed(err.Error())
	}
	before := len(*made)
	resources, dup, err := s.createAll(ctx, c, objs, d.EventID, made)
	res.Resources, res.Duplicate = resources, dup
	if err != nil {
		res.unavailable = errors.Is(err, errUnavailable)
		if !res.unavailable {
			// This trigger failed for good (refused by RBAC, a name taken…): undo what it made, keep the others'.
			if rerr := s.rollback((*made)[before:]); rerr != nil {
				s.log.Error("rollback incomplete", "trigger", t.Namespace+"/"+t.Name, "eventID", d.EventID, "error", rerr)
			}
			*made = (*made)[:before]
			res.Resources, res.Duplicate = nil, false
		}
		return failed(err.Error())
	}
	res.Status = StatusCreated
	if dup {
		res.Reason = "already created by an earlier delivery of the same event"
	}
	return res
}

// interceptorLabel names an interceptor for the interceptor-duration metric.
func interceptorLabel(ti *triggersv1beta1.TriggerInterceptor) string {
	if ti == nil {
		return "none"
	}
	r, err := ti.Resolve()
	if err != nil {
		return "invalid"
	}
	if r.Builtin() {
		return r.Name
	}
	return "external"
}

func summary(rs []TriggerResult) map[string]string {
	out := make(map[string]string, len(rs))
	for _, r := range rs {
		out[r.Namespace+"/"+r.Name] = r.Status
	}
	return out
}
