package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// ParamSpec is one TriggerTemplate spec.params entry.
type ParamSpec struct {
	Name    string
	Default *string
}

// Template is a TriggerTemplate spec.
type Template struct {
	Params []ParamSpec
	// ResourceTemplates holds the raw spec.resourcetemplates items, each the
	// JSON text of one object.
	ResourceTemplates [][]byte
}

// Options control one rendering.
type Options struct {
	// UID is the value of $(uid); when empty a random 5-character lower case
	// alphanumeric id is generated (one per Render call, shared by all
	// resources).
	UID string
	// Namespace is set as metadata.namespace on resources that have none.
	Namespace string
	// Labels are set in every resource's metadata.labels (typically
	// triggers.tekton.dev/eventlistener, /trigger and /triggers-eventid),
	// over the template's own labels of the same key; other template labels
	// are kept.
	Labels map[string]string
	// Annotations are set in every resource's metadata.annotations, over the
	// template's own of the same key.
	Annotations map[string]string
	// NameSeed, when not empty, gives every resource that has a
	// metadata.generateName and no metadata.name the name
	// DeterministicName(generateName, NameSeed, index), so a redelivery maps
	// to the same names. Derive it from the delivery id and trigger.
	NameSeed string
}

// Errors wrapped by Compile and Render.
var (
	// ErrMissingParam: a declared param has no value and no default.
	ErrMissingParam = errors.New("missing param value")
	// ErrUndeclaredParam: a resource template references $(tt.params.NAME)
	// for a NAME that spec.params does not declare.
	ErrUndeclaredParam = errors.New("undeclared param")
	// ErrInvalidResource: a resource template is not a JSON object, or the
	// rendered resource lacks apiVersion or kind or has malformed metadata.
	ErrInvalidResource = errors.New("invalid resource template")
)

// Compiled is a Template split into literal text and references, ready to be
// rendered many times. It is immutable and safe for concurrent use.
type Compiled struct {
	params    []ParamSpec
	resources []resource
}

type resource struct {
	segments []segment
	size     int   // literal bytes, to size the output buffer
	tree     *node // the pre-decoded template (tree.go); nil: rendered from the text
}

type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segUID
)

type segment struct {
	kind  segKind
	lit   string
	param int // index into Compiled.params
}

// Compile checks and pre-splits t. It fails when a resource template is not
// a JSON object or references an undeclared $(tt.params.NAME), naming the
// resource index.
func Compile(t *Template) (*Compiled, error) {
	c := &Compiled{}
	index := make(map[string]int, len(t.Params))
	for _, p := range t.Params {
		if p.Name == "" {
			continue
		}
		if p.Default != nil {
			d := *p.Default
			p.Default = &d
		}
		if i, ok := index[p.Name]; ok {
			c.params[i] = p // a repeated declaration replaces the earlier one
			continue
		}
		index[p.Name] = len(c.params)
		c.params = append(c.params, p)
	}
	for i, raw := range t.ResourceTemplates {
		if err := checkObject(raw); err != nil {
			return nil, fmt.Errorf("resourcetemplates[%d]: %w: %v", i, ErrInvalidResource, err)
		}
		text := string(raw)
		segs, size, err := splitText(text, index, i)
		if err != nil {
			return nil, err
		}
		r := resource{segments: segs, size: size}
		if r.tree, err = compileTree(text, index, i); err != nil && !errors.Is(err, errNoTree) {
			return nil, err
		}
		c.resources = append(c.resources, r)
	}
	return c, nil
}

// splitText splits text into literal text and references to declared params and $(uid). A
// $(tt.params.NAME) naming an undeclared param is an error; one that is no param name stays literal, as
// does $(params.NAME) (left for Pipelines).
func splitText(text string, index map[string]int, i int) (segs []segment, size int, err error) {
	last := 0
	literal := func(end int) {
		if end > last {
			segs = append(segs, segment{kind: segLiteral, lit: text[last:end]})
			size += end - last
		}
	}
	for _, ref := range findRefs(text) {
		switch ref.kind {
		case refUID:
			literal(ref.start)
			segs = append(segs, segment{kind: segUID})
		case refParam:
			p, ok := index[ref.name]
			if !ok {
				if validParamName(ref.name) {
					return nil, 0, fmt.Errorf("resourcetemplates[%d]: %w: $(tt.params.%s) must be declared in spec.params",
						i, ErrUndeclaredParam, ref.name)
				}
				continue // not a param name: literal text
			}
			literal(ref.start)
			segs = append(segs, segment{kind: segParam, param: p})
		default:
			continue // $(params.NAME) is left for Pipelines
		}
		last = ref.end
	}
	literal(len(text))
	return segs, size, nil
}

