package listener

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
)

// The Event recorder's rate limit, per EventListener and Event type: a burst of eventBurst, then
// eventQPS a second; more than eventBurst similar Events in 10 minutes are folded into one with a count.
// Enough for each delivery's history under normal traffic; a flood of forged posts stays bounded.
const (
	eventBurst = 100
	eventQPS   = 2
)

// eventGate applies the recorder's own rate limit before an Event is even formatted. client-go's
// recorder rate-limits only after its correlator has aggregated the Event and computed the patch that
// would count it (8 % of the listener's CPU under `make bench-listener`, for Events it then dropped);
// the gate drops them first. It keeps one token bucket per EventListener and type with the recorder's
// parameters and is asked before the recorder, so the recorder's bucket (filled at the same rate,
// drawn from only when the gate's was) never holds fewer tokens and drops nothing the gate let
// through: the Events written are the same.
type eventGate struct {
	mu      sync.Mutex
	buckets map[eventGateKey]flowcontrol.PassiveRateLimiter
	clock   flowcontrol.Clock // nil: the real clock
}

type eventGateKey struct {
	uid       types.UID
	namespace string
	name      string
	eventType string
}

// maxEventGates bounds the buckets kept (client-go's recorder keeps 4096 in an LRU); past it they all
// start afresh, which at worst lets one more burst through to the recorder's own limit.
const maxEventGates = 4096

// allow reports whether an Event of eventType on the EventListener may be recorded now.
func (g *eventGate) allow(uid types.UID, namespace, name, eventType string) bool {
	key := eventGateKey{uid: uid, namespace: namespace, name: name, eventType: eventType}
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.buckets[key]
	if !ok {
		if g.buckets == nil || len(g.buckets) >= maxEventGates {
			g.buckets = map[eventGateKey]flowcontrol.PassiveRateLimiter{}
		}
		if g.clock != nil {
			b = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(eventQPS, eventBurst, g.clock)
		} else {
			b = flowcontrol.NewTokenBucketPassiveRateLimiter(eventQPS, eventBurst)
		}
		g.buckets[key] = b
	}
	return b.TryAccept()
}
