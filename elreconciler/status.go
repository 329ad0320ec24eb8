package elreconciler

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Condition types Tekton's reconciler sets on an EventListener it deploys: Deployment and Service
// (existence), the Deployment's own conditions (Available, Progressing, ReplicaFailure) and Ready. They
// are sorted by type, so the first (what `tkn eventlistener list` shows) is Available.
const (
	ConditionDeployment = "Deployment"
	ConditionService    = "Service"
	ConditionAvailable  = "Available"
	ConditionReady      = "Ready"

	ReasonCustomResource  = "CustomResourceNotSupported"
	ReasonInvalidResource = "InvalidKubernetesResource"
	ReasonDeploymentWait  = "DeploymentNotObserved"
	ReasonReady           = "EventListenerReady"
	ReasonNotReady        = "EventListenerNotReady"
	conditionTrue         = "True"
	conditionFalse        = "False"
	conditionUnknown      = "Unknown"
)

// status collects the conditions of one reconcile.
type status struct {
	el      *triggersv1beta1.EventListener
	now     metav1.Time
	address string
	conds   map[string]triggersv1beta1.Condition
}

func newStatus(el *triggersv1beta1.EventListener, now time.Time) *status {
	return &status{el: el, now: metav1.NewTime(now.Truncate(time.Second)), conds: map[string]triggersv1beta1.Condition{}}
}

func (s *status) set(typ, st, reason, msg string) {
	s.conds[typ] = triggersv1beta1.Condition{Type: typ, Status: st, Reason: reason, Message: msg}
}

// unsupported marks the EventListener as one the reconciler cannot deploy.
func (s *status) unsupported(reason, msg string) {
	s.set(ConditionReady, conditionFalse, reason, msg)
}

// exists records whether the Deployment or Service could be made.
func (s *status) exists(typ string, err error) {
	if err != nil {
		s.set(typ, conditionFalse, typ+"Failed", err.Error())
		return
	}
	s.set(typ, conditionTrue, typ+"Exists", fmt.Sprintf("%s %s exists", typ, triggersv1beta1.GeneratedName(s.el)))
}

// deployment copies the Deployment's conditions. Until the Deployment controller has reported on it,
// Available is Unknown (Tekton would call such an EventListener ready; `kubectl wait` must not).
func (s *status) deployment(d *appsv1.Deployment) {
	for _, c := range d.Status.Conditions {
		s.set(string(c.Type), string(c.Status), c.Reason, c.Message)
	}
	if _, ok := s.conds[ConditionAvailable]; !ok {
		s.set(ConditionAvailable, conditionUnknown, ReasonDeploymentWait,
			fmt.Sprintf("the Deployment controller has not reported on %s yet", d.Name))
	}
}

// ready sets Ready from the others, as Tekton does: the first of Service, Deployment, Progressing,
// Available that is not True makes it False and says why.
func (s *status) ready() {
	for _, typ := range []string{ConditionService, ConditionDeployment, string(appsv1.DeploymentProgressing), ConditionAvailable} {
		c, ok := s.conds[typ]
		if ok && c.Status != conditionTrue {
			s.set(ConditionReady, conditionFalse, ReasonNotReady,
				fmt.Sprintf("Condition %s has status: %s with message: %s", c.Type, c.Status, c.Message))
			return
		}
	}
	s.set(ConditionReady, conditionTrue, ReasonReady, "EventListener is ready at "+s.address)
}

// build is the status to write: conditions sorted by type, each keeping its lastTransitionTime while its
// status does not change.
func (s *status) build() triggersv1beta1.EventListenerStatus {
	st := triggersv1beta1.EventListenerStatus{
		Configuration: triggersv1beta1.EventListenerConfig{GeneratedResourceName: triggersv1beta1.GeneratedName(s.el)},
	}
	if s.address != "" {
		st.Address = &triggersv1beta1.Addressable{URL: s.address}
	}
	conds := make([]triggersv1beta1.Condition, 0, len(s.conds))
	for _, c := range s.conds {
		conds = append(conds, c)
	}
	st.Conditions = triggersv1beta1.NewConditions(s.el.Status.Conditions, s.now, conds...)
	return st
}
