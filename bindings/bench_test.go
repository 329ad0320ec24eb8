package bindings

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// pushBindings returns the params of a typical GitHub push TriggerBinding.
func pushBindings() []Param {
	return []Param{
		{Name: "gitrevision", Value: "$(body.head_commit.id)"},
		{Name: "gitrepositoryurl", Value: "$(body.repository.clone_url)"},
		{Name: "gitref", Value: "$(body.ref)"},
		{Name: "reponame", Value: "$(body.repository.name)"},
		{Name: "pusher", Value: "$(body.pusher.name)"},
		{Name: "event", Value: "$(header.X-GitHub-Event)"},
	}
}

func BenchmarkResolve(b *testing.B) {
	var body any
	raw, err := os.ReadFile(filepath.Join(corpusDir, "github/push/with-new-branch.payload.json"))
	if err != nil {
		raw = []byte(fixtureBody) // the corpus is absent: the inline payload has the same fields
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	ev := &Event{Body: body, Header: h, EventID: "ev"}
	set, err := Compile(pushBindings())
	if err != nil {
		b.Fatal(err)
	}
	values, missing, err := set.Resolve(ev)
	if err != nil || len(values) != len(pushBindings()) {
		b.Fatalf("values %v missing %v err %v", values, missing, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := set.Resolve(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveJSONPath measures the client-go JSONPath fallback.
func BenchmarkResolveJSONPath(b *testing.B) {
	ev := fixtureEvent(b)
	set, err := Compile([]Param{{Name: "m", Value: `$(body.commits[?(@.id=="c2")].message)`}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := set.Resolve(ev); err != nil {
			b.Fatal(err)
		}
	}
}
