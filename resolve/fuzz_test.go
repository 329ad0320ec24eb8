package resolve

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHubAnswer: any answer a hub sends either yields a non-empty manifest or errNotDocument, and
// never panics.
func FuzzParseHubAnswer(f *testing.F) {
	f.Add("tekton", []byte(`{"data":{"yaml":"kind: Task"}}`))
	f.Add("artifact", []byte(`{"data":{"manifestRaw":"kind: Task"}}`))
	f.Add("artifact", []byte(`{"data":null}`))
	f.Add("tekton", []byte(`[]`))
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		data, err := parseHubAnswer(typ, body)
		if err != nil {
			if !errors.Is(err, errNotDocument) {
				t.Fatalf("error %v is not errNotDocument", err)
			}
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			t.Fatal("empty manifest accepted")
		}
	})
}

// FuzzReadOneFile: a bundle layer's bytes either yield at most maxBytes or errNotDocument, never a panic.
func FuzzReadOneFile(f *testing.F) {
	f.Add(tarOf(&testing.T{}, "task.yaml", []byte("kind: Task")))
	f.Add([]byte("not a tar"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, layer []byte) {
		data, err := readOneFile(bytes.NewReader(layer), 1024)
		if err != nil {
			if !errors.Is(err, errNotDocument) {
				t.Fatalf("error %v is not errNotDocument", err)
			}
			return
		}
		if len(data) > 1024 {
			t.Fatalf("%d bytes returned, more than the limit", len(data))
		}
	})
}
