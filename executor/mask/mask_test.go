package mask

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	secret := "s3cr3t-t0ken"
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole", []string{"token=" + secret + "\n"}, "token=***\n"},
		{"split", []string{"token=s3cr", "3t-t0", "ken done\n"}, "token=*** done\n"},
		{"byte by byte", strings.Split("a "+secret+" b", ""), "a *** b"},
		{"base64", []string{"auth: " + b64 + "\n"}, "auth: ***\n"},
		{"twice", []string{secret + secret}, "******"},
		{"prefix only", []string{"s3cr3t-t0k", "EN\n"}, "s3cr3t-t0kEN\n"},
		{"held to close", []string{"ends with s3cr"}, "ends with s3cr"},
		{"overlapping secrets", []string{"abcdefghij"}, "***ghij"},
		{"short values are not masked", []string{"it is true"}, "it is true"},
		{"trailing newline in secret", []string{"pw " + secret}, "pw ***"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, Forms([][]byte{[]byte(secret + "\n"), []byte("abcdef"), []byte("efghij"), []byte("true")}))
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("write %q: %d %v", s, n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestNothingToMask(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, Forms([][]byte{[]byte("abcde"), nil}))
	_, _ = w.Write([]byte("abcde cd"))
	_ = w.Close()
	if out.String() != "abcde cd" {
		t.Fatalf("%q", out.String())
	}
}

// FuzzWriter: whatever the writes, no secret reaches the output, and output without secrets is unchanged.
func FuzzWriter(f *testing.F) {
	f.Add("hello s3cret world", 3)
	f.Add("s3cs3cret", 1)
	f.Fuzz(func(t *testing.T, text string, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		const secret = "s3cret"
		var out bytes.Buffer
		w := NewWriter(&out, Forms([][]byte{[]byte(secret)}))
		for i := 0; i < len(text); i += chunk {
			_, _ = w.Write([]byte(text[i:min(i+chunk, len(text))]))
		}
		_ = w.Close()
		if strings.Contains(out.String(), secret) {
			t.Fatalf("secret in output %q", out.String())
		}
		if !strings.Contains(text, "s3c") && !strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(secret))[:3]) && out.String() != text {
			t.Fatalf("output %q changed from %q", out.String(), text)
		}
	})
}
