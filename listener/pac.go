package listener

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/pac"
)

// PACPath is where deliveries for Pipelines-as-Code Repositories are POSTed. No EventListener is
// involved: the delivery's repository URL picks the Repository (in the namespaces the listener watches),
// whose git_provider.webhook_secret verifies it.
const PACPath = "/hooks/pac"

// handlePAC serves POST /hooks/pac: the body is read within the budget, checked against the webhook
// secret of every Repository of the delivery's provider before it is decoded, and handed to package pac
// for the Repositories it verified against and whose URL it names. The answer has one trigger result per
// PipelineRun of `.tekton/` (named REPOSITORY/PIPELINERUN) or per comment command.
func (s *Server) handlePAC(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := identify(r.Header)
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.HandlerTimeout)
	defer cancel()
	mem := s.budget.hold()
	defer mem.release()
	body, err := s.readBody(ctx, w, r, mem)
	if err != nil {
		w.Header().Set("Connection", "close")
		code, msg := s.bodyAnswer(err)
		writeError(w, code, msg)
		return
	}
	release, ok := s.slots.acquire(ctx)
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many deliveries in flight; retry later")
		return
	}
	defer release()
	var repos pacv1alpha1.RepositoryList
	if err := s.reader.List(ctx, &repos); err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot read Repositories; retry later")
		return
	}
	verified, why := s.pacVerify(ctx, repos.Items, d.Provider, r.Header, body)
	if len(verified) == 0 {
		s.log.Info("pac delivery refused", "provider", d.Provider, "event", d.Event, "deliveryID", d.ID, "remote", r.RemoteAddr, "reason", why)
		writeError(w, http.StatusUnauthorized, "the delivery matches no Repository's webhook secret")
		return
	}
	ev, err := pac.ParseEvent(d.Provider, r.Header, body)
	var ign *pac.ErrIgnored
	if errors.As(err, &ign) {
		writeJSON(w, http.StatusAccepted, Response{DeliveryID: d.ID, EventID: d.EventID, Message: ign.Reason, Triggers: []TriggerResult{}})
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	runner := &pac.Runner{Reader: s.reader, Client: s.client, Log: s.log}
	sum := sha256.Sum256(body)
	seed := d.Provider + "/" + hex.EncodeToString(sum[:16])
	resp := Response{DeliveryID: d.ID, EventID: d.EventID, Triggers: []TriggerResult{}}
	for i := range verified {
		repo := &verified[i]
		if !pac.Matches(repo, ev) {
			continue
		}
		for _, res := range runner.Handle(ctx, repo, ev, seed) {
			resp.Triggers = append(resp.Triggers, pacResult(repo, res))
		}
	}
	if len(resp.Triggers) == 0 {
		resp.Message = fmt.Sprintf("no Repository of URL %s among those the delivery verified against", ev.RepoURL)
	}
	code := statusFor(resp.Triggers)
	writeJSON(w, code, resp)
	s.log.Info("pac delivery", "provider", d.Provider, "event", d.Event, "deliveryID", d.ID, "repo", ev.RepoURL,
		"code", code, "outcome", summary(resp.Triggers), "duration", time.Since(start).String())
}

// pacVerify returns the Repositories whose webhook secret the delivery carries (signature over the raw
// body, or GitLab's token), using the provider interceptors' own checks.
func (s *Server) pacVerify(ctx context.Context, repos []pacv1alpha1.Repository, provider string, h http.Header, body []byte) ([]pacv1alpha1.Repository, string) {
	var out []pacv1alpha1.Repository
	why := "no Repository has a git_provider.webhook_secret for provider " + provider
	for _, repo := range repos {
		if pac.ProviderOf(&repo, provider) != provider {
			continue
		}
		name, key, ok := pac.WebhookSecret(&repo)
		if !ok {
			continue
		}
		ref, _ := json.Marshal(map[string]string{"secretName": name, "secretKey": key})
		ic, err := interceptors.Build(provider, map[string]json.RawMessage{"secretRef": ref}, s.config.secrets, interceptors.Options{})
		if err != nil {
			why = err.Error()
			continue
		}
		v, ok := ic.(interceptors.Verifier)
		if !ok {
			continue
		}
		res := v.Verify(ctx, &interceptors.Request{Body: body, Header: h, Namespace: repo.Namespace})
		if res.Continue {
			out = append(out, repo)
		} else {
			why = res.Message
		}
	}
	return out, why
}

func pacResult(repo *pacv1alpha1.Repository, res pac.Result) TriggerResult {
	tr := TriggerResult{Name: repo.Name + "/" + res.Name, Namespace: res.Namespace, Status: res.Status, Reason: res.Reason,
		Duplicate: res.Duplicate, Cancelled: res.Cancelled, unavailable: res.Unavailable}
	for _, r := range res.Runs {
		tr.Resources = append(tr.Resources, Resource{APIVersion: r.APIVersion, Kind: "PipelineRun", Namespace: r.Namespace, Name: r.Name})
	}
	return tr
}
