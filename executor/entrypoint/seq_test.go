package entrypoint

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWaitRecord(t *testing.T) {
	dir := t.TempDir()
	p := RecordPath(dir, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Written before the wait begins.
	if err := postRecord(p, recordOK); err != nil {
		t.Fatal(err)
	}
	if got, err := waitRecord(ctx, p); err != nil || got != recordOK {
		t.Fatalf("%q %v", got, err)
	}

	// Written while waiting: noticed by notification, well before the safety-net poll.
	p1 := RecordPath(dir, 1)
	// In a Pod the step's run directory is its volume's mount point: it exists before anything waits.
	if err := os.MkdirAll(filepath.Dir(p1), 0o777); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = postRecord(p1, recordFailed+" step-a")
	}()
	start := time.Now()
	fail, err := awaitTurn(ctx, p1)
	if err != nil || fail != "step-a" {
		t.Fatalf("%q %v", fail, err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("noticed after %v: notification did not work", d)
	}

	// Cancelled.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := waitRecord(cctx, RecordPath(dir, 2)); err == nil {
		t.Fatal("a cancelled wait must fail")
	}
	// Garbage.
	if err := postRecord(RecordPath(dir, 3), "what"); err != nil {
		t.Fatal(err)
	}
	if _, err := awaitTurn(ctx, RecordPath(dir, 3)); err == nil {
		t.Fatal("an unreadable record must fail")
	}
	if fail, err := awaitTurn(ctx, ""); fail != "" || err != nil {
		t.Fatal("the first step waits for nothing")
	}
}

// TestSignalReachesStep: a SIGTERM from the kubelet (cancel, timeout) stops the running step at once,
// whether the step waited for a predecessor or not; while a step still waits, it ends the wait.
func TestSignalReachesStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		waited bool
	}{{"first step", false}, {"after a predecessor", true}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			sigs := make(chan os.Signal, 2)
			o := RunOptions{Name: "s", Command: []string{"sleep", "30"}, Signals: sigs,
				ResultsDir: filepath.Join(root, "r"), StepsDir: filepath.Join(root, "st"), ScriptsDir: filepath.Join(root, "sc"),
				TerminationPath: filepath.Join(root, "term"), PostFile: RecordPath(root, 1), Stdout: io.Discard, Stderr: io.Discard}
			if tc.waited {
				o.WaitFile = RecordPath(root, 0)
				if err := postRecord(o.WaitFile, recordOK); err != nil {
					t.Fatal(err)
				}
			}
			go func() {
				time.Sleep(300 * time.Millisecond)
				sigs <- syscall.SIGTERM
			}()
			start := time.Now()
			code, _ := Run(context.Background(), o)
			if d := time.Since(start); d > 10*time.Second || code == 0 {
				t.Fatalf("exit %d after %v: the signal did not stop the step", code, d)
			}
			if rec, _ := os.ReadFile(o.PostFile); !strings.HasPrefix(string(rec), recordFailed) {
				t.Errorf("record %q: a stopped step is a failure for the next", rec)
			}
		})
	}
	// A step still waiting ends its wait on the signal and runs nothing.
	root := t.TempDir()
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	var out bytes.Buffer
	code, _ := Run(context.Background(), RunOptions{Name: "w", Command: []string{"sh", "-c", "echo ran"}, Signals: sigs,
		WaitFile: RecordPath(root, 0), PostFile: RecordPath(root, 1), StepsDir: filepath.Join(root, "st"),
		TerminationPath: filepath.Join(root, "term"), Stdout: &out, Stderr: io.Discard})
	if code == 0 || strings.Contains(out.String(), "ran") {
		t.Fatalf("exit %d, output %q: a stopped waiting step must not run", code, out.String())
	}
}
