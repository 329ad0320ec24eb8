package listener_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/listener"
)

// switchTransport fails every request to the API server while down is set (connection refused).
type switchTransport struct {
	down *atomic.Bool
	rt   http.RoundTripper
}

func (s switchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return s.rt.RoundTrip(r)
}

// deadLetterListener serves ns with a dead-letter directory, creating resources through a client whose
// connection to the API server the returned switch cuts (configuration comes from the informer cache).
func deadLetterListener(t *testing.T, ns string, dl *listener.DeadLetter, logs *bytes.Buffer) (string, *listener.Server, *atomic.Bool) {
	t.Helper()
	down := &atomic.Bool{}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return switchTransport{down: down, rt: rt} })
	lclient, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := listener.NewCache(env.Config, env.Scheme, []string{ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Warm(ctx, cache); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cache.Start(ctx) }()
	if !cache.WaitForCacheSync(ctx) {
		t.Fatal("listener cache did not sync")
	}
	srv := listener.New(cache, lclient, cache, listener.Options{Namespace: ns, EventListener: "hooks", DeadLetter: dl,
		HandlerTimeout: 20 * time.Second, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Impersonate: listener.NewImpersonator(cfg, client.Options{Scheme: env.Scheme, Mapper: env.Client.RESTMapper()})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), srv, down
}

// TestDeadLetter: a delivery answered 503 because the API server is unreachable is stored (0600 in a
// 0700 directory, once however often it is sent), survives a re-submission while the API is still down,
// and once the API is back the re-submission loop creates its run exactly once and removes the file.
func TestDeadLetter(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	dir := filepath.Join(t.TempDir(), "dead")
	var logs bytes.Buffer
	dl, err := listener.OpenDeadLetter(dir, 0, 0, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	url, srv, down := deadLetterListener(t, ns, dl, &bytes.Buffer{})

	body := []byte(`{"ref":"refs/heads/main","head_commit":{"id":"` + strings.Repeat("ab", 20) + `"},"repository":{"clone_url":"https://example.com/a/b.git"}}`)
	out := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: body, ID: "d-dead-1"}
	down.Store(true)
	for i := 0; i < 2; i++ {
		req, err := out.Request(context.Background(), url+"/hooks")
		if err != nil {
			t.Fatal(err)
		}
		if code, resp, _ := do(t, req); code != http.StatusServiceUnavailable {
			t.Fatalf("API down: answered %d %+v, want 503", code, resp)
		}
	}
	list, err := dl.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("dead letters: %+v, %v; want one", list, err)
	}
	d := list[0]
	if d.EventListener != ns+"/hooks" || d.Provider != "github" || d.Event != "push" || d.DeliveryID != "d-dead-1" ||
		d.Size != int64(len(body)) || d.Attempts != 2 || d.Header.Get("X-Hub-Signature-256") == "" || d.LastError == "" {
		t.Fatalf("dead letter: %+v", d)
	}
	if d.Header.Get("User-Agent") == "" || d.Header.Get("Accept-Encoding") != "" {
		t.Errorf("stored headers: %v", d.Header)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, d.ID+".delivery"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want mode %o", path, fi.Mode(), err, want)
		}
	}

	if n := srv.ResubmitDeadLetters(context.Background(), nil); n != 0 {
		t.Fatalf("re-submitted %d while the API is down", n)
	}
	if got, _ := dl.Get(d.ID); got.Attempts != 3 || !strings.Contains(got.LastError, "503") {
		t.Fatalf("after a failed re-submission: attempts %d, last error %q", got.Attempts, got.LastError)
	}
	if n := len(pipelineRuns(t, ns)); n != 0 {
		t.Fatalf("%d PipelineRuns while the API was down", n)
	}

	down.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	loop := make(chan error, 1)
	go func() { loop <- srv.RunDeadLetter(ctx, 200*time.Millisecond) }()
	defer func() { cancel(); <-loop }()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left, _ := dl.List()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letter still there after 90s: %+v", left)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, d.ID+".delivery")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file not removed: %v", err)
	}
	waitRuns(t, ns, 1)
	// The sender retries by itself too: a duplicate, no second run.
	req, _ := out.Request(context.Background(), url+"/hooks")
	if code, resp, _ := do(t, req); code != http.StatusAccepted || !resp.Triggers[0].Duplicate {
		t.Fatalf("redelivery after recovery: %d %+v, want a 202 duplicate", code, resp)
	}
	time.Sleep(time.Second)
	if n := len(pipelineRuns(t, ns)); n != 1 {
		t.Fatalf("%d PipelineRuns, want 1", n)
	}
}

// TestDeadLetterBounds: beyond the count bound the oldest dead letter is dropped, and said so.
func TestDeadLetterBounds(t *testing.T) {
	var logs bytes.Buffer
	dl, err := listener.OpenDeadLetter(t.TempDir(), 3, 1<<20, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		id, err := dl.Put(listener.DeadDelivery{Time: time.Now().Add(time.Duration(i) * time.Second), Path: "/hooks/x",
			Digest: fmt.Sprint(i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	list, _ := dl.List()
	if len(list) != 3 || list[0].ID != ids[2] || list[2].ID != ids[4] {
		t.Fatalf("kept %+v, want the newest three of %v", list, ids)
	}
	if c := strings.Count(logs.String(), "dead letter dropped"); c != 2 {
		t.Fatalf("%d drops logged, want 2:\n%s", c, logs.String())
	}
	// Bytes: one big body pushes the rest out.
	if _, err := dl.Put(listener.DeadDelivery{Time: time.Now().Add(time.Minute), Path: "/hooks/x", Digest: "big", Body: make([]byte, 1<<20-2)}); err != nil {
		t.Fatal(err)
	}
	if list, _ := dl.List(); len(list) != 1 {
		t.Fatalf("kept %d after a body near the byte bound, want 1", len(list))
	}
}
