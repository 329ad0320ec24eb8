// Package seeds extracts the YAML manifests from the tutorials in ../shared/seeds (markdown with fenced
// blocks, or the same text rendered without fences). Tests read them in place; they are never copied into
// this repository.
package seeds

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Doc is one YAML document found in a seed.
type Doc struct {
	File string // seed file name
	Line int    // 1-based line where the document starts
	YAML []byte
	// Elided is set when the document does not parse: tutorials elide parts with "......".
	Elided bool
	Kind   string
}

// Dir returns the seeds directory beside the repository (root/../shared/seeds), or "" if absent.
func Dir(root string) string {
	d := filepath.Join(root, "..", "shared", "seeds")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// Load reads every seed file in dir and returns its documents, identical documents (the same tutorial
// rendered twice) only once.
func Load(dir string) ([]Doc, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var out []Doc
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		for _, d := range Extract(n, data) {
			k := string(bytes.TrimSpace(d.YAML))
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// Extract finds the manifests in one tutorial text.
func Extract(name string, data []byte) []Doc {
	lines := strings.Split(string(data), "\n")
	var out []Doc
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "apiVersion:") {
			continue
		}
		start := i
		fenced := i > 0 && insideFence(lines[:i])
		var b strings.Builder
		for ; i < len(lines); i++ {
			l := lines[i]
			if strings.HasPrefix(l, "```") {
				break
			}
			if !fenced && strings.TrimSpace(l) == "" {
				break
			}
			if l == "---" {
				// a separator inside a block ends one document; the next starts at the following line
				out = append(out, mkDoc(name, start+1, b.String()))
				b.Reset()
				start = i + 1
				continue
			}
			b.WriteString(l + "\n")
		}
		out = append(out, mkDoc(name, start+1, b.String()))
	}
	return out
}

func insideFence(before []string) bool {
	n := 0
	for _, l := range before {
		if strings.HasPrefix(l, "```") {
			n++
		}
	}
	return n%2 == 1
}

func mkDoc(file string, line int, text string) Doc {
	d := Doc{File: file, Line: line, YAML: []byte(text)}
	var meta struct {
		Kind string `json:"kind"`
	}
	if strings.Contains(text, "......") || yaml.Unmarshal(d.YAML, &meta) != nil {
		d.Elided = true
	}
	d.Kind = meta.Kind
	return d
}
