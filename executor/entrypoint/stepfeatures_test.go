package entrypoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestRunWhen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		when     []When
		command  []string
		wantRan  bool
		wantExit int
		wantMsg  Message
	}{
		{name: "in holds", when: []When{{Input: "a", Operator: "in", Values: []string{"b", "a"}}}, wantRan: true},
		{name: "notin fails: skipped", when: []When{{Input: "a", Operator: "notin", Values: []string{"a"}}},
			wantMsg: Message{Reason: ReasonSkipped, Message: "when expressions evaluated to false"}},
		{name: "all must hold", when: []When{{Input: "a", Operator: "in", Values: []string{"a"}}, {CEL: "'x' == 'y'"}},
			wantMsg: Message{Reason: ReasonSkipped, Message: "when expressions evaluated to false"}},
		{name: "cel true", when: []When{{CEL: "'main'.startsWith('ma') && 2 > 1"}}, wantRan: true},
		{name: "skipped with nothing to run (an image-entrypoint step)", when: []When{{Input: "x", Operator: "in", Values: []string{"y"}}},
			command: []string{}, wantMsg: Message{Reason: ReasonSkipped, Message: "when expressions evaluated to false"}},
		{name: "cel not a bool fails the step", when: []When{{CEL: "'a'"}}, wantExit: 1,
			wantMsg: Message{ExitCode: 1, Reason: ReasonStartFailed, Message: `when[0]: cel "'a'" evaluates to string, not a bool`}},
		{name: "unknown operator fails the step", when: []When{{Input: "a", Operator: "is", Values: []string{"a"}}}, wantExit: 1,
			wantMsg: Message{ExitCode: 1, Reason: ReasonStartFailed, Message: `when[0]: operator "is": want in or notin`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			marker := filepath.Join(t.TempDir(), "ran")
			cmd := []string{"touch", marker}
			if tc.command != nil {
				cmd = tc.command
			}
			o := d.opts(RunOptions{Name: "w", When: tc.when, Command: cmd, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
			code, _ := Run(context.Background(), o)
			if code != tc.wantExit {
				t.Errorf("exit = %d, want %d", code, tc.wantExit)
			}
			_, err := os.Stat(marker)
			if ran := err == nil; ran != tc.wantRan {
				t.Errorf("ran = %v, want %v", ran, tc.wantRan)
			}
			m := readMessage(t, d.term)
			if m.ExitCode != tc.wantMsg.ExitCode || m.Reason != tc.wantMsg.Reason || m.Message != tc.wantMsg.Message {
				t.Errorf("message = %+v, want %+v", m, tc.wantMsg)
			}
		})
	}
}

func TestRunStepResultsPassBetweenSteps(t *testing.T) {
	d := newDirs(t)
	run := func(o RunOptions) (int, Message, string) {
		t.Helper()
		var out bytes.Buffer
		o = d.opts(o)
		o.Stdout, o.Stderr = &out, &out
		code, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("run %s: %v", o.Name, err)
		}
		return code, readMessage(t, d.term), out.String()
	}
	dir := StepResultsDir(d.steps, "first")
	code, m, out := run(RunOptions{Name: "first", StepResults: []string{"greeting", "unwritten"},
		Command: []string{"sh", "-c", "printf hello > " + filepath.Join(dir, "greeting")}})
	if code != 0 || m.StepResults["greeting"] != "hello" || len(m.StepResults) != 1 || len(m.Results) != 0 {
		t.Fatalf("first: exit %d, message %+v, output %q", code, m, out)
	}

	t.Setenv("GREETING_ENV", "env:$(steps.first.results.greeting)")
	code, m, out = run(RunOptions{Name: "second",
		StepResultRefs: []StepResultRef{{Step: "first", Result: "greeting"}},
		Script:         "echo \"script:$(steps.first.results.greeting) $1 $GREETING_ENV\" '$(steps.other.results.x)'",
		Command:        []string{"arg:$(steps.step-first.results.greeting)"},
		When:           []When{{Input: "$(steps.first.results.greeting)", Operator: "in", Values: []string{"hello"}}},
	})
	want := "script:hello arg:hello env:hello $(steps.other.results.x)\n"
	if code != 0 || out != want {
		t.Fatalf("second: exit %d, message %+v, output %q, want %q", code, m, out, want)
	}

	code, m, _ = run(RunOptions{Name: "third",
		StepResultRefs: []StepResultRef{{Step: "first", Result: "unwritten"}},
		Command:        []string{"echo", "$(steps.first.results.unwritten)"},
	})
	if code != 1 || m.Reason != ReasonStartFailed || !strings.Contains(m.Message, `step "first" did not write its result "unwritten"`) {
		t.Fatalf("third: exit %d, message %+v", code, m)
	}
}

