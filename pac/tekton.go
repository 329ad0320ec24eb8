package pac

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/hookrun/hookrun/forge"
)

// Doc is one YAML document of a `.tekton/` file.
type Doc struct {
	File  string
	Index int // 1-based position in its file
	Kind  string
	Name  string
	Obj   map[string]any
}

// maxDocBytes bounds one document (the forge's contents API serves files up to 1 MB).
const maxDocBytes = 1 << 20

// SplitDocs parses the YAML documents of files. Documents that are not Kubernetes objects (no kind, a
// list, a scalar) are skipped silently, as Pipelines-as-Code does for other YAML kept in `.tekton/`;
// YAML that does not parse is an error naming the file and document.
func SplitDocs(files []forge.File) ([]Doc, error) {
	var out []Doc
	var errs []error
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".yaml") && !strings.HasSuffix(f.Path, ".yml") {
			continue
		}
		r := utilyaml.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(f.Content), 4096))
		for idx := 1; ; idx++ {
			raw, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: document %d: %w", f.Path, idx, err))
				break
			}
			if len(bytes.TrimSpace(raw)) == 0 {
				idx--
				continue
			}
			if len(raw) > maxDocBytes {
				errs = append(errs, fmt.Errorf("%s: document %d: over %d bytes", f.Path, idx, maxDocBytes))
				continue
			}
			var obj map[string]any
			if err := yaml.Unmarshal(raw, &obj); err != nil {
				errs = append(errs, fmt.Errorf("%s: document %d: not valid YAML: %w", f.Path, idx, err))
				continue
			}
			kind, _ := obj["kind"].(string)
			if kind == "" {
				continue
			}
			md, _ := obj["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			if name == "" {
				name, _ = md["generateName"].(string)
			}
			out = append(out, Doc{File: f.Path, Index: idx, Kind: kind, Name: name, Obj: obj})
		}
	}
	return out, errors.Join(errs...)
}

// Inline replaces run's pipelineRef and its tasks' taskRefs that name a Pipeline or Task defined in docs
// by their specs, as Pipelines-as-Code's resolver does. References with a resolver, a bundle or a name
// docs do not define are left for the executor (a Pipeline or Task in the cluster).
func Inline(run map[string]any, docs []Doc) error {
	pipelines, tasks := map[string]map[string]any{}, map[string]map[string]any{}
	for _, d := range docs {
		spec, _ := d.Obj["spec"].(map[string]any)
		switch d.Kind {
		case "Pipeline":
			pipelines[d.Name] = spec
		case "Task":
			tasks[d.Name] = spec
		}
	}
	spec, _ := run["spec"].(map[string]any)
	if spec == nil {
		return errors.New("PipelineRun without spec")
	}
	if ref, ok := spec["pipelineRef"].(map[string]any); ok && plainRef(ref, "Pipeline") {
		name, _ := ref["name"].(string)
		if p, ok := pipelines[name]; ok {
			delete(spec, "pipelineRef")
			spec["pipelineSpec"] = deepCopy(p)
		}
	}
	ps, _ := spec["pipelineSpec"].(map[string]any)
	if ps == nil {
		return nil
	}
	for _, list := range []string{"tasks", "finally"} {
		items, _ := ps[list].([]any)
		for _, it := range items {
			pt, _ := it.(map[string]any)
			ref, ok := pt["taskRef"].(map[string]any)
			if !ok || !plainRef(ref, "Task") {
				continue
			}
			name, _ := ref["name"].(string)
			if t, ok := tasks[name]; ok {
				delete(pt, "taskRef")
				pt["taskSpec"] = deepCopy(t)
			}
		}
	}
	return nil
}

// plainRef: a reference by name alone (no resolver, no bundle, kind absent or kind).
func plainRef(ref map[string]any, kind string) bool {
	if ref["resolver"] != nil || ref["bundle"] != nil || ref["params"] != nil {
		return false
	}
	k, _ := ref["kind"].(string)
	return k == "" || k == kind
}

func deepCopy(m map[string]any) map[string]any {
	data, err := yaml.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if yaml.Unmarshal(data, &out) != nil {
		return m
	}
	return out
}
