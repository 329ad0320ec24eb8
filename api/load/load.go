// Package load reads multi-document YAML (or JSON) manifests into typed hookrun and Kubernetes objects,
// strictly: an unknown field, an unknown kind or a v1beta1-only field in a v1 object is a Problem naming the
// file, the document and the field path.
package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	pacv1alpha1 "github.com/hookrun/hookrun/api/pac/v1alpha1"
	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	pipelinev1alpha1 "github.com/hookrun/hookrun/api/pipeline/v1alpha1"
	pipelinev1beta1 "github.com/hookrun/hookrun/api/pipeline/v1beta1"
	resourcev1alpha1 "github.com/hookrun/hookrun/api/resource/v1alpha1"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Object is one decoded document.
type Object struct {
	File  string // path as given
	Index int    // 1-based position of the document in its file
	GVK   schema.GroupVersionKind
	Name  string
	// Obj is the typed object (hookrun kinds decode into api/pipeline/v1, api/triggers/v1beta1 or
	// api/resource/v1alpha1 types; Kubernetes kinds into client-go types). Tekton objects are NOT normalised.
	Obj runtime.Object
	// JSON is the document as JSON.
	JSON []byte
}

// Where names the document for messages: "file: document N (Kind name)".
func (o *Object) Where() string {
	return fmt.Sprintf("%s: document %d (%s %s)", o.File, o.Index, o.GVK.Kind, o.Name)
}

// Problem is one thing wrong with a document.
type Problem struct {
	File   string
	Index  int    // 1-based document index; 0 when the file itself could not be read
	Kind   string // kind and name of the object, when known
	Name   string
	Field  string // field path, e.g. spec.tasks[1].runAfter[0]; empty for whole-document problems
	Reason string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Index > 0 {
		fmt.Fprintf(&b, ": document %d", p.Index)
		if p.Kind != "" {
			fmt.Fprintf(&b, " (%s %s)", p.Kind, p.Name)
		}
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// ErrUnknownKind marks a document whose apiVersion/kind hookrun does not know.
var ErrUnknownKind = errors.New("unknown kind")

func hookrunObject(gvk schema.GroupVersionKind) (runtime.Object, bool) {
	switch gvk.Group {
	case pipelinev1.GroupVersion.Group:
		if gvk.Version == "v1" || gvk.Version == "v1beta1" {
			switch gvk.Kind {
			case "Task":
				return &pipelinev1.Task{}, true
			case "Pipeline":
				return &pipelinev1.Pipeline{}, true
			case "PipelineRun":
				return &pipelinev1.PipelineRun{}, true
			case "TaskRun":
				return &pipelinev1.TaskRun{}, true
			}
		}
		if gvk.Kind == "StepAction" && (gvk.Version == "v1" || gvk.Version == "v1beta1" || gvk.Version == "v1alpha1") {
			return &pipelinev1.StepAction{}, true
		}
		if gvk.Version == "v1beta1" && gvk.Kind == "ClusterTask" {
			return &pipelinev1beta1.ClusterTask{}, true
		}
		if gvk.Version == "v1beta1" && gvk.Kind == "CustomRun" {
			return &pipelinev1beta1.CustomRun{}, true
		}
		if gvk.Version == "v1alpha1" && gvk.Kind == "Run" {
			return &pipelinev1alpha1.Run{}, true
		}
		if gvk.Version == "v1alpha1" && gvk.Kind == "PipelineResource" {
			return &resourcev1alpha1.PipelineResource{}, true
		}
	case pacv1alpha1.GroupVersion.Group:
		if gvk.Version == "v1alpha1" && gvk.Kind == "Repository" {
			return &pacv1alpha1.Repository{}, true
		}
	case triggersv1beta1.GroupVersion.Group:
		// v1alpha1 (old tutorials; Tekton's only version of ClusterInterceptor and Interceptor) is served
		// with the v1beta1 schema.
		if gvk.Version == "v1alpha1" {
			gvk.Version = "v1beta1"
		}
		if gvk.Version == "v1beta1" {
			switch gvk.Kind {
			case "EventListener":
				return &triggersv1beta1.EventListener{}, true
			case "Trigger":
				return &triggersv1beta1.Trigger{}, true
			case "TriggerBinding":
				return &triggersv1beta1.TriggerBinding{}, true
			case "ClusterTriggerBinding":
				return &triggersv1beta1.ClusterTriggerBinding{}, true
			case "TriggerTemplate":
				return &triggersv1beta1.TriggerTemplate{}, true
			case "ClusterInterceptor":
				return &triggersv1beta1.ClusterInterceptor{}, true
			case "Interceptor":
				return &triggersv1beta1.Interceptor{}, true
			}
		}
	}
	return nil, false
}

// Paths expands files and directories (recursively: *.yaml, *.yml, *.json) into a sorted file list.
func Paths(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// File reads one file.
func File(path string) ([]Object, []Problem) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []Problem{{File: path, Reason: err.Error()}}
	}
	defer f.Close()
	return Reader(path, f)
}

// Reader reads every document of r (named name in messages).
func Reader(name string, r io.Reader) ([]Object, []Problem) {
	var objs []Object
	var problems []Problem
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for idx := 1; ; idx++ {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, Problem{File: name, Index: idx, Reason: fmt.Sprintf("read: %v", err)})
			break
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			idx--
			continue
		}
		obj, probs := Document(name, idx, doc)
		problems = append(problems, probs...)
		if obj != nil {
			objs = append(objs, *obj)
		}
	}
	return objs, problems
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// Document decodes one YAML or JSON document. A document with problems still returns its object when it
// could be decoded, so cross-document checks can run.
func Document(file string, idx int, doc []byte) (*Object, []Problem) {
	prob := func(kind, name, field, reason string) Problem {
		return Problem{File: file, Index: idx, Kind: kind, Name: name, Field: field, Reason: reason}
	}
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, []Problem{prob("", "", "", fmt.Sprintf("not valid YAML: %v", err))}
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
		return nil, []Problem{prob("", "", "", fmt.Sprintf("not a Kubernetes object: %v", err))}
	}
	name := meta.Metadata.Name
	if name == "" && meta.Metadata.GenerateName != "" {
		name = meta.Metadata.GenerateName + "*"
	}
	if meta.APIVersion == "" {
		return nil, []Problem{prob(meta.Kind, name, "apiVersion", "required")}
	}
	if meta.Kind == "" {
		return nil, []Problem{prob("", name, "kind", "required")}
	}
	gv, err := schema.ParseGroupVersion(meta.APIVersion)
	if err != nil {
		return nil, []Problem{prob(meta.Kind, name, "apiVersion", err.Error())}
	}
	gvk := gv.WithKind(meta.Kind)
	obj, ok := hookrunObject(gvk)
	if !ok {
		o, err := clientgoscheme.Scheme.New(gvk)
		if err != nil {
			return nil, []Problem{prob(meta.Kind, name, "kind", fmt.Sprintf("%v: %s %s is not a kind hookrun or Kubernetes knows", ErrUnknownKind, meta.APIVersion, meta.Kind))}
		}
		obj = o
	}
	var problems []Problem
	strict, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, []Problem{prob(meta.Kind, name, "", fmt.Sprintf("cannot decode: %v", err))}
	}
	for _, se := range strict {
		field, reason := "", se.Error()
		var fe sigsjson.FieldError
		if errors.As(se, &fe) {
			field = fe.FieldPath()
			reason = strings.TrimSpace(strings.TrimPrefix(reason, "json: "))
		}
		problems = append(problems, prob(meta.Kind, name, field, reason))
	}
	o := &Object{File: file, Index: idx, GVK: gvk, Name: name, Obj: obj, JSON: js}
	if gvk.Group == pipelinev1.GroupVersion.Group && gvk.Version == "v1" {
		for _, f := range betaOnlyFields(obj) {
			problems = append(problems, prob(meta.Kind, name, f.path, fmt.Sprintf("field is only valid in tekton.dev/v1beta1%s", f.hint)))
		}
	}
	return o, problems
}

