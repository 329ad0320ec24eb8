package listener

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// walkCount counts the values of a decoded JSON tree: containers, object keys and scalars.
func walkCount(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range x {
			n += 1 + walkCount(e) // the key, then the value
		}
		return n
	case []any:
		n := 1
		for _, e := range x {
			n += walkCount(e)
		}
		return n
	}
	return 1
}

func TestCountJSONValues(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`1`, 1},
		{`"a"`, 1},
		{`[1,2,3]`, 4},
		{`{"a":1,"b":[true,null]}`, 7},
		{`{"a,b:{[":"],}"}`, 3},           // structure inside strings does not count
		{`["a\"b,c", "\\", ","]`, 4},      // escaped quotes and backslashes
		{`[]`, 2},                         // empty containers are over-counted by one: an upper bound
		{`[{},{},{}]`, 7},                 // 4 true values
		{" \n{ \"k\" : [ 1 , 2 ] }\t", 5}, // whitespace
	}
	for _, c := range cases {
		if got := countJSONValues([]byte(c.in)); got != c.want {
			t.Errorf("countJSONValues(%s) = %d, want %d", c.in, got, c.want)
		}
		var v any
		if err := json.Unmarshal([]byte(c.in), &v); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if n := walkCount(v); n > c.want {
			t.Errorf("%s holds %d values, more than the count %d", c.in, n, c.want)
		}
	}
}

// FuzzCountJSONValues: for any valid JSON text the count is never below the number of values it decodes
// into (the bound the memory budget relies on), and it never panics on anything.
func FuzzCountJSONValues(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c"}]}`, `[{},{},[]]`, `"\\\""`, `{"x":"\u00e9,:{["}`, `[`, `"unterminated`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := countJSONValues(b)
		if n < 1 || n > len(b)+1 {
			t.Fatalf("count %d for %d bytes", n, len(b))
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		if w := walkCount(v); w > n {
			t.Fatalf("%q decodes into %d values, counted %d", b, w, n)
		}
	})
}

// TestDecodeEstimate: for the costliest shapes of a JSON body, what decoding allocates (garbage included)
// stays under decodeEstimate — the reservation the budget makes before decoding.
func TestDecodeEstimate(t *testing.T) {
	shapes := []struct{ name, elem string }{
		{"empty objects", `{}`},
		{"empty arrays", `[]`},
		{"small ints", `1`},
		{"floats", `123456789.5`},
		{"empty strings", `""`},
		{"short strings", `"ab"`},
		{"literals", `true`},
		{"one-key objects", `{"a":1}`},
		{"mixed objects", `{"a":"b","c":[1]}`},
		{"nested arrays", `[[[[1]]]]`},
		{"long strings", `"` + strings.Repeat("x", 200) + `"`},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			n := (2 << 20) / (len(sh.elem) + 1)
			body := []byte("[" + strings.TrimSuffix(strings.Repeat(sh.elem+",", n), ",") + "]")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(v)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			est := decodeEstimate(body, countJSONValues(body))
			t.Logf("%-16s body %8d B, values %7d: decode allocated %9d B, estimate %9d B (%.0f%%)", sh.name, len(body), countJSONValues(body), alloc, est, 100*float64(alloc)/float64(est))
			if alloc > est {
				t.Errorf("decoding allocated %d bytes, over the estimate %d", alloc, est)
			}
		})
	}
}

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
