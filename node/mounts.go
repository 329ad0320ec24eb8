package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// bindMount maps a host file or directory to a path inside the container's view.
type bindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// execSpec describes one process start. In MountNamespace mode it is written to a file and handed to the
// exec-in-mounts helper; in MountRewrite mode the agent has already rewritten it and runs it directly.
type execSpec struct {
	// Root is the directory on which the helper mounts the tmpfs that becomes the process's root.
	Root string `json:"root,omitempty"`
	// Mounts are applied in order (parents before children).
	Mounts []bindMount `json:"mounts,omitempty"`
	Argv   []string    `json:"argv"`
	Env    []string    `json:"env"`
	Dir    string      `json:"dir"`
	// ErrFile receives the reason when the process cannot be started (exit code 128).
	ErrFile string `json:"errFile"`
}

// startErrorExitCode is the exit status of the helper when it could not start the container's process.
const startErrorExitCode = 128

func writeSpec(file string, s *execSpec) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode exec spec: %w", err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("write exec spec: %w", err)
	}
	return nil
}

func readSpec(file string) (*execSpec, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read exec spec: %w", err)
	}
	var s execSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode exec spec %s: %w", file, err)
	}
	if len(s.Argv) == 0 {
		return nil, fmt.Errorf("exec spec %s: empty argv", file)
	}
	return &s, nil
}

// sortMounts orders mounts so that a parent path is mounted before anything below it; the later of two
// mounts on the same target wins.
func sortMounts(ms []bindMount) {
	sort.SliceStable(ms, func(i, j int) bool {
		return depth(ms[i].Target) < depth(ms[j].Target)
	})
}

func depth(p string) int {
	p = filepath.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// pathRewriter rewrites container paths to host paths, longest container path first.
type pathRewriter struct {
	pairs []bindMount // sorted by len(Target) descending
}

func newPathRewriter(ms []bindMount) *pathRewriter {
	pairs := make([]bindMount, 0, len(ms))
	seen := map[string]bool{}
	// Later mounts on the same target win, as in the namespace mechanism.
	for i := len(ms) - 1; i >= 0; i-- {
		t := filepath.Clean(ms[i].Target)
		if t == "/" || seen[t] {
			continue
		}
		seen[t] = true
		pairs = append(pairs, bindMount{Source: ms[i].Source, Target: t})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].Target) > len(pairs[j].Target) })
	return &pathRewriter{pairs: pairs}
}

func isPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '/' || c == '~'
}

// rewrite replaces every occurrence of a container path used as a path prefix: not preceded by a path
// character, and followed by the end of the string, a '/' or a character that cannot be part of a name.
func (r *pathRewriter) rewrite(s string) string {
	if len(r.pairs) == 0 || !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := false
		if s[i] == '/' && (i == 0 || !isPathByte(s[i-1])) {
			for _, p := range r.pairs {
				if !strings.HasPrefix(s[i:], p.Target) {
					continue
				}
				end := i + len(p.Target)
				if end < len(s) && s[end] != '/' && isPathByte(s[end]) {
					continue
				}
				b.WriteString(p.Source)
				i = end
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// hostPath maps one absolute container path to the host, or returns it unchanged.
func (r *pathRewriter) hostPath(p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	return r.rewrite(filepath.Clean(p))
}

// environ describes the mapping for HOOKRUN_MOUNTS.
func (r *pathRewriter) environ() string {
	parts := make([]string, 0, len(r.pairs))
	for _, p := range r.pairs {
		parts = append(parts, p.Target+"="+p.Source)
	}
	return strings.Join(parts, ":")
}

// lookPath finds file in the colon-separated dirs of pathEnv, as exec.LookPath does with $PATH.
func lookPath(file, pathEnv string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	if pathEnv == "" {
		pathEnv = defaultPath
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func executable(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
