package v1beta1

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NewConditions returns conds sorted by type (as Knative sorts them, so tools reading the first condition
// of an EventListener see Available), each stamped now unless old has the same type and status, whose
// lastTransitionTime it keeps.
func NewConditions(old []Condition, now metav1.Time, conds ...Condition) []Condition {
	out := make([]Condition, 0, len(conds))
	for _, c := range conds {
		c.LastTransitionTime = now
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// Equal reports whether two EventListener statuses say the same (address, configuration, conditions
// with their transition times), so a writer can skip a no-op update.
func (s EventListenerStatus) Equal(o EventListenerStatus) bool {
	if (s.Address == nil) != (o.Address == nil) || s.Address != nil && s.Address.URL != o.Address.URL {
		return false
	}
	if s.Configuration != o.Configuration || len(s.Conditions) != len(o.Conditions) {
		return false
	}
	for i := range s.Conditions {
		x, y := s.Conditions[i], o.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || !x.LastTransitionTime.Equal(&y.LastTransitionTime) {
			return false
		}
	}
	return true
}
