package entrypoint

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// LogResultPrefix starts each line of the results container's log that carries a result which did not
// fit its termination message. The executor reads those lines back through the Pod log API (as Tekton's
// sidecar-logs results mode does), so the results of one TaskRun together may exceed the kubelet's 4 KiB
// termination message; each result stays within MaxResultSize.
const LogResultPrefix = "hookrun-result: "

type logResult struct {
	// Step is set for a step result ($(step.results.NAME.path) of that step).
	Step  string `json:"step,omitempty"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// writeLogStepResults prints step results ("STEP/RESULT" → value) as LogResultPrefix lines.
func writeLogStepResults(w io.Writer, res map[string]string, refs []string) error {
	for _, ref := range refs {
		step, name, _ := strings.Cut(ref, "/")
		b, err := json.Marshal(logResult{Step: step, Name: name, Value: res[ref]})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s%s\n", LogResultPrefix, b); err != nil {
			return err
		}
	}
	return nil
}

// writeLogResults prints the named results as LogResultPrefix lines, in name order.
func writeLogResults(w io.Writer, res map[string]string, names []string) error {
	sort.Strings(names)
	for _, n := range names {
		b, err := json.Marshal(logResult{Name: n, Value: res[n]})
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s%s\n", LogResultPrefix, b); err != nil {
			return err
		}
	}
	return nil
}

// ParseLogResults reads the results container's log and returns the named results and step results
// ("STEP/RESULT") it carries. Every name must be there.
func ParseLogResults(r io.Reader, names, stepRefs []string) (results, steps map[string]string, err error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	wantSteps := map[string]bool{}
	for _, n := range stepRefs {
		wantSteps[n] = true
	}
	results, steps = map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*MaxResultSize+1024)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), LogResultPrefix)
		if !ok {
			continue
		}
		var lr logResult
		if err := json.Unmarshal([]byte(line), &lr); err != nil {
			return nil, nil, fmt.Errorf("results log line: %w", err)
		}
		switch ref := lr.Step + "/" + lr.Name; {
		case lr.Step == "" && want[lr.Name]:
			results[lr.Name] = lr.Value
		case lr.Step != "" && wantSteps[ref]:
			steps[ref] = lr.Value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read results log: %w", err)
	}
	var missing []string
	for _, n := range names {
		if _, ok := results[n]; !ok {
			missing = append(missing, n)
		}
	}
	for _, n := range stepRefs {
		if _, ok := steps[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("results %q are not in the results container's log", missing)
	}
	return results, steps, nil
}
