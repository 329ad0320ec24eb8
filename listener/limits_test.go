package listener_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// TestBodyLimits: a 30 MB body is refused with 413 before it is read (the client is still sending when the
// answer comes); a valid payload of 25 MiB − 1 byte is accepted.
func TestBodyLimits(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)

	// 30 MB announced: the listener must answer without reading it. Send only the headers and 1 KiB, then
	// wait for the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nContent-Length: %d\r\n\r\n", 30_000_000)
	_, _ = conn.Write([]byte(strings.Repeat(" ", 1024)))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a 30 MB body before it was sent: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("30 MB body: %d, want 413", resp.StatusCode)
	}

	// 25 MiB − 1 byte, valid and signed: accepted.
	const size = 25<<20 - 1
	head := `{"ref":"refs/heads/main","head_commit":{"id":"big"},"repository":{"clone_url":"u"},"pad":"`
	tail := `"}`
	body := head + strings.Repeat("x", size-len(head)-len(tail)) + tail
	if len(body) != size {
		t.Fatalf("payload is %d bytes", len(body))
	}
	code, r, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)})
	if code != http.StatusAccepted || r.Triggers[0].Status != listener.StatusCreated {
		t.Fatalf("25 MiB − 1 byte payload: %d %+v", code, r.Triggers)
	}
}

// TestSlowClientsAndHugeHeaders: a client dribbling headers one byte a second and one sending 1 MiB of
// headers are cut off by the server's limits, while a normal delivery at the same time is served.
func TestSlowClientsAndHugeHeaders(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, func(o *listener.Options) { o.ReadHeaderTimeout = 2 * time.Second })
	addr := strings.TrimPrefix(h.url, "http://")

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		msg := "POST /hooks HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
		for i := 0; i < len(msg); i++ {
			if _, err := slow.Write([]byte{msg[i]}); err != nil {
				closed <- time.Since(start)
				return
			}
			time.Sleep(time.Second)
		}
		closed <- -1
	}()

	huge, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer huge.Close()
	go func() {
		fmt.Fprintf(huge, "POST /hooks HTTP/1.1\r\nHost: x\r\n")
		for i := 0; i < 1024; i++ {
			if _, err := fmt.Fprintf(huge, "X-Big-%d: %s\r\n", i, strings.Repeat("b", 1000)); err != nil {
				return
			}
		}
		fmt.Fprintf(huge, "\r\n")
	}()
	_ = huge.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(huge), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("1 MiB of headers answered %d", resp.StatusCode)
		}
	} // a reset connection is an acceptable refusal too

	// Meanwhile a normal client is served.
	code, r, _ := h.send(t, listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(pushBody)})
	if code != http.StatusAccepted {
		t.Fatalf("normal delivery while under slowloris: %d %+v", code, r)
	}
	select {
	case d := <-closed:
		if d < 0 {
			t.Fatal("slowloris connection was never closed")
		}
		t.Logf("slowloris connection closed after %s", d.Round(time.Second))
	case <-time.After(10 * time.Second):
		t.Fatal("slowloris connection still open after 10s (ReadHeaderTimeout 2s)")
	}
}

// TestCELCostBomb: a CEL filter that would loop over a huge list fails its trigger with "cost limit
// exceeded" quickly; the other triggers of the same delivery are unaffected.
func TestCELCostBomb(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns)+`
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: bomb}
spec:
  triggers:
  - name: bomb
    interceptors:
    - ref: {name: cel}
      params:
      - name: filter
        value: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, body.ref.matches('^refs/.*$')))))))"
    bindings: [{name: url, value: "x"}, {name: event, value: "bomb"}]
    template: {ref: run}
  - name: fine
    bindings: [{name: url, value: "y"}, {name: event, value: "fine"}]
    template: {ref: run}
`)
	h := start(t, ns, func(o *listener.Options) { o.CELCostLimit = 100_000 })
	req, _ := http.NewRequest(http.MethodPost, h.url+"/hooks/bomb", strings.NewReader(pushBody))
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	code, r, _ := do(t, req)
	took := time.Since(began)
	if code != http.StatusAccepted {
		t.Fatalf("%d %+v", code, r)
	}
	byName := map[string]listener.TriggerResult{}
	for _, tr := range r.Triggers {
		byName[tr.Name] = tr
	}
	if b := byName["bomb"]; b.Status != listener.StatusFailed || !strings.Contains(b.Reason, "cost limit exceeded") {
		t.Errorf("bomb trigger: %+v", b)
	}
	if f := byName["fine"]; f.Status != listener.StatusCreated {
		t.Errorf("other trigger: %+v", f)
	}
	if took > 2*time.Second {
		t.Errorf("cost bomb took %s", took)
	}
}

// TestReplay50: the same delivery sent 50 times at once makes one set of resources.
func TestReplay50(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	h := start(t, ns, nil)
	o := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, ID: "replayed", Body: []byte(pushBody)}
	var wg sync.WaitGroup
	names := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := o.Request(context.Background(), h.url+"/hooks")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var r listener.Response
			_ = json.NewDecoder(resp.Body).Decode(&r)
			if resp.StatusCode != 202 || len(r.Triggers) == 0 || len(r.Triggers[0].Resources) != 1 {
				t.Errorf("replay answered %d %+v", resp.StatusCode, r.Triggers)
				return
			}
			names <- r.Triggers[0].Resources[0].Name
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for n := range names {
		seen[n] = true
	}
	if len(seen) != 1 {
		t.Errorf("replies name %d different PipelineRuns", len(seen))
	}
	if n := len(pipelineRuns(t, ns)); n != 1 {
		t.Errorf("%d PipelineRuns after 50 concurrent replays", n)
	}
}
