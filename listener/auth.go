package listener

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/interceptors"
)

// openTriggerRefused is the configuration error of a trigger that --require-auth refuses to serve.
const openTriggerRefused = "accepts unauthenticated posts (no github, gitlab or bitbucket interceptor with a secretRef, " +
	"no cel filter calling compareSecret) and this listener runs with --require-auth: not served"

// authenticating reports whether a chain of interceptors refuses senders that hold no secret (see
// interceptors.Authenticating): a trigger without one accepts whatever anyone posts.
func authenticating(chain []*triggersv1beta1.TriggerInterceptor) bool {
	for _, ti := range chain {
		if ti == nil {
			continue
		}
		r, err := ti.Resolve()
		if err != nil {
			continue
		}
		if r.Builtin() && interceptors.Authenticating(r.Name, r.Params) {
			return true
		}
	}
	return false
}

// run is one trigger of one delivery on its way through the listener.
type run struct {
	t  *trigger
	cp *compiled
	// verified: cp.verifier's Verify let the delivery through on the raw body; the rest of the chain runs
	// with interceptors.RunVerified.
	verified bool
	proof    interceptors.Proof
	// verifyTime is the time Verify took, added to the chain's in the interceptor-duration metric.
	verifyTime time.Duration
	// done is set when the outcome was decided before the body was decoded (a configuration error, a
	// refusal, a skip by event type).
	done *TriggerResult
	// refused: the trigger refused the sender (signature or token missing or wrong, or the check could not
	// run); detail is the full reason, for the log and the EventListener's Events only.
	refused bool
	detail  string
}

// runChain runs the trigger's interceptors on req, skipping the signature check Verify already did.
func (ru *run) runChain(ctx context.Context, req *interceptors.Request) interceptors.Response {
	if ru.verified {
		return interceptors.RunVerified(ctx, ru.cp.chain, req)
	}
	return interceptors.Run(ctx, ru.cp.chain, req)
}

// verdict is what the provider checks made of a delivery before anything decoded its body.
type verdict struct {
	runs []run
	// proof is what the first trigger that authenticated the sender proved (NoProof: none did).
	proof interceptors.Proof
}

// authenticated reports whether some trigger's provider check accepted the sender's secret.
func (v *verdict) authenticated() bool { return v.proof != interceptors.NoProof }

// needsBody reports whether any trigger still has to run on the decoded body.
func (v *verdict) needsBody() bool {
	for i := range v.runs {
		if v.runs[i].done == nil {
			return true
		}
	}
	return false
}

// verify compiles every trigger of a delivery and runs the provider checks that lead their chains on the
// raw body. A trigger whose check refuses the sender, or skips the event type, is finished here: when
// every trigger is finished, the body is never decoded.
func (s *Server) verify(ctx context.Context, trigs []trigger, d delivery, body []byte, header http.Header) *verdict {
	v := &verdict{runs: make([]run, len(trigs))}
	for i := range trigs {
		ru := &v.runs[i]
		ru.t = &trigs[i]
		res := &TriggerResult{Name: ru.t.Name, Namespace: ru.t.Namespace}
		cp, err := s.config.compile(ctx, ru.t)
		if err != nil {
			res.Status, res.Reason = StatusFailed, err.Error()
			if !errors.Is(err, errConfig) {
				res.unavailable = isUnavailable(err)
			}
			ru.done = res
			continue
		}
		ru.cp = cp
		if cp.verifier == nil {
			continue
		}
		req := &interceptors.Request{Body: body, Header: header, Namespace: ru.t.Namespace,
			Context: interceptors.Context{EventID: d.EventID, TriggerID: "namespaces/" + ru.t.Namespace + "/triggers/" + ru.t.Name}}
		begin := time.Now()
		out := cp.verifier.Verify(ctx, req)
		ru.verifyTime = time.Since(begin)
		if out.Continue {
			ru.verified, ru.proof = true, out.Proof
			if v.proof == interceptors.NoProof {
				v.proof = out.Proof
			}
			continue
		}
		s.metrics.interceptorTime.WithLabelValues(cp.first).Observe(ru.verifyTime.Seconds())
		res.Status, res.Reason = StatusFailed, out.Message
		switch out.Code {
		case interceptors.Skip:
			res.Status = StatusSkipped
		case interceptors.Unauthenticated:
			res.unauthenticated = true
			ru.refused, ru.detail = true, out.Message
		case interceptors.InvalidArgument:
			res.badInput = true
		default:
			// The check could not run (the Secret is missing, has no such key…): the sender is refused
			// all the same, and the configuration problem goes to the log and the Events.
			ru.refused, ru.detail = true, out.Message
		}
		ru.done = res
	}
	return v
}

