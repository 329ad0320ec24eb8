package entrypoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Step sequencing when steps are regular containers that all start together (executor/doc.go): each
// wrapper waits for its predecessor's record in RunDir, then runs its step and writes its own record.
// A record holds "ok" (the step completed, or failed under onError: continue) or "failed STEP" (this or an
// earlier step failed, or was stopped): a wrapper that reads a failure does not run its step, and passes
// the failure on.

// RunDir is where the step records live (an emptyDir shared by the steps).
const RunDir = "/tekton/run"

const (
	recordOK     = "ok"
	recordFailed = "failed"
)

// pollFallback is how often a waiter looks at the record when the file system cannot notify it.
const pollFallback = 50 * time.Millisecond

// waitRecord waits until path exists and returns its content. It is notified by inotify (fsnotify) on
// path's directory, and polls only when a watch cannot be set up.
func waitRecord(ctx context.Context, path string) (string, error) {
	dir := filepath.Dir(path)
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		if err = w.Add(dir); err != nil {
			w.Close()
			w = nil
		}
	}
	read := func() (string, bool, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return strings.TrimSpace(string(b)), err == nil, err
	}
	// The record may have been written before the watch began.
	if s, ok, err := read(); ok || err != nil {
		return s, err
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	poll := time.NewTicker(pollFallback)
	defer poll.Stop()
	if w != nil {
		poll.Reset(time.Second) // a safety net only
	}
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if filepath.Clean(ev.Name) != filepath.Clean(path) {
				continue
			}
		case <-errs:
		case <-poll.C:
		}
		if s, ok, err := read(); ok || err != nil {
			return s, err
		}
	}
}

// postRecord writes the record at path whole (written aside, then renamed into place).
func postRecord(path, record string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(record+"\n"), 0o666); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// RecordPath is the record of the step at index i (0-based, in Task order) in dir: DIR/I/out, Tekton's
// name. DIR/I is the step's own run directory (its own volume, read-only to the other steps).
func RecordPath(dir string, i int) string {
	return filepath.Join(dir, strconv.Itoa(i), "out")
}

// StatusDir is the step state directory beside a step's record (DIR/I/status): /tekton/steps/NAME,
// step-NAME and I link to it when steps are containers, so its exit code and step results are written
// only by the step itself.
func StatusDir(record string) string {
	return filepath.Join(filepath.Dir(record), "status")
}

// awaitTurn waits for the predecessor's record (none for the first step). It returns "" when the step may
// run, else the failure to pass on.
func awaitTurn(ctx context.Context, waitFile string) (failure string, err error) {
	if waitFile == "" {
		return "", nil
	}
	rec, err := waitRecord(ctx, waitFile)
	if err != nil {
		return "", fmt.Errorf("wait for the previous step: %w", err)
	}
	if rec == recordOK {
		return "", nil
	}
	if f, ok := strings.CutPrefix(rec, recordFailed); ok {
		return strings.TrimSpace(f), nil
	}
	return "", fmt.Errorf("the previous step's record %s holds %q", waitFile, rec)
}

// waitContext is ctx, also cancelled by a signal (the kubelet stopping the Pod) while the step waits.
// Call done when the wait is over: from then on signals go to the step (runStep forwards them).
func waitContext(ctx context.Context, signals <-chan os.Signal) (wctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(ctx)
	if signals == nil {
		return ctx, cancel
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		<-stopped
	}
}

// notRun reports a step that did not run because an earlier step failed (failure names it) or because
// the wait itself failed, and passes the failure on to the next step.
func notRun(opts RunOptions, failure string, waitErr error) (int, error) {
	msg := Message{Reason: ReasonSkipped, Message: fmt.Sprintf("not run: step %q failed", failure)}
	code := 0
	if waitErr != nil {
		failure = opts.Name
		msg = Message{ExitCode: 1, Reason: ReasonStartFailed, Message: waitErr.Error()}
		code = 1
		fmt.Fprintln(opts.Stderr, "hookrun step:", waitErr)
	}
	if _, _, err := writeMessage(opts.TerminationPath, msg, opts.MessageLimit); err != nil {
		fmt.Fprintln(opts.Stderr, "hookrun step: write termination message:", err)
	}
	if opts.PostFile != "" {
		if err := postRecord(opts.PostFile, recordFailed+" "+failure); err != nil {
			fmt.Fprintln(opts.Stderr, "hookrun step: record:", err)
		}
	}
	return code, nil
}

// post records how the step ended for the next one: "ok" when it completed, was skipped by its when
// expressions, or failed under onError: continue.
func post(opts RunOptions, msg Message) {
	if opts.PostFile == "" {
		return
	}
	rec := recordOK
	if msg.ExitCode != 0 && !opts.Continue {
		rec = recordFailed + " " + opts.Name
	}
	if err := postRecord(opts.PostFile, rec); err != nil {
		fmt.Fprintln(opts.Stderr, "hookrun step: record:", err)
	}
}

// AwaitRecord waits for a step's record at path (nothing when path is empty), whatever it says.
func AwaitRecord(ctx context.Context, path string) error {
	if path == "" {
		return nil
	}
	_, err := waitRecord(ctx, path)
	return err
}
