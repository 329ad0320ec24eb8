package listener_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookrun/hookrun/listener"
)

// TestAnyPath: an el-NAME Pod (AnyPath) answers for its one EventListener on every path an Ingress may
// forward, and reaches no other EventListener through /hooks/NAME; the shared listener (no AnyPath)
// routes /hooks/NAME by name and has no other paths.
func TestAnyPath(t *testing.T) {
	ns := env.Namespace(t)
	apply(t, ns, fixture(ns))
	single := start(t, ns, func(o *listener.Options) { o.AnyPath = true })
	shared := start(t, ns, nil)
	for i, tc := range []struct {
		name string
		h    *harness
		path string
		code int
	}{
		{"el- pod at /hooks", single, "/hooks", http.StatusAccepted},
		{"el- pod at /", single, "/", http.StatusAccepted},
		{"el- pod at an Ingress path", single, "/ci/github/hooks", http.StatusAccepted},
		{"el- pod: /hooks/NAME is its own EventListener too", single, "/hooks/other-listener", http.StatusAccepted},
		{"shared: unknown EventListener by name", shared, "/hooks/other-listener", http.StatusNotFound},
		{"shared: other paths", shared, "/ci/github/hooks", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A distinct body per case: the same bytes again would be answered as a replay.
			body := strings.Replace(pushBody, `"after":"abc"`, `"after":"path`+string(rune('a'+i))+`"`, 1)
			o := listener.Outgoing{Provider: "github", Event: "push", Secret: ghSecret, Body: []byte(body)}
			req, err := o.Request(context.Background(), tc.h.url+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("POST %s answered %d, want %d", tc.path, resp.StatusCode, tc.code)
			}
		})
	}
}
