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
	Name  string `json:"name"`
	Value string `json:"value"`
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

// ParseLogResults reads the results container's log and returns the named results it carries. Every
// name must be there.
func ParseLogResults(r io.Reader, names []string) (map[string]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*MaxResultSize+1024)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), LogResultPrefix)
		if !ok {
			continue
		}
		var lr logResult
		if err := json.Unmarshal([]byte(line), &lr); err != nil {
			return nil, fmt.Errorf("results log line: %w", err)
		}
		if want[lr.Name] {
			out[lr.Name] = lr.Value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read results log: %w", err)
	}
	var missing []string
	for _, n := range names {
		if _, ok := out[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("results %q are not in the results container's log", missing)
	}
	return out, nil
}
