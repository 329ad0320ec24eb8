package listener

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookrun/hookrun/listener/internal/jsonsize"
)

func TestBudget(t *testing.T) {
	ctx := context.Background()
	b := newBudget(1000, 50*time.Millisecond)
	a := b.hold()
	if err := a.grow(ctx, 600); err != nil {
		t.Fatal(err)
	}
	c := b.hold()
	began := time.Now()
	if err := c.grow(ctx, 500); !errors.Is(err, errOverBudget) {
		t.Fatalf("over budget: %v", err)
	}
	if d := time.Since(began); d < 40*time.Millisecond || d > time.Second {
		t.Errorf("waited %s, want about the 50ms wait", d)
	}
	if err := c.grow(ctx, 1001); !errors.Is(err, errNeverFits) {
		t.Fatalf("larger than the budget: %v", err)
	}
	// A waiter gets in as soon as the holder gives back enough.
	done := make(chan error, 1)
	b2 := newBudget(1000, 2*time.Second)
	h1 := b2.hold()
	_ = h1.grow(ctx, 900)
	go func() { done <- b2.hold().grow(ctx, 500) }()
	time.Sleep(20 * time.Millisecond)
	h1.shrink(500)
	if err := <-done; err != nil {
		t.Fatalf("waiter not let in after shrink: %v", err)
	}
	a.release()
	a.release() // idempotent
	if err := c.grow(ctx, 1000); err != nil {
		t.Fatalf("the whole budget after release: %v", err)
	}
}

func TestSlots(t *testing.T) {
	ctx := context.Background()
	sl := newSlots(2, 1, 100*time.Millisecond)
	r1, ok1 := sl.acquire(ctx)
	r2, ok2 := sl.acquire(ctx)
	if !ok1 || !ok2 {
		t.Fatal("free slots refused")
	}
	waiter := make(chan bool, 1)
	go func() {
		r, ok := sl.acquire(ctx)
		if ok {
			r()
		}
		waiter <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	if _, ok := sl.acquire(ctx); ok {
		t.Fatal("a second waiter got in although the backlog holds one")
	}
	r1()
	if !<-waiter {
		t.Fatal("the waiter did not get the freed slot")
	}
	r, ok := sl.acquire(ctx)
	if !ok {
		t.Fatal("slot not given back")
	}
	began := time.Now()
	if _, ok := sl.acquire(ctx); ok || time.Since(began) < 90*time.Millisecond {
		t.Fatalf("waiting past the wait: ok=%v after %s", ok, time.Since(began))
	}
	r()
	r2()
}

func TestEventLabels(t *testing.T) {
	l := newEventLabels()
	cases := []struct{ provider, event, want string }{
		{"github", "push", "push"},
		{"github", "pull_request", "pull_request"},
		{"github", "Push", otherLabel},
		{"github", "x" + strings.Repeat("y", 30), otherLabel},
		{"github", "", "none"},
		{"gitlab", "Merge Request Hook", "Merge Request Hook"},
		{"gitlab", "push", otherLabel},
		{"bitbucket", "repo:refs_changed", "repo:refs_changed"},
		{"bitbucket", "pullrequest:created", "pullrequest:created"},
		{"bitbucket", "repo:anything", otherLabel},
		{"generic", "push", otherLabel},
	}
	for _, c := range cases {
		if got := l.label(c.provider, c.event); got != c.want {
			t.Errorf("label(%s, %q) = %q, want %q", c.provider, c.event, got, c.want)
		}
	}
}

// BenchmarkDeliveryOverhead is the per-delivery work issue 18 added to the hot path, for an 8.8 KB push:
// the budget reservation, the in-flight slot, the value count and decode reservation, and the body's
// SHA-256 (its identity once a provider check passed).
func BenchmarkDeliveryOverhead(b *testing.B) {
	body := []byte(`{"ref":"refs/heads/main","commits":[` + strings.Repeat(`{"id":"0123456789abcdef0123456789abcdef01234567","message":"m","added":["a.go"],"modified":[],"removed":[]},`, 80) + `{}]}`)
	s := &Server{opts: Options{MaxJSONValues: 400_000}, budget: newBudget(128<<20, time.Second), slots: newSlots(64, 256, time.Second)}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		h := s.budget.hold()
		if err := h.grow(ctx, int64(len(body))); err != nil {
			b.Fatal(err)
		}
		release, ok := s.slots.acquire(ctx)
		if !ok {
			b.Fatal("no slot")
		}
		values := jsonsize.Count(body)
		if err := h.grow(ctx, jsonsize.Estimate(body, values)); err != nil {
			b.Fatal(err)
		}
		_ = sha256.Sum256(body)
		release()
		h.release()
	}
}
