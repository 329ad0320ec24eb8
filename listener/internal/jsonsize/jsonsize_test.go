package jsonsize

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
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

func TestCount(t *testing.T) {
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
		if got := Count([]byte(c.in)); got != c.want {
			t.Errorf("Count(%s) = %d, want %d", c.in, got, c.want)
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

// FuzzCount: for any valid JSON text the count is never below the number of values it decodes
// into (the bound the memory budget relies on), and it never panics on anything.
func FuzzCount(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c"}]}`, `[{},{},[]]`, `"\\\""`, `{"x":"\u00e9,:{["}`, `[`, `"unterminated`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := Count(b)
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

// TestEstimate: for the costliest shapes of a JSON body, what decoding allocates (garbage included)
// stays under Estimate — the reservation the budget makes before decoding.
func TestEstimate(t *testing.T) {
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
			est := Estimate(body, Count(body))
			t.Logf("%-16s body %8d B, values %7d: decode allocated %9d B, estimate %9d B (%.0f%%)", sh.name, len(body), Count(body), alloc, est, 100*float64(alloc)/float64(est))
			if alloc > est {
				t.Errorf("decoding allocated %d bytes, over the estimate %d", alloc, est)
			}
		})
	}
}
