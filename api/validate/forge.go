package validate

import (
	"encoding/json"
	"fmt"

	"github.com/hookrun/hookrun/forge"
)

// statusAnnotations reports what is wrong with the commit-status annotations (hookrun.dev/status…) of an
// object at path (its metadata.annotations). Values a TriggerTemplate fills from params are only checked
// for presence.
func (v *validator) statusAnnotations(path string, annotations map[string]string) {
	for _, p := range forge.CheckAnnotations(annotations) {
		v.add(fmt.Sprintf("%s[%q]", path, p.Key), "%s", p.Reason)
	}
}

// resourceTemplateAnnotations reads metadata.annotations of a TriggerTemplate's resource template (raw
// JSON, before rendering) and checks the status annotations.
func (v *validator) resourceTemplateAnnotations(path string, raw []byte) {
	var probe struct {
		Metadata struct {
			Annotations map[string]any `json:"annotations"`
		} `json:"metadata"`
	}
	if json.Unmarshal(raw, &probe) != nil || len(probe.Metadata.Annotations) == 0 {
		return
	}
	ann := make(map[string]string, len(probe.Metadata.Annotations))
	for k, val := range probe.Metadata.Annotations {
		s, ok := val.(string)
		if !ok {
			v.add(fmt.Sprintf("%s.metadata.annotations[%q]", path, k), "must be a string (quote it)")
			continue
		}
		ann[k] = s
	}
	v.statusAnnotations(path+".metadata.annotations", ann)
}
