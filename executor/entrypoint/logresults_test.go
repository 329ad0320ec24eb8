package entrypoint

import (
	"bytes"
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
			got, err := ParseLogResults(strings.NewReader("other output\n"+log.String()), m.LogResults)
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
	if _, err := ParseLogResults(strings.NewReader(""), []string{"x"}); err == nil || !strings.Contains(err.Error(), `results ["x"] are not in`) {
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
