package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// buildHookrun builds the command into a temporary directory (generous timeout: the machine is shared).
func buildHookrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookrun")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runBin(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, o.String(), e.String()
}

// TestDeliveriesCommands runs hookrun deliveries and hookrun redeliver as built: the list shows every dead
// letter without its secret headers; a replay POSTs the same bytes and headers (the token included) to
// the listener's URL, keeps the file when refused for now and removes it once accepted.
func TestDeliveriesCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dead")
	dl, err := listener.OpenDeadLetter(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	const token = "gl-secret-token-never-printed"
	body := []byte(`{"object_kind":"push","checkout_sha":"abc"}`)
	glID, err := dl.Put(listener.DeadDelivery{Time: time.Now(), EventListener: "ns/hooks", Path: "/hooks/hooks", Provider: "gitlab",
		Event: "Push Hook", DeliveryID: "idem-1", Digest: "a", Attempts: 1, LastError: "gitlab: kubernetes API unavailable",
		Header: http.Header{"X-Gitlab-Token": {token}, "X-Gitlab-Event": {"Push Hook"}, "Content-Type": {"application/json"}}, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	ghID, err := dl.Put(listener.DeadDelivery{Time: time.Now().Add(time.Second), EventListener: "ns/hooks", Path: "/hooks/hooks",
		Provider: "github", Event: "push", Digest: "b", Attempts: 1, Header: http.Header{"X-Github-Event": {"push"}}, Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	bin := buildHookrun(t)

	code, out, errOut := runBin(t, bin, "deliveries", "--dead-letter", dir)
	if code != 0 {
		t.Fatalf("deliveries: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ID", "LAST ERROR", glID, ghID, "gitlab", "Push Hook", "ns/hooks", "github"} {
		if !strings.Contains(out, want) {
			t.Errorf("deliveries output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Errorf("deliveries printed the token:\n%s", out)
	}
	if strings.Index(out, glID) > strings.Index(out, ghID) {
		t.Errorf("not oldest first:\n%s", out)
	}
	if code, _, help := runBin(t, bin, "deliveries", "--help"); code != 0 || !strings.Contains(help, "Dead letters are") || !strings.Contains(help, "-dead-letter") {
		t.Errorf("deliveries --help: exit %d\n%s", code, help)
	}
	if code, _, e := runBin(t, bin, "deliveries", "--dead-letter", filepath.Join(dir, "nope")); code != 1 || !strings.Contains(e, "dead-letter directory") {
		t.Errorf("missing directory: exit %d, %s", code, e)
	}

	var mu sync.Mutex
	answer := http.StatusServiceUnavailable
	var gotHeader http.Header
	var gotBody []byte
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotHeader, gotPath = r.Header.Clone(), r.URL.Path
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(answer)
		_, _ = w.Write([]byte(`{"eventID":"e1","triggers":[]}`))
	}))
	defer srv.Close()

	code, out, errOut = runBin(t, bin, "redeliver", "--dead-letter", dir, "--url", srv.URL, glID)
	if code != 1 || !strings.Contains(errOut, "kept") {
		t.Fatalf("redeliver refused: exit %d\n%s%s", code, out, errOut)
	}
	if d, err := dl.Get(glID); err != nil || d.Attempts != 2 {
		t.Fatalf("after a refused replay: %+v, %v", d, err)
	}
	mu.Lock()
	answer = http.StatusAccepted
	mu.Unlock()
	code, out, errOut = runBin(t, bin, "redeliver", "--dead-letter", dir, "--url", srv.URL, glID)
	if code != 0 || !strings.Contains(out, "202 Accepted") || !strings.Contains(out, "removed dead letter "+glID) {
		t.Fatalf("redeliver: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, token) {
			t.Errorf("the token was printed:\n%s", s)
		}
	}
	mu.Lock()
	if gotPath != "/hooks/hooks" || !bytes.Equal(gotBody, body) || gotHeader.Get("X-Gitlab-Token") != token || gotHeader.Get("X-Gitlab-Event") != "Push Hook" {
		t.Errorf("replayed %s %q with %v", gotPath, gotBody, gotHeader)
	}
	mu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, glID+".delivery")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead letter not removed: %v", err)
	}
	if code, _, e := runBin(t, bin, "redeliver", "--dead-letter", dir, "--url", srv.URL, glID); code != 1 || !strings.Contains(e, "no such file") {
		t.Errorf("redeliver of a removed id: exit %d, %s", code, e)
	}
	if code, _, _ := runBin(t, bin, "redeliver", "--dead-letter", dir); code != 2 {
		t.Errorf("redeliver without ID: exit %d, want 2", code)
	}
}
