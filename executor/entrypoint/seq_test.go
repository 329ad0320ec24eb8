package entrypoint

import (
	"context"
	"os"
	"path/filepath"
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
	if err := os.WriteFile(filepath.Join(dir, "3.out"), []byte("what"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := awaitTurn(ctx, RecordPath(dir, 3)); err == nil {
		t.Fatal("an unreadable record must fail")
	}
	if fail, err := awaitTurn(ctx, ""); fail != "" || err != nil {
		t.Fatal("the first step waits for nothing")
	}
}
