package entrypoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecCEL: the small binary's cel evaluator speaks `hookrun step cel EXPR`'s protocol (true/false on
// stdout, the error on stderr with exit 1) with a stand-in hookrun.
func TestExecCEL(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, bin string
		want      bool
		wantErr   string
	}{
		{name: "true", bin: fake("t", `[ "$1 $2 $3" = "step cel 1 < 2" ] && echo true`), want: true},
		{name: "false", bin: fake("f", "echo false")},
		{name: "error passed on", bin: fake("e", `echo "cel \"'a'\" evaluates to string, not a bool" >&2; exit 1`),
			wantErr: `cel "'a'" evaluates to string, not a bool`},
		{name: "no full binary", bin: filepath.Join(dir, "missing"), wantErr: "needs the full hookrun binary"},
		{name: "unexpected answer", bin: fake("g", "echo maybe"), wantErr: `answered "maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExecCEL(tc.bin)("1 < 2")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestEvalWhenWithoutCEL: a binary with no cel evaluator fails a cel expression rather than guessing;
// in/notin need none.
func TestEvalWhenWithoutCEL(t *testing.T) {
	if ok, err := EvalWhen([]When{{Input: "a", Operator: "in", Values: []string{"a"}}}, nil); !ok || err != nil {
		t.Fatalf("in/notin without cel: %v %v", ok, err)
	}
	if _, err := EvalWhen([]When{{CEL: "true"}}, nil); err == nil || !strings.Contains(err.Error(), "cannot evaluate cel") {
		t.Fatalf("cel without an evaluator: %v", err)
	}
}
