package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// BenchmarkHandover reports, on the host, the hand-over between two wrapped steps as the Pods run them:
// the next step's wrapper is already waiting on the previous one's record (inotify); the figure is the
// previous wrapper's exit → the next step's first output byte (it may be negative: the record is posted
// before the previous wrapper exits), and the previous wrapper's start → that byte.
func BenchmarkHandover(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "hookrun-step")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	var fromExit, fromStart []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run := filepath.Join(dir, "run", strconv.Itoa(i))
		flags := func(name string) []string {
			d := filepath.Join(dir, name, strconv.Itoa(i))
			return []string{"run", "--name", name, "--results-dir", d, "--steps-dir", d, "--scripts-dir", d,
				"--termination-path", filepath.Join(d, "termination")}
		}
		next := exec.Command(bin, append(flags("next"), "--wait-file", filepath.Join(run, "0.out"), "--", "echo", "next")...)
		out, err := next.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(run, 0o777); err != nil {
			b.Fatal(err)
		}
		if err := next.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let it set its watch up, as a step container started with the Pod has
		start := time.Now()
		if o, err := exec.Command(bin, append(flags("prev"), "--post-file", filepath.Join(run, "0.out"), "--", "/bin/true")...).CombinedOutput(); err != nil {
			b.Fatalf("previous step: %v %s", err, o)
		}
		exited := time.Now()
		if _, err := out.Read(make([]byte, 1)); err != nil {
			b.Fatalf("next step's output: %v", err)
		}
		first := time.Now()
		fromExit, fromStart = append(fromExit, first.Sub(exited)), append(fromStart, first.Sub(start))
		_ = next.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(median(fromExit).Microseconds())/1000, "exit-to-output-ms")
	b.ReportMetric(float64(median(fromStart).Microseconds())/1000, "prev-start-to-output-ms")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
