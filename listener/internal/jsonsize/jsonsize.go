// Package jsonsize bounds what decoding a JSON text will cost before anything decodes it: the number of
// values it holds, counted in one pass over the bytes without allocating, and the memory its decoded
// form (encoding/json into any) may take.
package jsonsize

// ValueCost is what one JSON value may cost once decoded into any (map entries, interface boxes, slice
// growth), on top of the string bytes copied out of the text. It is rounded up from the allocation per
// value measured for the costliest shapes (`[{"a":1},…]` ≈ 143 B, numbers ≈ 93 B, `[{},…]` ≈ 65 B);
// TestEstimate checks it stays an upper bound.
const ValueCost = 160

// Count returns an upper bound of the number of values (objects, arrays, keys, scalars) a JSON text
// holds: one, plus one per '{', '[', ',' and ':' outside strings. It is exact for texts without empty
// containers and never below the true count for valid JSON (FuzzCount); it never allocates.
func Count(b []byte) int {
	n := 1
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b); i++ {
				if b[i] == '\\' {
					i++
				} else if b[i] == '"' {
					break
				}
			}
		case '{', '[', ',', ':':
			n++
		}
	}
	return n
}

// Estimate is the memory the decoded form of a JSON text of values values may take: its string bytes
// plus ValueCost per value.
func Estimate(text []byte, values int) int64 {
	return int64(len(text)) + int64(values)*ValueCost
}