func TestRunStepResultTooLarge(t *testing.T) {
	d := newDirs(t)
	dir := StepResultsDir(d.steps, "big")
	o := d.opts(RunOptions{Name: "big", StepResults: []string{"blob"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
		Command: []string{"sh", "-c", "head -c 5000 /dev/zero > " + filepath.Join(dir, "blob")}})
	code, _ := Run(context.Background(), o)
	m := readMessage(t, d.term)
	want := `result too large: step result "blob" is 5000 bytes, the limit is 4096`
	if code != 1 || m.Reason != ReasonResultTooLarge || m.Message != want {
		t.Fatalf("exit %d, message %+v; want %q", code, m, want)
	}
}

func TestRunOutputConfig(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		stdoutPath, stderrTo string // stderrTo: "", "same", "other"
		wantStdoutFile       string
		wantStderrFile       string
	}{
		{name: "stdout only", stdoutPath: "out/stdout.txt", wantStdoutFile: "to-stdout\n"},
		{name: "both, separate files", stdoutPath: "stdout", stderrTo: "other", wantStdoutFile: "to-stdout\n", wantStderrFile: "to-stderr\n"},
		{name: "both, the same file", stdoutPath: "both", stderrTo: "same", wantStdoutFile: "to-stdout\nto-stderr\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			root := t.TempDir()
			o := d.opts(RunOptions{Name: "o", Command: []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2"}})
			o.StdoutPath = filepath.Join(root, tc.stdoutPath)
			switch tc.stderrTo {
			case "same":
				o.StderrPath = o.StdoutPath
			case "other":
				o.StderrPath = filepath.Join(root, "stderr")
			}
			var stdout, stderr bytes.Buffer
			o.Stdout, o.Stderr = &stdout, &stderr
			if code, err := Run(context.Background(), o); code != 0 || err != nil {
				t.Fatalf("exit %d, %v", code, err)
			}
			if stdout.String() != "to-stdout\n" || stderr.String() != "to-stderr\n" {
				t.Errorf("log: stdout %q, stderr %q; the log must still show the output", stdout.String(), stderr.String())
			}
			// Two streams into one file: each line arrives whole, in either order.
			if b, err := os.ReadFile(o.StdoutPath); err != nil || !sameLines(string(b), tc.wantStdoutFile) {
				t.Errorf("stdout file = %q, %v; want the lines of %q", b, err, tc.wantStdoutFile)
			}
			if tc.stderrTo == "other" {
				if b, err := os.ReadFile(o.StderrPath); err != nil || string(b) != tc.wantStderrFile {
					t.Errorf("stderr file = %q, %v; want %q", b, err, tc.wantStderrFile)
				}
			}
		})
	}
}

func TestRunArrayAndObjectStepResults(t *testing.T) {
	d := newDirs(t)
	dir := StepResultsDir(d.steps, "make")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, v := range map[string]string{"arr": `["image1","image 2"]`, "obj": `{"URL":"ar.com","DIGEST":"sha234"}`, "str": "foo"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refs := []StepResultRef{{"make", "arr"}, {"make", "obj"}, {"make", "str"}}
	for _, tc := range []struct {
		name    string
		command []string
		want    string
		wantErr string
	}{
		{name: "array expands into args", command: []string{"printf", "<%s>", "$(steps.make.results.arr[*])", "$(steps.make.results.arr[1])"},
			want: "<image1><image 2><image 2>"},
		{name: "object keys and strings", command: []string{"printf", "<%s>", "$(steps.make.results.obj.URL)@$(steps.make.results.obj.DIGEST)", "x$(steps.make.results.str)"},
			want: "<ar.com@sha234><xfoo>"},
		{name: "array inside a string is joined", command: []string{"printf", "<%s>", "all: $(steps.make.results.arr[*])"},
			want: "<all: image1 image 2>"},
		{name: "index out of range", command: []string{"echo", "$(steps.make.results.arr[5])"},
			wantErr: `$(steps.make.results.arr[5]): index 5 out of the 2 elements of step result "arr" of step "make"`},
		{name: "missing key", command: []string{"echo", "$(steps.make.results.obj.NOPE)"},
			wantErr: `$(steps.make.results.obj.NOPE): step result "obj" of step "make" has no key "NOPE"`},
		{name: "a string is not an array", command: []string{"echo", "$(steps.make.results.str[0])"},
			wantErr: `$(steps.make.results.str[0]): step result "str" of step "make" is not a JSON array of strings`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o := d.opts(RunOptions{Name: "use", StepResultRefs: refs, Command: tc.command, Stdout: &out, Stderr: &bytes.Buffer{}})
			code, _ := Run(context.Background(), o)
			m := readMessage(t, d.term)
			if tc.wantErr != "" {
				if code != 1 || !strings.HasPrefix(m.Message, tc.wantErr) {
					t.Fatalf("exit %d, message %q; want it to start with %q", code, m.Message, tc.wantErr)
				}
				return
			}
			if code != 0 || out.String() != tc.want {
				t.Fatalf("exit %d (%+v), output %q, want %q", code, m, out.String(), tc.want)
			}
		})
	}
}

func sameLines(a, b string) bool {
	x, y := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, "") == strings.Join(y, "")
}
