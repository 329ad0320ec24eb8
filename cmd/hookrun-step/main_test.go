package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// allowedDeps are the only non-standard-library packages the in-Pod binary may link: anything more
// (client-go, apimachinery, CEL, protobuf) brings init work that every step would pay at start.
var allowedDeps = []string{"github.com/hookrun/hookrun/executor/entrypoint", "github.com/hookrun/hookrun/executor/mask",
	"github.com/hookrun/hookrun/cmd/hookrun-step", "github.com/fsnotify/fsnotify", "golang.org/x/sys/"}

// TestDependencies keeps cmd/hookrun-step small.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var bad []string
	for _, p := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") {
			continue // standard library
		}
		if !slices.ContainsFunc(allowedDeps, func(a string) bool { return strings.HasPrefix(p, a) }) {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("hookrun-step links packages beyond the standard library, entrypoint and fsnotify: %q", bad)
	}
}

// BenchmarkWrapperOverhead reports the host cost of `hookrun-step run -- /bin/true` over /bin/true
// itself (medians over b.N runs each, wall clock and the children's CPU time): the per-step price of the
// wrapper before any container is involved. Target: ≤ 5 ms.
func BenchmarkWrapperOverhead(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "hookrun-step")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	wrapped := []string{bin, "run", "--name", "bench", "--results-dir", dir, "--steps-dir", dir, "--scripts-dir", dir,
		"--termination-path", filepath.Join(dir, "termination"), "--", "/bin/true"}
	var plain, wrap []time.Duration
	timeIt := func(argv []string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%q: %v %s", argv, err, out)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plain = append(plain, timeIt([]string{"/bin/true"}))
		wrap = append(wrap, timeIt(wrapped))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(plain).Microseconds())/1000, "true-ms")
	b.ReportMetric(float64(median(wrap).Microseconds())/1000, "wrapped-ms")
	b.ReportMetric(float64((median(wrap)-median(plain)).Microseconds())/1000, "overhead-ms")
	_ = os.Remove(bin)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