// checkObject reports whether raw is a JSON object.
func checkObject(raw []byte) error {
	if !json.Valid(raw) {
		return errors.New("not valid JSON")
	}
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return nil
		}
		return errors.New("not a JSON object")
	}
	return errors.New("empty")
}

// Render substitutes param values and $(uid) into every resource template and
// returns the resources, in template order.
//
// values are the resolved binding values; missing are the bindings whose
// field was absent in the event. A declared param takes its value from
// values, else its default; with neither, Render fails with an error naming
// the param (wrapping ErrMissingParam, and the binding error when the param
// is in missing). Values for undeclared params are ignored. A value must be
// valid UTF-8.
func (c *Compiled) Render(values map[string]string, missing map[string]error, opts Options) ([]*unstructured.Unstructured, error) {
	resolved := make([]string, len(c.params))
	for i, p := range c.params {
		if v, ok := values[p.Name]; ok {
			resolved[i] = v
			continue
		}
		if p.Default != nil {
			resolved[i] = *p.Default
			continue
		}
		if err := missing[p.Name]; err != nil {
			return nil, fmt.Errorf("%w: param %q has no default and its binding failed: %w", ErrMissingParam, p.Name, err)
		}
		return nil, fmt.Errorf("%w: param %q has no value and no default", ErrMissingParam, p.Name)
	}
	uid := opts.UID
	if uid == "" {
		uid = randomUID()
	}
	if !utf8.ValidString(uid) {
		return nil, errors.New("uid is not valid UTF-8")
	}
	out := make([]*unstructured.Unstructured, 0, len(c.resources))
	tr := &treeRenderer{c: c, resolved: resolved, uid: uid}
	var buf []byte
	for i := range c.resources {
		var obj map[string]any
		var err error
		if r := &c.resources[i]; r.tree != nil {
			tr.res = i
			obj, err = tr.object(r.tree)
		} else {
			obj, err = c.renderText(i, resolved, uid, &buf)
		}
		if err != nil {
			return nil, err
		}
		if err := finishResource(obj, i, opts); err != nil {
			return nil, fmt.Errorf("resourcetemplates[%d]: %w", i, err)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}

// renderText renders resource i by substituting into its text and decoding the result.
func (c *Compiled) renderText(i int, resolved []string, uid string, scratch *[]byte) (map[string]any, error) {
	r := &c.resources[i]
	buf := *scratch
	if need := r.size + 256; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	buf, err := c.appendSegments(buf[:0], r.segments, resolved, uid, i)
	if err != nil {
		return nil, err
	}
	*scratch = buf
	var obj map[string]any
	if err := utiljson.Unmarshal(buf, &obj); err != nil {
		return nil, fmt.Errorf("resourcetemplates[%d]: %w: %v", i, ErrInvalidResource, err)
	}
	return obj, nil
}

// appendSegments appends segs to buf, each param value and the uid JSON-escaped (resource res, for errors).
func (c *Compiled) appendSegments(buf []byte, segs []segment, resolved []string, uid string, res int) ([]byte, error) {
	for _, s := range segs {
		switch s.kind {
		case segLiteral:
			buf = append(buf, s.lit...)
		case segUID:
			buf = appendEscaped(buf, uid)
		case segParam:
			v := resolved[s.param]
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("resourcetemplates[%d]: param %q: value is not valid UTF-8", res, c.params[s.param].Name)
			}
			buf = appendEscaped(buf, v)
		}
	}
	return buf, nil
}

// Render compiles t and renders it; see Compile and (*Compiled).Render.
func Render(t *Template, values map[string]string, missing map[string]error, opts Options) ([]*unstructured.Unstructured, error) {
	c, err := Compile(t)
	if err != nil {
		return nil, err
	}
	return c.Render(values, missing, opts)
}
