package v1

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParamType is the type of a parameter: string, array or object.
type ParamType string

// The parameter types Tekton defines.
const (
	ParamTypeString ParamType = "string"
	ParamTypeArray  ParamType = "array"
	ParamTypeObject ParamType = "object"
)

// ParamValue is a parameter value: a string, an array of strings or an object of strings. In JSON it is the
// bare value ("x", ["a","b"] or {"k":"v"}). Fields of this type carry the Schemaless and
// PreserveUnknownFields markers so the CRD schema accepts all three shapes.
type ParamValue struct {
	Type      ParamType         `json:"-"`
	StringVal string            `json:"-"`
	ArrayVal  []string          `json:"-"`
	ObjectVal map[string]string `json:"-"`
}

// NewStringValue returns a string ParamValue.
func NewStringValue(s string) *ParamValue { return &ParamValue{Type: ParamTypeString, StringVal: s} }

// NewArrayValue returns an array ParamValue.
func NewArrayValue(a ...string) *ParamValue { return &ParamValue{Type: ParamTypeArray, ArrayVal: a} }

// NewObjectValue returns an object ParamValue.
func NewObjectValue(o map[string]string) *ParamValue {
	return &ParamValue{Type: ParamTypeObject, ObjectVal: o}
}

// MarshalJSON writes the bare value.
func (v ParamValue) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case ParamTypeArray:
		if v.ArrayVal == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(v.ArrayVal)
	case ParamTypeObject:
		if v.ObjectVal == nil {
			return []byte("{}"), nil
		}
		return json.Marshal(v.ObjectVal)
	default:
		return json.Marshal(v.StringVal)
	}
}

// UnmarshalJSON reads a string, an array of strings or an object of strings. Numbers and booleans are read
// as their text, as Tekton does, since YAML users often write `value: 1` or `value: true`.
func (v *ParamValue) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	*v = ParamValue{}
	if len(data) == 0 || string(data) == "null" {
		v.Type = ParamTypeString
		return nil
	}
	switch data[0] {
	case '[':
		v.Type = ParamTypeArray
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("array param value: %w", err)
		}
		v.ArrayVal = make([]string, len(raw))
		for i, r := range raw {
			s, err := scalarText(r)
			if err != nil {
				return fmt.Errorf("array param value [%d]: %w", i, err)
			}
			v.ArrayVal[i] = s
		}
	case '{':
		v.Type = ParamTypeObject
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("object param value: %w", err)
		}
		v.ObjectVal = make(map[string]string, len(raw))
		for k, r := range raw {
			s, err := scalarText(r)
			if err != nil {
				return fmt.Errorf("object param value key %q: %w", k, err)
			}
			v.ObjectVal[k] = s
		}
	case '"':
		v.Type = ParamTypeString
		if err := json.Unmarshal(data, &v.StringVal); err != nil {
			return err
		}
	default:
		v.Type = ParamTypeString
		v.StringVal = string(data)
	}
	return nil
}

// scalarText returns a JSON string's text, or a number's or boolean's literal text.
func scalarText(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return "", nil
	}
	switch r[0] {
	case '"':
		var s string
		err := json.Unmarshal(r, &s)
		return s, err
	case '[', '{':
		return "", fmt.Errorf("must be a string, not %s", map[byte]string{'[': "an array", '{': "an object"}[r[0]])
	}
	if string(r) == "null" {
		return "", nil
	}
	return string(r), nil
}

// Param is a named value passed to a Task or Pipeline.
type Param struct {
	Name string `json:"name"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Value ParamValue `json:"value"`
}

// Params is a list of Param.
type Params []Param

// ParamSpec declares a parameter of a Task or Pipeline.
type ParamSpec struct {
	Name        string    `json:"name"`
	Type        ParamType `json:"type,omitempty"`
	Description string    `json:"description,omitempty"`
	// +optional
	Properties map[string]PropertySpec `json:"properties,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Default *ParamValue `json:"default,omitempty"`
	// +optional
	Enum []string `json:"enum,omitempty"`
}

// EffectiveType is the param's type as Tekton defaults it: the declared type, else the default value's
// type, else object when properties are declared, else string.
func (ps *ParamSpec) EffectiveType() ParamType {
	switch {
	case ps.Type != "":
		return ps.Type
	case ps.Default != nil && ps.Default.Type != "":
		return ps.Default.Type
	case len(ps.Properties) > 0:
		return ParamTypeObject
	}
	return ParamTypeString
}

// PropertySpec is the type of one key of an object parameter.
type PropertySpec struct {
	Type ParamType `json:"type,omitempty"`
}

// ParamSpecs is a list of ParamSpec.
type ParamSpecs []ParamSpec

// WorkspaceDeclaration declares a workspace a Task needs.
type WorkspaceDeclaration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	MountPath   string `json:"mountPath,omitempty"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

// PipelineWorkspaceDeclaration declares a workspace a Pipeline needs.
type PipelineWorkspaceDeclaration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Optional    bool   `json:"optional,omitempty"`
}

// WorkspacePipelineTaskBinding maps a Pipeline workspace to a Task workspace.
type WorkspacePipelineTaskBinding struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace,omitempty"`
	SubPath   string `json:"subPath,omitempty"`
}

// WorkspaceUsage lets a step or sidecar say which workspaces it uses. Its keys are matched ignoring case,
// as Tekton's webhook decodes them (encoding/json): Tekton's own examples write mountpath. The schema keeps
// the keys it does not list, so that spelling reaches UnmarshalJSON; keys matching no field even ignoring
// case are recorded in UnknownFields and refused by the executor and hookrun validate, as Tekton refuses
// unknown fields.
// +kubebuilder:pruning:PreserveUnknownFields
type WorkspaceUsage struct {
	Name string `json:"name"`
	// MountPath is where this step or sidecar mounts the workspace; empty means the workspace's own path.
	// +optional
	MountPath string `json:"mountPath,omitempty"`
	// UnknownFields are the keys given that match no field even ignoring case (set by UnmarshalJSON, never
	// serialised).
	UnknownFields []string `json:"-"`
}

// ResultsType is the type of a result.
type ResultsType string

// TaskResult declares a result a Task writes.
type TaskResult struct {
	Name        string                  `json:"name"`
	Type        ResultsType             `json:"type,omitempty"`
	Properties  map[string]PropertySpec `json:"properties,omitempty"`
	Description string                  `json:"description,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Value *ParamValue `json:"value,omitempty"`
}

// StepResult declares a result of a single step.
type StepResult struct {
	Name        string                  `json:"name"`
	Type        ResultsType             `json:"type,omitempty"`
	Properties  map[string]PropertySpec `json:"properties,omitempty"`
	Description string                  `json:"description,omitempty"`
}

// PipelineResult declares a result of a Pipeline, computed from task results.
type PipelineResult struct {
	Name        string      `json:"name"`
	Type        ResultsType `json:"type,omitempty"`
	Description string      `json:"description,omitempty"`
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Value ParamValue `json:"value"`
}

// WhenExpression guards a task: it runs only if Input is (or is not) in Values.
type WhenExpression struct {
	Input    string   `json:"input,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Values   []string `json:"values,omitempty"`
	CEL      string   `json:"cel,omitempty"`
}

// WhenExpressions is a list of WhenExpression; all must hold.
type WhenExpressions []WhenExpression
