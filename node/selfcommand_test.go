package node

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSelfCommand: which binary a self-image container runs, with and without a small step binary.
func TestSelfCommand(t *testing.T) {
	with := &Agent{opts: Options{SelfPath: "/opt/hookrun", StepPath: "/opt/hookrun-step"}}
	without := &Agent{opts: Options{SelfPath: "/opt/hookrun"}}
	for _, tc := range []struct {
		name    string
		a       *Agent
		self    bool
		command []string
		want    []string
	}{
		{"hookrun", with, true, []string{"hookrun", "version"}, []string{"/opt/hookrun", "version"}},
		{"path ending in /hookrun", with, true, []string{"/tekton/bin/hookrun", "step", "run"}, []string{"/opt/hookrun", "step", "run"}},
		{"hookrun-step with the small binary", with, true, []string{"hookrun-step", "init", "--copy-self", "/tekton/bin/hookrun-step"},
			[]string{"/opt/hookrun-step", "init", "--copy-self", "/tekton/bin/hookrun-step"}},
		{"path ending in /hookrun-step", with, true, []string{"/tekton/bin/hookrun-step", "results"}, []string{"/opt/hookrun-step", "results"}},
		{"hookrun-step without it: the full binary's step command", without, true, []string{"hookrun-step", "init"},
			[]string{"/opt/hookrun", "step", "init"}},
		{"not a self image", with, false, []string{"hookrun-step", "run"}, []string{"hookrun-step", "run"}},
		{"other command", with, true, []string{"/bin/sh", "-c", "x"}, []string{"/bin/sh", "-c", "x"}},
		{"name that only ends alike", with, true, []string{"myhookrun-step"}, []string{"myhookrun-step"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.command)
			if got := tc.a.selfCommand(tc.self, tc.command); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !slices.Equal(in, tc.command) {
				t.Errorf("the container's command was modified: %q", tc.command)
			}
		})
	}
}

// TestStepPathDefault: hookrun-step beside SelfPath is found; a missing one leaves StepPath empty.
func TestStepPathDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sibling  bool
		explicit string
		want     string
	}{
		{"beside self", true, "", "hookrun-step"},
		{"none beside self", false, "", ""},
		{"explicit wins", true, "/elsewhere/step", "/elsewhere/step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			self := filepath.Join(dir, "hookrun")
			if err := os.WriteFile(self, nil, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.sibling {
				if err := os.WriteFile(filepath.Join(dir, "hookrun-step"), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			o := Options{Config: &rest.Config{Host: "https://127.0.0.1:1"}, SelfPath: self, StepPath: tc.explicit, StateDir: t.TempDir()}
			if err := o.setDefaults(); err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "hookrun-step" {
				want = filepath.Join(dir, "hookrun-step")
			}
			if o.StepPath != want {
				t.Errorf("StepPath = %q, want %q", o.StepPath, want)
			}
		})
	}
}
