package listener

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hookrun/hookrun/bindings"
	"github.com/hookrun/hookrun/interceptors"
	"github.com/hookrun/hookrun/templates"
)

// staticSecret is a SecretGetter holding one value: enough for a benchmark of the hot path with no API.
type staticSecret []byte

func (s staticSecret) GetSecretKey(context.Context, string, string, string) ([]byte, error) {
	return s, nil
}

func benchPayload(b *testing.B) []byte {
	if data, err := os.ReadFile("../../shared/corpus/github/push/with-new-branch.payload.json"); err == nil {
		return data
	}
	b.Logf("corpus absent: using a synthetic push payload")
	commits := make([]map[string]any, 3)
	for i := range commits {
		commits[i] = map[string]any{"id": fmt.Sprintf("%040d", i), "message": "change", "added": []string{"a.go"}, "modified": []string{"b.go"}}
	}
	data, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		"head_commit": commits[2], "commits": commits, "repository": map[string]any{"name": "r", "clone_url": "https://example.com/r.git"},
		"pusher": map[string]any{"name": "someone"}})
	return data
}

const benchTemplate = `{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"generateName":"build-"},
"spec":{"pipelineRef":{"name":"build"},"params":[{"name":"revision","value":"$(tt.params.revision)"},
{"name":"url","value":"$(tt.params.url)"},{"name":"ref","value":"$(tt.params.ref)"},{"name":"repo","value":"$(tt.params.repo)"},
{"name":"pusher","value":"$(tt.params.pusher)"},{"name":"event","value":"$(tt.params.event)"}],
"workspaces":[{"name":"source","volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}]}}`

// BenchmarkHotPath is one delivery's work without the API: decode, verify the GitHub signature, a CEL
// filter and overlay, six bindings and rendering a PipelineRun. ns/op is per core (one goroutine).
func BenchmarkHotPath(b *testing.B) {
	body := benchPayload(b)
	event := hotPath(b, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		event()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s/core")
}

// hotPath builds the trigger of BenchmarkHotPath and returns one delivery's work on body.
func hotPath(b *testing.B, body []byte) func() {
	secret := []byte("bench-secret")
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	header := http.Header{}
	header.Set("X-GitHub-Event", "push")
	header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	header.Set("X-GitHub-Delivery", "d1")
	chain, set, tpl := hotPathTrigger(b, secret)
	ctx := context.Background()
	return func() {
		var decoded any
		if err := json.Unmarshal(body, &decoded); err != nil {
			b.Fatal(err)
		}
		out := interceptors.Run(ctx, chain, &interceptors.Request{Body: body, Decoded: decoded, Header: header, Extensions: map[string]any{}, Namespace: "ns"})
		if !out.Continue {
			b.Fatalf("chain stopped: %s", out.Message)
		}
		values, missing, err := set.Resolve(&bindings.Event{Body: decoded, Header: header, Extensions: out.Extensions, EventID: "e"})
		if err != nil || len(missing) > 0 {
			b.Fatalf("bindings: %v %v", err, missing)
		}
		objs, err := tpl.Render(values, missing, templates.Options{Namespace: "ns", UID: "u", NameSeed: "seed",
			Labels: map[string]string{"triggers.tekton.dev/eventlistener": "el", "triggers.tekton.dev/trigger": "t", "triggers.tekton.dev/triggers-eventid": "e"}})
		if err != nil || len(objs) != 1 {
			b.Fatal(err)
		}
	}
}

// hotPathTrigger compiles the interceptors, bindings and template of BenchmarkHotPath.
func hotPathTrigger(b *testing.B, secret []byte) ([]interceptors.Interceptor, *bindings.Set, *templates.Compiled) {
	params := func(m map[string]any) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for k, v := range m {
			out[k], _ = json.Marshal(v)
		}
		return out
	}
	gh, err := interceptors.Build("github", params(map[string]any{"secretRef": map[string]string{"secretName": "s", "secretKey": "k"}, "eventTypes": []string{"push"}}), staticSecret(secret), interceptors.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cel, err := interceptors.Build("cel", params(map[string]any{"filter": "body.ref.startsWith('refs/heads/')",
		"overlays": []map[string]string{{"key": "short", "expression": "body.after.truncate(7)"}}}), nil, interceptors.Options{})
	if err != nil {
		b.Fatal(err)
	}
	set, err := bindings.Compile([]bindings.Param{
		{Name: "revision", Value: "$(body.head_commit.id)"}, {Name: "url", Value: "$(body.repository.clone_url)"},
		{Name: "ref", Value: "$(body.ref)"}, {Name: "repo", Value: "$(body.repository.name)"},
		{Name: "pusher", Value: "$(body.pusher.name)"}, {Name: "event", Value: "$(header.X-GitHub-Event)"},
	})
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := templates.Compile(&templates.Template{
		Params:            []templates.ParamSpec{{Name: "revision"}, {Name: "url"}, {Name: "ref"}, {Name: "repo"}, {Name: "pusher"}, {Name: "event"}},
		ResourceTemplates: [][]byte{[]byte(benchTemplate)},
	})
	if err != nil {
		b.Fatal(err)
	}
	return []interceptors.Interceptor{gh, cel}, set, tpl
}

// BenchmarkReferenceHMACDecode is the floor the hot path is measured against: one HMAC-SHA256 of the
// payload and one JSON decode of it.
func BenchmarkReferenceHMACDecode(b *testing.B) {
	body := benchPayload(b)
	secret := []byte("bench-secret")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		referenceHMACDecode(b, body, secret)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s/core")
}

func referenceHMACDecode(b *testing.B, body, secret []byte) {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	_ = mac.Sum(nil)
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHotPathRatio runs the hot path and the reference alternately, one event each, so that what
// else runs on a shared machine weighs on both alike (two benchmarks run one after the other can see
// different machines). hotpath/ref% is the hot path's event rate as a share of the reference's, from the
// median time of each (a preemption lands on one event of the pair, not on the ratio); sum-ratio% is the
// same from the total times, GC and preemptions included. ns/op is the pair.
func BenchmarkHotPathRatio(b *testing.B) {
	body := benchPayload(b)
	secret := []byte("bench-secret")
	event := hotPath(b, body)
	hot, ref := make([]time.Duration, b.N), make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		referenceHMACDecode(b, body, secret)
		t1 := time.Now()
		event()
		hot[i], ref[i] = time.Since(t1), t1.Sub(t0)
	}
	b.StopTimer()
	var hotSum, refSum time.Duration
	for i := range hot {
		hotSum, refSum = hotSum+hot[i], refSum+ref[i]
	}
	slices.Sort(hot)
	slices.Sort(ref)
	b.ReportMetric(100*ref[b.N/2].Seconds()/hot[b.N/2].Seconds(), "hotpath/ref%")
	b.ReportMetric(100*refSum.Seconds()/hotSum.Seconds(), "sum-ratio%")
	b.ReportMetric(1/hot[b.N/2].Seconds(), "hotpath-events/s")
	b.ReportMetric(1/ref[b.N/2].Seconds(), "ref-events/s")
}
