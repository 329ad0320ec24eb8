package templates

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// A resource template is also kept pre-decoded: the tree of its JSON text, each value without a
// reference decoded once at Compile, each string holding a reference split into segments of its raw JSON
// text. Rendering the tree builds the same map a decode of the substituted text would (the same key
// order, so a repeated key keeps its last value; numbers as int64 or float64; strings unescaped by the
// same decoder) without scanning and decoding the whole text again for every event. References live only
// inside JSON strings (a "$(" anywhere else is not valid JSON, and a reference never holds a quote), so
// splitting each string on its own finds exactly the references a scan of the whole text finds.

type nodeKind uint8

const (
	nodeValue  nodeKind = iota // a scalar or a string without references, decoded at Compile
	nodeString                 // a string with references
	nodeObject
	nodeArray
)

// node is one JSON value of a resource template.
type node struct {
	kind  nodeKind
	value any       // nodeValue: immutable (string, int64, float64, bool or nil), shared by every rendering
	segs  []segment // nodeString: the raw text between the quotes
	size  int       // nodeString: literal bytes
	keys  []node    // nodeObject: each key, a nodeValue string or a nodeString, in text order
	elems []node    // nodeObject: the value of each key; nodeArray: the elements
}

// errNoTree: the text holds something the tree does not reproduce exactly (a number no decoder value
// holds, say); the resource is rendered from its text.
var errNoTree = errors.New("template text not representable as a tree")

// treeParser builds the tree of a template text already checked to be a JSON object.
type treeParser struct {
	text  string
	pos   int
	index map[string]int // declared param name -> index
	res   int            // resource index, for errors
}

// compileTree returns the tree of text, or an error when the resource must be rendered from its text.
func compileTree(text string, index map[string]int, res int) (*node, error) {
	p := &treeParser{text: text, index: index, res: res}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos != len(p.text) || n.kind != nodeObject {
		return nil, errNoTree
	}
	return &n, nil
}

func (p *treeParser) skipSpace() {
	for p.pos < len(p.text) {
		switch p.text[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte without consuming it.
func (p *treeParser) next() (byte, error) {
	p.skipSpace()
	if p.pos >= len(p.text) {
		return 0, errNoTree
	}
	return p.text[p.pos], nil
}

func (p *treeParser) value() (node, error) {
	c, err := p.next()
	if err != nil {
		return node{}, err
	}
	switch c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		return p.str()
	}
	return p.scalar()
}

func (p *treeParser) object() (node, error) {
	n := node{kind: nodeObject}
	p.pos++ // '{'
	if c, err := p.next(); err != nil || c == '}' {
		p.pos++
		return n, err
	}
	for {
		if c, err := p.next(); err != nil || c != '"' {
			return n, errNoTree
		}
		k, err := p.str()
		if err != nil {
			return n, err
		}
		if c, err := p.next(); err != nil || c != ':' {
			return n, errNoTree
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return n, err
		}
		n.keys, n.elems = append(n.keys, k), append(n.elems, v)
		if done, err := p.endOf('}'); done || err != nil {
			return n, err
		}
	}
}

func (p *treeParser) array() (node, error) {
	n := node{kind: nodeArray}
	p.pos++ // '['
	if c, err := p.next(); err != nil || c == ']' {
		p.pos++
		return n, err
	}
	for {
		v, err := p.value()
		if err != nil {
			return n, err
		}
		n.elems = append(n.elems, v)
		if done, err := p.endOf(']'); done || err != nil {
			return n, err
		}
	}
}

// endOf consumes the ',' between two members (false) or the closing byte (true).
func (p *treeParser) endOf(closing byte) (bool, error) {
	c, err := p.next()
	if err != nil {
		return false, err
	}
	p.pos++
	switch c {
	case closing:
		return true, nil
	case ',':
		return false, nil
	}
	return false, errNoTree
}

// str reads a string at p.pos (its opening quote).
func (p *treeParser) str() (node, error) {
	start := p.pos
	i := start + 1
	for ; i < len(p.text) && p.text[i] != '"'; i++ {
		if p.text[i] == '\\' {
			i++
		}
	}
	if i >= len(p.text) {
		return node{}, errNoTree
	}
	p.pos = i + 1
	quoted := p.text[start:p.pos]
	segs, size, err := splitText(quoted[1:len(quoted)-1], p.index, p.res)
	if err != nil {
		return node{}, err
	}
	for _, s := range segs {
		if s.kind != segLiteral {
			return node{kind: nodeString, segs: segs, size: size}, nil
		}
	}
	var s string
	if err := utiljson.Unmarshal([]byte(quoted), &s); err != nil {
		return node{}, errNoTree
	}
	return node{kind: nodeValue, value: s}, nil
}

// scalar reads a number, true, false or null, decoded as the whole text's decode would.
func (p *treeParser) scalar() (node, error) {
	start := p.pos
	for p.pos < len(p.text) {
		switch p.text[p.pos] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return p.decodeScalar(start)
		}
		p.pos++
	}
	return p.decodeScalar(start)
}

func (p *treeParser) decodeScalar(start int) (node, error) {
	var v any
	if start == p.pos || utiljson.Unmarshal([]byte(p.text[start:p.pos]), &v) != nil {
		return node{}, errNoTree // e.g. 1e400: the text decode fails at every rendering; let it
	}
	return node{kind: nodeValue, value: v}, nil
}

// treeRenderer renders trees for one Render call.
type treeRenderer struct {
	c        *Compiled
	resolved []string
	uid      string
	res      int // resource index, for errors
	buf      []byte
}

// object renders an object node into a fresh map.
func (r *treeRenderer) object(n *node) (map[string]any, error) {
	m := make(map[string]any, len(n.keys))
	for i := range n.keys {
		k, err := r.value(&n.keys[i])
		if err != nil {
			return nil, err
		}
		v, err := r.value(&n.elems[i])
		if err != nil {
			return nil, err
		}
		m[k.(string)] = v
	}
	return m, nil
}

func (r *treeRenderer) value(n *node) (any, error) {
	switch n.kind {
	case nodeValue:
		return n.value, nil
	case nodeString:
		return r.str(n)
	case nodeObject:
		return r.object(n)
	}
	a := make([]any, len(n.elems))
	for i := range n.elems {
		v, err := r.value(&n.elems[i])
		if err != nil {
			return nil, err
		}
		a[i] = v
	}
	return a, nil
}

// str substitutes a string's references into its raw JSON text and unescapes it.
func (r *treeRenderer) str(n *node) (any, error) {
	b, err := r.c.appendSegments(append(r.buf[:0], '"'), n.segs, r.resolved, r.uid, r.res)
	if err != nil {
		return nil, err
	}
	b = append(b, '"')
	r.buf = b
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil // nothing to unescape: the decoder would copy it as is
	}
	var s string
	if err := utiljson.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("resourcetemplates[%d]: %w: %v", r.res, ErrInvalidResource, err)
	}
	return s, nil
}
