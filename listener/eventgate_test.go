package listener

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	testclock "k8s.io/utils/clock/testing"
)

func TestEventGate(t *testing.T) {
	clock := testclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	g := &eventGate{clock: clock}
	take := func(uid, eventType string, n int) int {
		passed := 0
		for range n {
			if g.allow(typesUID(uid), "ns", "el-"+uid, eventType) {
				passed++
			}
		}
		return passed
	}
	steps := []struct {
		name      string
		advance   time.Duration
		uid, kind string
		tries     int
		want      int
	}{
		{"a burst passes whole", 0, "a", corev1.EventTypeNormal, eventBurst, eventBurst},
		{"past the burst nothing passes", 0, "a", corev1.EventTypeNormal, 10, 0},
		{"another Event type has its own bucket", 0, "a", corev1.EventTypeWarning, 5, 5},
		{"another EventListener has its own bucket", 0, "b", corev1.EventTypeNormal, 5, 5},
		{"a second refills eventQPS tokens", time.Second, "a", corev1.EventTypeNormal, 10, eventQPS},
		{"a long pause refills the burst, no more", time.Minute, "a", corev1.EventTypeNormal, 1000, eventBurst},
	}
	for _, s := range steps {
		clock.Step(s.advance)
		if got := take(s.uid, s.kind, s.tries); got != s.want {
			t.Errorf("%s: %d of %d passed, want %d", s.name, got, s.tries, s.want)
		}
	}
}

// TestEventGateBounded: past maxEventGates keys the buckets start afresh instead of growing.
func TestEventGateBounded(t *testing.T) {
	g := &eventGate{clock: testclock.NewFakeClock(time.Unix(0, 0))}
	for i := range maxEventGates + 10 {
		g.allow(typesUID(string(rune('a'+i%26))+time.Duration(i).String()), "ns", "el", corev1.EventTypeNormal)
	}
	if n := len(g.buckets); n > maxEventGates {
		t.Fatalf("%d buckets kept, want at most %d", n, maxEventGates)
	}
}

func typesUID(s string) types.UID { return types.UID(s) }
