package entrypoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Results beyond the termination message go to the results container's log, named in its message, and
// read back whole; what fits stays in the message. Without a log (Stdout nil) the overflow is an error
// naming the results.
func TestResultsBeyondTheMessageGoToTheLog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sizes     map[string]int
		noLog     bool
		wantInMsg []string
		wantInLog []string
		wantErr   string
	}{
		{name: "all fit", sizes: map[string]int{"a": 100, "b": 200}, wantInMsg: []string{"a", "b"}},
		{name: "five of 3000 bytes", sizes: map[string]int{"a": 3000, "b": 3000, "c": 3000, "d": 3000, "e": 10},
			wantInMsg: []string{"a", "e"}, wantInLog: []string{"b", "c", "d"}},
		{name: "no log to use", sizes: map[string]int{"a": 3000, "b": 3000}, noLog: true,
			wantErr: `results ["b"] do not fit the 4096-byte termination message`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			want := map[string]string{}
			for n, size := range tc.sizes {
				want[n] = strings.Repeat(n, size)
				if err := os.WriteFile(filepath.Join(d.results, n), []byte(want[n]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			opts := ResultsOptions{Dir: d.results, StepsDir: d.steps, TerminationPath: d.term, Stdout: &log}
			if tc.noLog {
				opts.Stdout = nil
			}
			err := Results(opts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := readMessage(t, d.term)
			if got := sortedNames(m.Results); !equalStrings(got, tc.wantInMsg) {
				t.Errorf("in the message: %v, want %v", got, tc.wantInMsg)
			}
			if !equalStrings(m.LogResults, tc.wantInLog) {
				t.Errorf("logResults = %v, want %v", m.LogResults, tc.wantInLog)
			}
			if b, _ := os.ReadFile(d.term); len(b) > MaxMessageSize {
				t.Errorf("message is %d bytes", len(b))
			}
			got, _, err := ParseLogResults(strings.NewReader("other output\n"+log.String()), m.LogResults, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range m.Results {
				got[k] = v
			}
			for n, v := range want {
				if got[n] != v {
					t.Errorf("result %s: got %d bytes, want %d", n, len(got[n]), len(v))
				}
			}
		})
	}
	if _, _, err := ParseLogResults(strings.NewReader(""), []string{"x"}, []string{"s/y"}); err == nil || !strings.Contains(err.Error(), `results ["x" "s/y"] are not in`) {
		t.Errorf("missing result: err = %v", err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// In a Pod of many containers the kubelet keeps 12 KiB / containers of each message: with MessageLimit
// set, no message is larger, results beyond it move on (step → results container → its log) and a long
// explanation is shortened rather than cut mid-JSON.
func TestMessageLimit(t *testing.T) {
	d := newDirs(t)
	script := "printf %0600d 0 > " + filepath.Join(d.results, "a") + "; printf %0600d 0 > " + filepath.Join(d.results, "b")
	o := d.opts(RunOptions{Name: "s", Results: []string{"a", "b"}, Script: script, MessageLimit: 1000,
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if code, err := Run(context.Background(), o); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	if b, _ := os.ReadFile(d.term); len(b) > 1000 {
		t.Errorf("step message is %d bytes, limit 1000", len(b))
	}
	if m := readMessage(t, d.term); len(m.Results) != 1 {
		t.Fatalf("step reported %v, want one of the two", sortedNames(m.Results))
	}
	rt := filepath.Join(t.TempDir(), "results-term")
	var log bytes.Buffer
	if err := Results(ResultsOptions{Dir: d.results, StepsDir: d.steps, TerminationPath: rt, Stdout: &log, MessageLimit: 300}); err != nil {
		t.Fatal(err)
	}
	m := readMessage(t, rt)
	if len(m.Results) != 0 || len(m.LogResults) != 1 || !strings.Contains(log.String(), LogResultPrefix) {
		t.Errorf("results container: message %+v, log %q", m, log.String())
	}

	long := filepath.Join(t.TempDir(), "long")
	if _, _, err := writeMessage(long, Message{ExitCode: 1, Reason: ReasonStartFailed, Message: strings.Repeat("x", 500)}, 200); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(long)
	if m, ok := ParseMessage(string(b)); !ok || len(b) > 200 || m.ExitCode != 1 || !strings.HasSuffix(m.Message, "…") {
		t.Errorf("shortened message = %s (%d bytes)", b, len(b))
	}
}

// A step result the step's message has no room for is not lost: the results container prints it to its
// log, named STEP/RESULT in its message; one the step did report is not repeated.
func TestStepResultsBeyondTheMessage(t *testing.T) {
	d := newDirs(t)
	dir := StepResultsDir(d.steps, "s")
	o := d.opts(RunOptions{Name: "s", StepResults: []string{"big", "small"}, MessageLimit: 300,
		Command: []string{"sh", "-c", "printf %01000d 0 > " + dir + "/big; printf tiny > " + dir + "/small"},
		Stdout:  &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if code, err := Run(context.Background(), o); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	m := readMessage(t, d.term)
	if m.ExitCode != 0 || len(m.StepResults) != 1 || m.StepResults["small"] != "tiny" {
		t.Fatalf("step message = %+v, want only the small step result", m)
	}
	rt := filepath.Join(t.TempDir(), "results-term")
	var log bytes.Buffer
	if err := Results(ResultsOptions{Dir: d.results, StepsDir: d.steps, TerminationPath: rt, Stdout: &log, MessageLimit: 300}); err != nil {
		t.Fatal(err)
	}
	rm := readMessage(t, rt)
	if !equalStrings(rm.LogStepResults, []string{"s/big"}) {
		t.Fatalf("results container message = %+v, want logStepResults [s/big]", rm)
	}
	_, steps, err := ParseLogResults(&log, nil, rm.LogStepResults)
	if err != nil || steps["s/big"] != strings.Repeat("0", 1000) {
		t.Fatalf("step results from the log = %v, %v", steps, err)
	}
}
