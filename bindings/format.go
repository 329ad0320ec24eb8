package bindings

import (
	"encoding/json"
	"math"
	"strconv"
)

// appendValue appends the text form of a selected value to b: strings raw,
// null as "null", numbers and bools as JSON, objects and arrays as compact
// JSON (as encoding/json writes them, which is what Tekton does).
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return append(b, x...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendFloat(b, x)
	case json.Number:
		return append(b, x...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case multi:
		if len(x) == 1 {
			return appendValue(b, x[0])
		}
		return appendJSON(b, []any(x))
	}
	return appendJSON(b, v)
}

// appendFloat formats a float64 exactly like encoding/json, which prints
// integral values without a fraction or exponent below 1e21 (42, not 4.2e+01).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	if abs := math.Abs(f); abs == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64), nil
	}
	return appendJSON(b, f)
}

func appendJSON(b []byte, v any) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}
