package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// apiRequests reads the API server's own count of the requests it has served (apiserver_request_total),
// summed per "VERB resource" (WATCH and the like included): what a load's per-event API work is, counted
// where it lands rather than where it is sent.
func apiRequests(ctx context.Context, t *testing.T, cfg *rest.Config) map[string]float64 {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("API server metrics: %v", err)
	}
	return parseRequestTotals(raw)
}

// parseRequestTotals sums the apiserver_request_total samples of a Prometheus text exposition per
// "VERB resource".
func parseRequestTotals(raw []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		out[label(labels, "verb")+" "+label(labels, "resource")] += v
	}
	return out
}

// label is the value of name in a Prometheus label set (a="x",b="y").
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// perEvent formats what changed between two apiRequests readings, per event of n: the kinds of request
// made at least once every hundred events, most frequent first.
func perEvent(before, after map[string]float64, n int) string {
	type row struct {
		key string
		per float64
	}
	var rows []row
	for k, v := range after {
		if d := (v - before[k]) / float64(n); d >= 0.01 {
			rows = append(rows, row{k, d})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.per != b.per {
			if a.per > b.per {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.2f", r.key, r.per)
	}
	return b.String()
}

func TestParseRequestTotals(t *testing.T) {
	raw := []byte(`# HELP apiserver_request_total x
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="tekton.dev",resource="pipelineruns",scope="resource",subresource="",verb="POST",version="v1"} 40
apiserver_request_total{code="409",component="apiserver",dry_run="",group="tekton.dev",resource="pipelineruns",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 5
apiserver_request_duration_seconds_bucket{verb="POST",resource="events",le="0.1"} 7
`)
	got := parseRequestTotals(raw)
	if got["POST pipelineruns"] != 42 || got["POST events"] != 5 || len(got) != 2 {
		t.Fatalf("parseRequestTotals = %v", got)
	}
	if s := perEvent(map[string]float64{"POST pipelineruns": 2}, got, 10); s != "POST pipelineruns 4.00, POST events 0.50" {
		t.Fatalf("perEvent = %q", s)
	}
}

func TestCPUTime(t *testing.T) {
	before := cpuTime(os.Getpid())
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
	}
	if got := cpuTime(os.Getpid()) - before; got < 50*time.Millisecond {
		t.Fatalf("cpuTime grew by %v over 200 ms of busy loop", got)
	}
}
