package templates

import (
	"encoding/json"
	"testing"
)

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`a"b`, `a\"b`},
		{`a\b`, `a\\b`},
		{"a\nb\rc\td", `a\nb\rc\td`},
		{"\x00\x01\x1f", `\u0000\u0001\u001f`},
		{"\x7f é 世 🚀 <>&", "\x7f é 世 🚀 <>&"},
		{"$(tt.params.x)", "$(tt.params.x)"},
	}
	for _, tc := range tests {
		got := string(appendEscaped([]byte("pre:"), tc.in))
		if got != "pre:"+tc.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, "pre:"+tc.want)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+tc.want+`"`), &back); err != nil || back != tc.in {
			t.Errorf("%q does not decode back to %q: %q %v", tc.want, tc.in, back, err)
		}
	}
}
