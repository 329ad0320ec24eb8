package bindings

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// corpusDir holds real provider payloads, checked out beside the repository
// (../shared from the repository root); it is absent in a user's clone.
const corpusDir = "../../shared/corpus"

// loadCorpus decodes a corpus payload the way the listener does, or skips the
// test when the corpus is not there.
func loadCorpus(t testing.TB, rel string) any {
	t.Helper()
	path := filepath.Join(corpusDir, rel)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("corpus payload %s not found (the shared corpus is beside the repository in CI only)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var body any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return body
}

func githubEvent(body any, event string) *Event {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("Content-Type", "application/json")
	return &Event{Body: body, Header: h, EventID: "ev-1", TriggerName: "github-push"}
}

func TestCorpusGitHub(t *testing.T) {
	type want struct {
		value   string
		missing bool
	}
	tests := []struct {
		file, event string
		params      map[string]want
	}{
		{"github/push/payload.json", "push", map[string]want{
			"$(body.ref)":                              {value: "refs/tags/simple-tag"},
			"$(body.repository.clone_url)":             {value: "https://github.com/Codertocat/Hello-World.git"},
			"$(body.repository.name)":                  {value: "Hello-World"},
			"$(body.pusher.name)":                      {value: "Codertocat"},
			"$(body.repository.owner.login)":           {value: "Codertocat"},
			"$(header.X-GitHub-Event)":                 {value: "push"},
			"$(header.x-github-delivery)":              {value: "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"$(body.repository.id)":                    {value: "186853002"},
			"$(body.repository.pushed_at)":             {value: "1557933657"},
			"$(body.repository.private)":               {value: "false"},
			"$(body.repository.license)":               {value: "null"},
			"$(body.commits)":                          {value: "[]"},
			"$(body.head_commit)":                      {value: "null"},
			"$(body.head_commit.id)":                   {missing: true}, // a tag push has no head commit
			"$(body.commits[0].id)":                    {missing: true},
			"$(context.eventID)":                       {value: "ev-1"},
			"$(body.repository.full_name)@$(body.ref)": {value: "Codertocat/Hello-World@refs/tags/simple-tag"},
		}},
		{"github/push/with-new-branch.payload.json", "push", map[string]want{
			"$(body.head_commit.id)":         {value: "6113728f27ae82c7b1a177c8d03f9e96e0adf246"},
			"$(body.before)":                 {value: "0000000000000000000000000000000000000000"},
			"$(body.head_commit.added)":      {value: `["README.md"]`},
			"$(body.commits[*].id)":          {value: "6113728f27ae82c7b1a177c8d03f9e96e0adf246"},
			"$(body.commits[0].author.name)": {value: "Codertocat"},
			`$(body.commits[?(@.id=="6113728f27ae82c7b1a177c8d03f9e96e0adf246")].message)`: {value: "Initial commit"},
		}},
		{"github/pull_request/opened.with-null-body.json", "pull_request", map[string]want{
			"$(body.pull_request.body)":      {value: "null"},
			"$(body.number)":                 {value: "2"},
			"$(body.pull_request.body.text)": {missing: true},
			"$(body.action)":                 {value: "opened"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			ev := githubEvent(loadCorpus(t, tc.file), tc.event)
			var params []Param
			for expr := range tc.params {
				params = append(params, Param{Name: expr, Value: expr})
			}
			values, missing, err := Resolve(params, ev)
			if err != nil {
				t.Fatal(err)
			}
			for expr, w := range tc.params {
				if w.missing {
					if !errors.Is(missing[expr], ErrFieldNotFound) {
						t.Errorf("%s = %q, want missing", expr, values[expr])
					}
					continue
				}
				if missing[expr] != nil {
					t.Errorf("%s: unexpectedly missing: %v", expr, missing[expr])
					continue
				}
				if values[expr] != w.value {
					t.Errorf("%s = %q, want %q", expr, values[expr], w.value)
				}
			}
		})
	}
}
