package listener

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countingMapper counts the RESTMapping calls that reach it.
type countingMapper struct {
	meta.RESTMapper
	calls int
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.calls++
	return c.RESTMapper.RESTMapping(gk, versions...)
}

func TestMemoMapper(t *testing.T) {
	gv := schema.GroupVersion{Group: "tekton.dev", Version: "v1"}
	base := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
	base.Add(gv.WithKind("PipelineRun"), meta.RESTScopeNamespace)
	counting := &countingMapper{RESTMapper: base}
	m := MemoMapper(counting)
	gk := schema.GroupKind{Group: "tekton.dev", Kind: "PipelineRun"}
	for i := 0; i < 3; i++ {
		rm, err := m.RESTMapping(gk, "v1")
		if err != nil || rm.Scope.Name() != meta.RESTScopeNameNamespace || rm.Resource.Resource != "pipelineruns" {
			t.Fatalf("RESTMapping = %+v, %v", rm, err)
		}
	}
	if counting.calls != 1 {
		t.Errorf("%d lookups reached the mapper for one kind and version, want 1", counting.calls)
	}
	if _, err := m.RESTMapping(gk, "v2"); err == nil {
		t.Fatal("RESTMapping of an unknown version succeeded")
	}
	// A kind installed later is found: failures are not remembered.
	gk2 := schema.GroupKind{Group: "tekton.dev", Kind: "TaskRun"}
	if _, err := m.RESTMapping(gk2, "v1"); !meta.IsNoMatchError(err) {
		t.Fatalf("RESTMapping of a missing kind: %v, want a no-match error", err)
	}
	base.Add(gv.WithKind("TaskRun"), meta.RESTScopeNamespace)
	if _, err := m.RESTMapping(gk2, "v1"); err != nil {
		t.Fatalf("RESTMapping of a kind added since: %v", err)
	}
}
