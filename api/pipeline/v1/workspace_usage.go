package v1

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// UnmarshalJSON decodes a step's or sidecar's workspace usage with encoding/json, which matches keys to
// fields ignoring case (so "mountpath" sets MountPath, as in Tekton), and records the keys that match no
// field in UnknownFields. The API server's decoder is case-sensitive; this method is what makes the
// lower-case spelling work, here and in hookrun validate.
func (w *WorkspaceUsage) UnmarshalJSON(data []byte) error {
	type plain WorkspaceUsage
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("workspace usage: %w", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return fmt.Errorf("workspace usage: %w", err)
	}
	p.UnknownFields = nil
	for k := range keys {
		if !strings.EqualFold(k, "name") && !strings.EqualFold(k, "mountPath") {
			p.UnknownFields = append(p.UnknownFields, k)
		}
	}
	sort.Strings(p.UnknownFields)
	*w = WorkspaceUsage(p)
	return nil
}

// UnknownWorkspaceFields names, for messages, the first unknown key of a step's or sidecar's workspace
// usages ("steps[0].workspaces[1].mountPth"), or "" when there is none. field is the step or sidecar's path.
func UnknownWorkspaceFields(field string, usages []WorkspaceUsage) string {
	for i, u := range usages {
		if len(u.UnknownFields) > 0 {
			return fmt.Sprintf("%s.workspaces[%d].%s", field, i, u.UnknownFields[0])
		}
	}
	return ""
}
