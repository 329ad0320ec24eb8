package node

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// writeTestLog writes a container log through the agent's copier with chosen write times: "one\n" and
// "two\n" at t0, "three\n" at t0+10s, then "four" without its newline at t0+20s.
func writeTestLog(t *testing.T, state string, t0 time.Time) string {
	t.Helper()
	if err := os.MkdirAll(PodDir(state, "ns", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := openContainerLog(state, "ns", "p", "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		s  string
		at time.Duration
	}{{"one\ntw", 0}, {"o\n", 0}, {"three\n", 10 * time.Second}, {"four", 20 * time.Second}} {
		if err := c.write([]byte(w.s), t0.Add(w.at)); err != nil {
			t.Fatal(err)
		}
	}
	c.abort()
	return LogPath(state, "ns", "p", "main")
}

func TestContainerLogQueries(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	state := t.TempDir()
	logPath := writeTestLog(t, state, t0)
	// The container has ended: the stream stops after what is there, follow or not.
	writeExit(exitPath(PodDir(state, "ns", "p"), "main"), terminatedNow(0, "Completed", ""))
	now := t0.Add(25 * time.Second)
	cases := []struct {
		name  string
		query string
		want  string
	}{
		{"all", "", "one\ntwo\nthree\nfour"},
		{"follow ended container", "follow=true", "one\ntwo\nthree\nfour"},
		{"tailLines", "tailLines=2", "three\nfour"},
		{"tailLines zero", "tailLines=0", ""},
		{"tailLines more than there are", "tailLines=50", "one\ntwo\nthree\nfour"},
		{"sinceSeconds", "sinceSeconds=20", "three\nfour"},
		{"sinceTime", "sinceTime=" + url.QueryEscape(t0.Add(15*time.Second).Format(time.RFC3339)), "four"},
		{"since after everything", "sinceSeconds=1", ""},
		{"tail then since", "tailLines=3&sinceSeconds=20", "three\nfour"},
		{"limitBytes", "limitBytes=6", "one\ntw"},
		{"timestamps", "timestamps=true&tailLines=2",
			"2026-01-02T03:04:15.6Z three\n2026-01-02T03:04:25.6Z four"},
		{"timestamps and limitBytes", "timestamps=true&limitBytes=27", "2026-01-02T03:04:05.6Z one\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			o, _, err := parseLogOptions(q, now)
			if err != nil {
				t.Fatal(err)
			}
			lf, err := openLogFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			defer lf.Close()
			rec := httptest.NewRecorder()
			err = streamLog(httptest.NewRequest(http.MethodGet, "/", nil), rec, lf, logPath, PodDir(state, "ns", "p"), "main", o)
			if err != nil && !errors.Is(err, errLimit) {
				t.Fatal(err)
			}
			if got := rec.Body.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseLogOptionsRejects(t *testing.T) {
	for _, q := range []string{"follow=maybe", "tailLines=-1", "tailLines=x", "limitBytes=0", "sinceSeconds=0",
		"sinceTime=yesterday", "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", "previous=2"} {
		t.Run(q, func(t *testing.T) {
			v, _ := url.ParseQuery(q)
			if _, _, err := parseLogOptions(v, time.Now()); err == nil {
				t.Errorf("%s accepted", q)
			}
		})
	}
}

// A restarted container's earlier log becomes its previous log; the new one starts empty.
func TestContainerLogRestartKeepsPrevious(t *testing.T) {
	state := t.TempDir()
	writeTestLog(t, state, time.Now())
	c, err := openContainerLog(state, "ns", "p", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.write([]byte("again\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	c.abort()
	for file, want := range map[string]string{
		LogPath(state, "ns", "p", "main"):         "again\n",
		PreviousLogPath(state, "ns", "p", "main"): "one\ntwo\nthree\nfour",
	} {
		b, err := os.ReadFile(file)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", filepath.Base(file), b, err, want)
		}
	}
}

// The copier records lines as the process writes them, and finish returns once the pipe is drained.
func TestLogCopierPipe(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(PodDir(state, "ns", "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := openContainerLog(state, "ns", "p", "main")
	if err != nil {
		t.Fatal(err)
	}
	w := c.w
	// Stand in for the process: keep our own copy of the write end, which start closes.
	dup, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(w.Fd())), os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot duplicate the pipe: %v", err)
	}
	c.start()
	if _, err := dup.WriteString("a\nb"); err != nil {
		t.Fatal(err)
	}
	dup.Close()
	if err := c.finish(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	lf, err := openLogFile(LogPath(state, "ns", "p", "main"))
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := lf.refresh(); err != nil {
		t.Fatal(err)
	}
	if len(lf.lines) != 2 || lf.lines[0].off != 0 || lf.lines[1].off != 2 {
		t.Errorf("index %+v, want lines at 0 and 2", lf.lines)
	}
}
