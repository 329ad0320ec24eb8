package entrypoint

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAnnounceAwait: prepare's announcement and its postStart hook's wait, in either order, for a
// prepare that succeeded and one that failed.
func TestAnnounceAwait(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		hookFirst  bool
		wantFailed bool
	}{
		{name: "ok, hook waits first", hookFirst: true},
		{name: "ok, announced first"},
		{name: "failed", err: errors.New("credential \"x\": bad\nline"), wantFailed: true, hookFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), ".prepared")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			announced := make(chan error, 1)
			announce := func() { announced <- Announce(ctx, file, tc.err) }
			if !tc.hookFirst {
				go announce()
				time.Sleep(50 * time.Millisecond)
			} else {
				time.AfterFunc(50*time.Millisecond, announce)
			}
			err := AwaitPrepared(ctx, file)
			if tc.wantFailed != errors.Is(err, ErrPrepareFailed) {
				t.Fatalf("AwaitPrepared = %v, want failed %v", err, tc.wantFailed)
			}
			if tc.wantFailed && !strings.Contains(err.Error(), `credential "x": bad line`) {
				t.Errorf("the hook's error %q does not carry prepare's", err)
			}
			select {
			case aerr := <-announced:
				if !errors.Is(aerr, tc.err) || (tc.err == nil && aerr != nil) {
					t.Errorf("Announce = %v, want %v", aerr, tc.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("prepare still holds after the hook acknowledged")
			}
		})
	}
}
