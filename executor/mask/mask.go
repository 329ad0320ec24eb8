// Package mask replaces secret values in a stream of output with "***", including values split across
// writes and their base64 forms, holding back only the bytes that could be the start of a secret.
package mask

import (
	"bytes"
	"encoding/base64"
	"io"
	"slices"
	"sync"
)

// Redacted replaces every secret value.
const Redacted = "***"

// minLen is the shortest value masked: shorter ones ("1", "true", "false") would blank ordinary words.
const minLen = 6

// Forms returns the values to mask for each secret: its trimmed value, and the standard and URL base64
// encodings (padded and not) of the value and the trimmed value, longest first, without duplicates or values shorter than
// six bytes.
func Forms(secrets [][]byte) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	add := func(b []byte) {
		if len(b) >= minLen && !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	for _, s := range secrets {
		// A file's trailing newline is not part of what a step prints: mask the trimmed value (and the
		// encodings of both).
		for i, v := range [][]byte{bytes.TrimSpace(s), s} {
			if i == 0 {
				add(v)
			}
			add([]byte(base64.StdEncoding.EncodeToString(v)))
			add([]byte(base64.RawStdEncoding.EncodeToString(v)))
			add([]byte(base64.URLEncoding.EncodeToString(v)))
			add([]byte(base64.RawURLEncoding.EncodeToString(v)))
		}
	}
	slices.SortStableFunc(out, func(a, b []byte) int { return len(b) - len(a) })
	return out
}

// Writer masks what it writes to the underlying writer. Close flushes what it held back.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte // from Forms
	held    []byte
}

// NewWriter masks secrets (give Forms' output) in what is written to w.
func NewWriter(w io.Writer, secrets [][]byte) *Writer {
	return &Writer{w: w, secrets: secrets}
}

// Write masks p (with what was held back before it) and writes all of it that cannot be the start of a
// secret. It reports len(p) written unless the underlying writer fails.
func (m *Writer) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	buf := append(m.held, p...)
	out, rest := m.redact(buf)
	m.held = append([]byte(nil), rest...)
	if len(out) > 0 {
		if _, err := m.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes what was held back (masked: a secret can no longer continue).
func (m *Writer) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.held) == 0 {
		return nil
	}
	out := m.replaceAll(m.held)
	m.held = nil
	_, err := m.w.Write(out)
	return err
}

// redact returns buf with every complete secret replaced, up to the longest suffix that is a proper
// prefix of a secret (held back until more comes).
func (m *Writer) redact(buf []byte) (out, rest []byte) {
	buf = m.replaceAll(buf)
	hold := 0
	for _, s := range m.secrets {
		for n := min(len(s)-1, len(buf)); n > hold; n-- {
			if bytes.HasSuffix(buf, s[:n]) {
				hold = n
				break
			}
		}
	}
	cut := len(buf) - hold
	return buf[:cut], buf[cut:]
}

func (m *Writer) replaceAll(b []byte) []byte {
	for _, s := range m.secrets {
		if bytes.Contains(b, s) {
			b = bytes.ReplaceAll(b, s, []byte(Redacted))
		}
	}
	return b
}
