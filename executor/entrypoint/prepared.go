package entrypoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// When prepare is the Pod's first regular container (steps as containers, no sidecars: executor/doc.go)
// the kubelet starts the steps right after it, without waiting for it to end; what holds them back is
// prepare's postStart hook, which the kubelet runs to completion before it starts the next container.
// prepare writes its outcome to a done file (Announce); the hook (`hookrun-step init --await FILE`)
// waits for it, acknowledges it and fails when prepare did; prepare ends once acknowledged, so the
// hook never execs into a container that has already exited.

// PreparedFile is where prepare announces its outcome (in the shared /tekton/bin volume).
const PreparedFile = BinDir + "/.prepared"

// holdFor bounds how long prepare waits for the hook's acknowledgement.
const holdFor = 2 * time.Minute

// ErrPrepareFailed is returned by AwaitPrepared when prepare announced a failure.
var ErrPrepareFailed = errors.New("prepare failed")

// Announce records prepare's outcome (err nil: ok) in file and waits for AwaitPrepared's acknowledgement
// (at most holdFor). It returns err, or the failure to announce.
func Announce(ctx context.Context, file string, err error) error {
	rec := recordOK
	if err != nil {
		rec = recordFailed + " " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	if perr := postRecord(file, rec); perr != nil {
		return errors.Join(err, fmt.Errorf("announce: %w", perr))
	}
	wctx, cancel := context.WithTimeout(ctx, holdFor)
	defer cancel()
	if _, werr := waitRecord(wctx, file+".ack"); werr != nil && !errors.Is(werr, context.DeadlineExceeded) {
		return errors.Join(err, fmt.Errorf("await acknowledgement: %w", werr))
	}
	return err
}

// AwaitPrepared waits for prepare's announcement in file (at most holdFor) and acknowledges it; it fails,
// wrapping ErrPrepareFailed, when prepare did.
func AwaitPrepared(ctx context.Context, file string) error {
	ctx, cancel := context.WithTimeout(ctx, holdFor)
	defer cancel()
	rec, err := waitRecord(ctx, file)
	if err != nil {
		return fmt.Errorf("await %s: %w", file, err)
	}
	if err := postRecord(file+".ack", recordOK); err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	if rec != recordOK {
		return fmt.Errorf("%w: %s", ErrPrepareFailed, strings.TrimPrefix(rec, recordFailed+" "))
	}
	return nil
}