// Answers given to senders that proved nothing: fixed texts, so that no Secret name, CEL source or API
// error reaches someone who does not hold the secret.
const (
	coarseUnauthenticated = "refused: the signature or token is missing or does not match"
	coarseUnchecked       = "refused: the signature or token could not be checked (the listener's log and the EventListener's Events say why)"
	coarseSkipped         = "skipped: the event type or a filter did not match"
	coarseBadInput        = "failed: the payload lacks what this trigger needs"
	coarseFailed          = "failed (the listener's log says why)"
	coarseStranger        = "no trigger accepted this delivery's signature or token"
)

// coarsen rewrites the answer to a sender that no trigger authenticated although at least one trigger
// refused it: every reason becomes one of the fixed texts above and, when nothing was created, the answer
// lists only the triggers that refused. The full reasons go to the log and, for refusals, to the
// EventListener's Events. It returns the HTTP status to answer with. Senders that passed a check, and
// deliveries to EventListeners that ask for no secret at all, keep the detailed answer.
func (s *Server) coarsen(el *triggersv1beta1.EventListener, d delivery, v *verdict, resp *Response, code int, remote string) int {
	if v.authenticated() {
		return code
	}
	refused := map[string]*run{}
	for i := range v.runs {
		if ru := &v.runs[i]; ru.refused {
			refused[ru.t.Namespace+"/"+ru.t.Name] = ru
		}
	}
	// Triggers that refused in their chain (an external interceptor, a cel compareSecret) rather than in a
	// leading provider check count too.
	for i := range resp.Triggers {
		tr := &resp.Triggers[i]
		if _, ok := refused[tr.Namespace+"/"+tr.Name]; !ok && tr.unauthenticated {
			for j := range v.runs {
				if ru := &v.runs[j]; ru.t.Namespace == tr.Namespace && ru.t.Name == tr.Name {
					ru.refused, ru.detail = true, tr.Reason
					refused[tr.Namespace+"/"+tr.Name] = ru
				}
			}
		}
	}
	if len(refused) == 0 {
		return code
	}
	keys := make([]string, 0, len(refused))
	for k := range refused {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ru := refused[k]
		s.log.Info("delivery refused by trigger", "listener", el.Name, "namespace", el.Namespace, "trigger", k,
			"deliveryID", d.ID, "eventID", d.EventID, "remote", remote, "reason", ru.detail)
		s.event(el, corev1.EventTypeWarning, "DeliveryRefused", "trigger %s refused delivery %q (event %s) from %s: %s",
			k, d.ID, d.EventID, remote, ru.detail)
	}
	created, anyUnauth := false, false
	kept := resp.Triggers[:0:0]
	for _, tr := range resp.Triggers {
		if tr.Status == StatusCreated {
			created = true
		}
		switch _, ok := refused[tr.Namespace+"/"+tr.Name]; {
		case ok && tr.unauthenticated:
			anyUnauth = true
			tr.Reason = coarseUnauthenticated
		case ok:
			tr.Reason = coarseUnchecked
		default:
			if tr.Status != StatusCreated {
				s.log.Info("trigger outcome withheld from an unauthenticated sender", "listener", el.Name,
					"trigger", tr.Namespace+"/"+tr.Name, "eventID", d.EventID, "status", tr.Status, "reason", tr.Reason)
			}
			tr.Reason = coarseReason(tr)
		}
		kept = append(kept, tr)
	}
	resp.Triggers = kept
	if created {
		return code
	}
	only := resp.Triggers[:0:0]
	for _, tr := range resp.Triggers {
		if _, ok := refused[tr.Namespace+"/"+tr.Name]; ok {
			only = append(only, tr)
		}
	}
	resp.Triggers = only
	resp.Message = coarseStranger
	if code == http.StatusServiceUnavailable {
		return code
	}
	if anyUnauth {
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// coarseReason is the fixed text for a trigger outcome given to a sender that proved nothing.
func coarseReason(tr TriggerResult) string {
	switch {
	case tr.Status == StatusCreated:
		return tr.Reason // "already created by an earlier delivery…": no configuration in it
	case tr.Status == StatusSkipped:
		return coarseSkipped
	case tr.unavailable:
		return "failed: the Kubernetes API was unavailable"
	case tr.badInput:
		return coarseBadInput
	}
	if strings.HasPrefix(tr.Reason, "rolled back") {
		return tr.Reason
	}
	return coarseFailed
}
