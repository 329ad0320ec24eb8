package v1

import (
	"maps"
	"slices"
)

// Artifacts are the provenance a step or Task reports (Tekton's artifacts, alpha): what it consumed
// (inputs) and produced (outputs), each a named list of values.
type Artifacts struct {
	// +optional
	Inputs []Artifact `json:"inputs,omitempty"`
	// +optional
	Outputs []Artifact `json:"outputs,omitempty"`
}

// Artifact is one named category of artifacts.
type Artifact struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Values []ArtifactValue `json:"values,omitempty"`
	// BuildOutput marks an output as a subject of the build (Tekton Chains' SLSA provenance).
	// +optional
	BuildOutput bool `json:"buildOutput,omitempty"`
}

// ArtifactValue is one artifact: where it is (uri, purl recommended) and its digests by algorithm.
type ArtifactValue struct {
	// +optional
	Digest map[string]string `json:"digest,omitempty"`
	// +optional
	Uri string `json:"uri,omitempty"` //nolint:revive // Tekton's field name
}

// Merge adds other's artifacts to a: categories by name, in first-seen order; a value already listed in
// its category is not added again; an output is a build output when either says so (Tekton's merge).
func (a *Artifacts) Merge(other *Artifacts) {
	if other == nil {
		return
	}
	a.Inputs = mergeArtifacts(a.Inputs, other.Inputs)
	a.Outputs = mergeArtifacts(a.Outputs, other.Outputs)
}

func mergeArtifacts(into, more []Artifact) []Artifact {
	for _, m := range more {
		i := slices.IndexFunc(into, func(x Artifact) bool { return x.Name == m.Name })
		if i < 0 {
			into = append(into, Artifact{Name: m.Name, BuildOutput: m.BuildOutput})
			i = len(into) - 1
		}
		into[i].BuildOutput = into[i].BuildOutput || m.BuildOutput
		for _, v := range m.Values {
			if !slices.ContainsFunc(into[i].Values, func(x ArtifactValue) bool { return x.Uri == v.Uri && maps.Equal(x.Digest, v.Digest) }) {
				into[i].Values = append(into[i].Values, v)
			}
		}
	}
	return into
}
