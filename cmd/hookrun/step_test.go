package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStepCommands: the full binary still runs the in-Pod commands — as `hookrun step …` (Pods made by
// older executors) and, copied under the name hookrun-step (a node agent with no small binary beside
// hookrun), as hookrun-step itself, cel included.
func TestStepCommands(t *testing.T) {
	bin := buildHookrun(t)
	dir := t.TempDir()
	asStep := filepath.Join(dir, "bin", "hookrun-step")
	if err := os.MkdirAll(filepath.Dir(asStep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(bin, asStep); err != nil {
		t.Fatal(err)
	}
	dirs := func(sub string) []string {
		d := filepath.Join(dir, sub)
		return []string{"--results-dir", d, "--steps-dir", d, "--scripts-dir", d, "--termination-path", filepath.Join(d, "termination")}
	}
	for _, tc := range []struct {
		name     string
		bin      string
		args     []string
		code     int
		out, err string
	}{
		{"hookrun step run", bin, append(append([]string{"step", "run", "--name", "a"}, dirs("a")...), "--", "sh", "-c", "echo ran; exit 4"), 4, "ran", ""},
		{"hookrun step cel", bin, []string{"step", "cel", "'main'.startsWith('ma')"}, 0, "true", ""},
		{"hookrun step cel error", bin, []string{"step", "cel", "'a'"}, 1, "", "not a bool"},
		{"named hookrun-step: run", asStep, append(append([]string{"run", "--name", "b"}, dirs("b")...), "--", "echo", "as-step"), 0, "as-step", ""},
		{"named hookrun-step: cel in process", asStep, []string{"cel", "1 > 2"}, 0, "false", ""},
		{"named hookrun-step: usage", asStep, []string{"bogus"}, 2, "", "hookrun-step: unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runBin(t, tc.bin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d, %q, %q", code, out, errOut, tc.code, tc.out, tc.err)
			}
		})
	}
}