type betaField struct{ path, hint string }

// betaOnlyFields lists v1beta1-only fields set in an object that claims tekton.dev/v1.
func betaOnlyFields(obj runtime.Object) []betaField {
	var out []betaField
	task := func(prefix string, s *pipelinev1.TaskSpec) {
		if s == nil {
			return
		}
		if s.Resources != nil {
			out = append(out, betaField{prefix + ".resources", " (PipelineResources were removed in v1; use workspaces and params)"})
		}
		for i, st := range s.Steps {
			if st.Resources != nil {
				out = append(out, betaField{fmt.Sprintf("%s.steps[%d].resources", prefix, i), "; in v1 use computeResources"})
			}
		}
	}
	pipeline := func(prefix string, s *pipelinev1.PipelineSpec) {
		if s == nil {
			return
		}
		if len(s.Resources) > 0 {
			out = append(out, betaField{prefix + ".resources", " (PipelineResources were removed in v1)"})
		}
		for i, t := range s.Tasks {
			if t.Resources != nil {
				out = append(out, betaField{fmt.Sprintf("%s.tasks[%d].resources", prefix, i), ""})
			}
			if t.TaskSpec != nil {
				task(fmt.Sprintf("%s.tasks[%d].taskSpec", prefix, i), &t.TaskSpec.TaskSpec)
			}
		}
	}
	switch o := obj.(type) {
	case *pipelinev1.Task:
		task("spec", &o.Spec)
	case *pipelinev1.Pipeline:
		pipeline("spec", &o.Spec)
	case *pipelinev1.PipelineRun:
		if o.Spec.Timeout != nil {
			out = append(out, betaField{"spec.timeout", "; in v1 use spec.timeouts.pipeline"})
		}
		if o.Spec.ServiceAccountName != "" {
			out = append(out, betaField{"spec.serviceAccountName", "; in v1 use spec.taskRunTemplate.serviceAccountName"})
		}
		if o.Spec.PodTemplate != nil {
			out = append(out, betaField{"spec.podTemplate", "; in v1 use spec.taskRunTemplate.podTemplate"})
		}
		if len(o.Spec.Resources) > 0 {
			out = append(out, betaField{"spec.resources", " (PipelineResources were removed in v1)"})
		}
		pipeline("spec.pipelineSpec", o.Spec.PipelineSpec)
	case *pipelinev1.TaskRun:
		if o.Spec.Resources != nil {
			out = append(out, betaField{"spec.resources", " (PipelineResources were removed in v1)"})
		}
		task("spec.taskSpec", o.Spec.TaskSpec)
	}
	return out
}

// Namespace returns metadata.namespace of the object ("" when not set).
func (o *Object) Namespace() string {
	if m, ok := o.Obj.(interface{ GetNamespace() string }); ok {
		return m.GetNamespace()
	}
	return ""
}
