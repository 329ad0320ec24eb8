package stepcli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/executor/entrypoint"
)

// TestMain_Commands drives the in-Pod command line as the Pods call it, in temporary directories.
func TestMain_Commands(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full-hookrun")
	if err := os.WriteFile(full, []byte("full binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	dirFlags := func(sub string) []string {
		d := filepath.Join(dir, sub)
		return []string{"--results-dir", d + "/results", "--steps-dir", d + "/steps", "--scripts-dir", d + "/scripts",
			"--termination-path", d + "/termination"}
	}
	opts := Options{Hookrun: func() (string, error) { return full, nil },
		CEL: func(expr string) (bool, error) {
			if expr == "bad" {
				return false, errors.New(`cel "bad": syntax error`)
			}
			return expr == "true", nil
		}}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantErr    string
		wantFile   string // must exist afterwards
		wantInFile string // …with this content
	}{
		{name: "no command", args: nil, code: 2, wantErr: "Usage: hookrun-step init|run|results|cel"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, wantErr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"--help"}, wantOut: "Usage:"},
		{name: "init copies self and the full binary", args: []string{"init", "--dir", dir + "/i/results",
			"--copy-hookrun", dir + "/i/bin/hookrun"}, wantFile: dir + "/i/bin/hookrun", wantInFile: "full binary"},
		{name: "init bad credential", args: []string{"init", "--dir", dir + "/j", "--cred", "nonsense"}, code: 2, wantErr: "init:"},
		{name: "run: bad on-error", args: []string{"run", "--on-error", "sometimes", "--", "true"}, code: 2, wantErr: "want continue or stopAndFail"},
		{name: "run: nothing to run", args: append(append([]string{"run", "--name", "s"}, dirFlags("n")...), "--"), code: 2, wantErr: "no command"},
		{name: "run: step's exit code", args: append(append([]string{"run", "--name", "s"}, dirFlags("r")...), "--", "sh", "-c", "echo hi; exit 3"),
			code: 3, wantOut: "hi\n", wantFile: dir + "/r/termination", wantInFile: `"exitCode":3`},
		{name: "run: onError continue", args: append(append([]string{"run", "--name", "s", "--on-error", "continue"}, dirFlags("c")...), "--", "false"),
			wantFile: dir + "/c/termination", wantInFile: `"exitCode":1`},
		{name: "run: cel false skips", args: append(append([]string{"run", "--name", "s", "--when", `[{"cel":"false"}]`}, dirFlags("w")...), "--", "echo", "ran"),
			wantFile: dir + "/w/termination", wantInFile: `"reason":"Skipped"`},
		{name: "run: bad when", args: []string{"run", "--when", "{", "--", "true"}, code: 2, wantErr: "--when"},
		{name: "cel true", args: []string{"cel", "true"}, wantOut: "true\n"},
		{name: "cel error", args: []string{"cel", "bad"}, code: 1, wantErr: `cel "bad": syntax error`},
		{name: "cel usage", args: []string{"cel"}, code: 2, wantErr: "Usage: hookrun-step cel EXPRESSION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tc.args, &out, &errOut, opts)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", out.String(), tc.wantOut, errOut.String(), tc.wantErr)
			}
			if tc.wantFile != "" {
				b, err := os.ReadFile(tc.wantFile)
				if err != nil || !strings.Contains(string(b), tc.wantInFile) {
					t.Errorf("%s: %q %v, want %q in it", tc.wantFile, b, err, tc.wantInFile)
				}
			}
		})
	}
}

// TestCELWithoutEvaluator: a binary built without one says so instead of guessing.
func TestCELWithoutEvaluator(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"cel", "true"}, &out, &errOut, Options{Prog: "x"}); code != 1 ||
		!strings.Contains(errOut.String(), "x cannot evaluate cel") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestResults: hookrun-results reports what the steps left in the results directory.
func TestResults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "digest"), []byte("sha256:abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	term := filepath.Join(dir, "termination")
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"results", "--dir", dir, "--steps-dir", filepath.Join(dir, "steps"),
		"--termination-path", term}, &out, &errOut, Options{})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	b, err := os.ReadFile(term)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := entrypoint.ParseMessage(string(b))
	if !ok || len(m.Results) != 1 || m.Results["digest"] != "sha256:abc" {
		t.Fatalf("message %s", b)
	}
}
