package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// FuzzParseDeadDelivery (here, beside the commands that read dead-letter directories, so fuzzing needs no
// control plane): any bytes in a dead-letter directory are parsed without panicking; what parses
// round-trips through MarshalDeadDelivery unchanged, and never names a path outside the directory.
func FuzzParseDeadDelivery(f *testing.F) {
	good, err := listener.MarshalDeadDelivery(listener.DeadDelivery{ID: "20261202T054717000000000Z-0a1b2c3d", Time: time.Unix(1, 0).UTC(),
		EventListener: "ns/hooks", Path: "/hooks/hooks", Provider: "gitlab", Event: "Push Hook",
		Header: http.Header{"X-Gitlab-Token": {"t"}}, Body: []byte(`{"a":1}`)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte(nil), good...), 'x'))
	f.Add([]byte("hookrun-dead-letter/1\n{\"id\":\"../etc\",\"path\":\"/x\",\"size\":0}\n"))
	f.Add([]byte("hookrun-dead-letter/1\n{\"id\":\"a\",\"path\":\"/x\",\"size\":-1}\n"))
	f.Add([]byte("hookrun-dead-letter/1\n{\"id\":\"a\",\"path\":\"/x\",\"size\":99999999999}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := listener.ParseDeadDelivery(bytes.NewReader(data), true)
		if err != nil {
			return
		}
		for _, c := range d.ID {
			if c == '/' || c == '.' || c == '\\' {
				t.Fatalf("id %q accepted", d.ID)
			}
		}
		if int64(len(d.Body)) != d.Size {
			t.Fatalf("body %d bytes, size %d", len(d.Body), d.Size)
		}
		again, err := listener.MarshalDeadDelivery(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := listener.ParseDeadDelivery(bytes.NewReader(again), true)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if d2.ID != d.ID || d2.Path != d.Path || !bytes.Equal(d2.Body, d.Body) || d2.Size != d.Size {
			t.Fatalf("round trip changed %+v into %+v", d, d2)
		}
		if meta, err := listener.ParseDeadDelivery(bytes.NewReader(data), false); err != nil || meta.ID != d.ID {
			t.Fatalf("metadata only: %+v, %v", meta, err)
		}
	})
}
