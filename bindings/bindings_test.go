package bindings

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// fixtureBody is a small push-like payload covering the value kinds.
const fixtureBody = `{
  "ref": "refs/heads/main",
  "head_commit": {
    "id": "abc123",
    "message": "fix: \"quoted\" \\ back\nsecond line $(tt.params.x) $(uid)"
  },
  "commits": [
    {"id": "c1", "message": "one", "added": ["a.txt"]},
    {"id": "c2", "message": "two (with parens)", "added": []}
  ],
  "repository": {
    "name": "hello",
    "clone_url": "https://github.com/o/hello.git",
    "size": 42,
    "negative": -7,
    "stars": 1.5,
    "tiny": 0.0000001,
    "big": 1e21,
    "private": false,
    "topics": ["a", "b"],
    "owner": {"login": "o"}
  },
  "pusher": {"name": "octo"},
  "a.b": "dotted",
  "x.y": ["p", "q"],
  "a": {"b": "nested"},
  "dev.tekton.dev/foo": "slashed",
  "nothing": null,
  "yaml": "key: value\n- item: [1, 2]\n  other: {a: \"b\"}\n",
  "empty": ""
}`

func fixtureEvent(t testing.TB) *Event {
	t.Helper()
	var body any
	if err := json.Unmarshal([]byte(fixtureBody), &body); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	h.Set("Content-Type", "application/json")
	return &Event{
		Body:   body,
		Header: h,
		Extensions: map[string]any{
			"truncated_sha": "abc",
			"n":             float64(3),
			"count":         int64(7),
			"nested":        map[string]any{"x": map[string]any{"y": "z"}},
			"list":          []string{"p", "q"},
			"labels":        map[string]string{"team": "infra"},
		},
		EventID:     "ev-1",
		EventURL:    "http://el.example/hooks",
		TriggerName: "push",
	}
}

func TestResolveValues(t *testing.T) {
	ev := fixtureEvent(t)
	tests := []struct {
		name, value, want string
	}{
		{"plain field", "$(body.ref)", "refs/heads/main"},
		{"leading dot", "$(.body.ref)", "refs/heads/main"},
		{"braces", "$({body.ref})", "refs/heads/main"},
		{"braces and dot", "$({.body.ref})", "refs/heads/main"},
		{"nested field", "$(body.head_commit.id)", "abc123"},
		{"index", "$(body.commits[0].id)", "c1"},
		{"negative index", "$(body.commits[-1].id)", "c2"},
		{"index into array field", "$(body.commits[0].added[0])", "a.txt"},
		{"quoted key with dots", "$(body['a.b'])", "dotted"},
		{"escaped dots", `$(body.a\.b)`, "dotted"},
		{"dots are path steps", "$(body.a.b)", "nested"},
		{"quoted key steps", "$(body['a']['b'])", "nested"},
		{"escaped dots and slash", `$(body.dev\.tekton\.dev\/foo)`, "slashed"},
		{"header as sent", "$(header.X-GitHub-Event)", "push"},
		{"header lower case", "$(header.x-github-event)", "push"},
		{"header canonical", "$(header.X-Github-Event)", "push"},
		{"header multi-value joined", "$(header.X-Multi)", "a,b"},
		{"header quoted key", "$(header['x-multi'])", "a,b"},
		{"whole header", "$(header)", `{"Content-Type":"application/json","X-Github-Event":"push","X-Multi":"a,b"}`},
		{"extension", "$(extensions.truncated_sha)", "abc"},
		{"extension nested", "$(extensions.nested.x.y)", "z"},
		{"extension []string", "$(extensions.list[1])", "q"},
		{"extension map[string]string", "$(extensions.labels.team)", "infra"},
		{"extension int64", "$(extensions.count)", "7"},
		{"extension float integral", "$(extensions.n)", "3"},
		{"context eventID", "$(context.eventID)", "ev-1"},
		{"context eventURL", "$(context.eventURL)", "http://el.example/hooks"},
		{"context triggerName", "$(context.triggerName)", "push"},
		{"whole context", "$(context)", `{"eventID":"ev-1","eventURL":"http://el.example/hooks","triggerName":"push"}`},
		{"filter", `$(body.commits[?(@.id=="c2")].message)`, "two (with parens)"},
		{"filter with paren in quotes", `$(body.commits[?(@.message=="two (with parens)")].id)`, "c2"},
		{"filter no match", `$(body.commits[?(@.id=="zz")].message)`, "[]"},
		{"wildcard", "$(body.commits[*].id)", `["c1","c2"]`},
		{"slice", "$(body.commits[0:1].id)", "c1"},
		{"union", "$(body.commits[0,1].id)", `["c1","c2"]`},
		{"recursive descent", "$(body..login)", "o"},
		{"wildcard field", "$(body.pusher.*)", "octo"},
		{"quoted key before filter", `$(body['repository'].topics[*])`, `["a","b"]`},
		{"quoted dotted key in jsonpath", `$(body['x.y'][*])`, `["p","q"]`},
		{"filter on extensions", `$(extensions.list[?(@=="q")])`, "q"},
		{"literal text around", "refs/heads/$(body.pusher.name)-$(header.X-GitHub-Event)", "refs/heads/octo-push"},
		{"several expressions", "$(body.repository.owner.login)/$(body.repository.name)", "o/hello"},
		{"plain text", `no "expressions" here`, `no "expressions" here`},
		{"empty value", "", ""},
		{"empty string field", "$(body.empty)", ""},
		{"integer", "$(body.repository.size)", "42"},
		{"negative integer", "$(body.repository.negative)", "-7"},
		{"fraction", "$(body.repository.stars)", "1.5"},
		{"tiny number", "$(body.repository.tiny)", "1e-7"},
		{"huge number", "$(body.repository.big)", "1e+21"},
		{"number in text", "size=$(body.repository.size)", "size=42"},
		{"bool", "$(body.repository.private)", "false"},
		{"null", "$(body.nothing)", "null"},
		{"object", "$(body.pusher)", `{"name":"octo"}`},
		{"array", "$(body.repository.topics)", `["a","b"]`},
		{"verbatim message", "$(body.head_commit.message)", "fix: \"quoted\" \\ back\nsecond line $(tt.params.x) $(uid)"},
		{"verbatim yaml", "$(body.yaml)", "key: value\n- item: [1, 2]\n  other: {a: \"b\"}\n"},
		{"nested wrapper", "$($(body.ref))", "$(refs/heads/main)"},
		{"dollar without paren", "cost $5 $(body.ref)", "cost $5 refs/heads/main"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values, missing, err := Resolve([]Param{{Name: "p", Value: tc.value}}, ev)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.value, err)
			}
			if m := missing["p"]; m != nil {
				t.Fatalf("Resolve(%q): unexpectedly missing: %v", tc.value, m)
			}
			got, ok := values["p"]
			if !ok {
				t.Fatalf("Resolve(%q): no value", tc.value)
			}
			if got != tc.want {
				t.Errorf("Resolve(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestResolveMissing(t *testing.T) {
	ev := fixtureEvent(t)
	tests := []struct {
		name, value, wantErr string
	}{
		{"absent key", "$(body.head_commit.nope)", "$(body.head_commit.nope): field not found"},
		{"absent top-level key", "$(body.nope)", "$(body.nope): field not found"},
		{"through null", "$(body.nothing.x)", "$(body.nothing.x): field not found"},
		{"index out of range", "$(body.commits[5].id)", "$(body.commits[5].id): field not found: array index 5 out of bounds (length 2)"},
		{"index into object", "$(body.pusher[0])", "$(body.pusher[0]): field not found: [0]: not an array"},
		{"field of string", "$(body.ref.x)", "$(body.ref.x): field not found"},
		{"field of array", "$(body.commits.id)", "$(body.commits.id): field not found"},
		{"absent header", "$(header.X-Nope)", "$(header.X-Nope): field not found"},
		{"field of header", "$(header.X-Multi.x)", "$(header.X-Multi.x): field not found"},
		{"absent extension", "$(extensions.nope)", "$(extensions.nope): field not found"},
		{"absent context", "$(context.nope)", "$(context.nope): field not found"},
		{"unknown root", "$(foo.bar)", "$(foo.bar): field not found: unknown root"},
		{"missing inside text", "refs/$(body.nope)/x", "$(body.nope): field not found"},
		{"second expression missing", "$(body.ref)-$(body.nope)", "$(body.nope): field not found"},
		{"jsonpath missing", "$(body.commits[*].nope)", "$(body.commits[*].nope): field not found: nope is not found"},
		{"jsonpath out of range", "$(body.commits[3:4])", "$(body.commits[3:4]): field not found: array index out of bounds: index 3, length 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values, missing, err := Resolve([]Param{{Name: "p", Value: tc.value}, {Name: "ok", Value: "$(body.ref)"}}, ev)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.value, err)
			}
			if v, ok := values["p"]; ok {
				t.Fatalf("Resolve(%q) = %q, want missing", tc.value, v)
			}
			m := missing["p"]
			if m == nil {
				t.Fatalf("Resolve(%q): not in missing", tc.value)
			}
			if !errors.Is(m, ErrFieldNotFound) {
				t.Errorf("missing error %v does not wrap ErrFieldNotFound", m)
			}
			if m.Error() != tc.wantErr {
				t.Errorf("missing error = %q, want %q", m.Error(), tc.wantErr)
			}
			if values["ok"] != "refs/heads/main" {
				t.Errorf("other param = %q, want it resolved regardless", values["ok"])
			}
			if _, ok := missing["ok"]; ok {
				t.Errorf("other param reported missing")
			}
		})
	}
}

func TestResolveBodyShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    any
		value   string
		want    string
		missing bool
	}{
		{"string body field", "hello", "$(body.x)", "", true},
		{"array body field", []any{"a"}, "$(body.x)", "", true},
		{"array body index", []any{"a", float64(2)}, "$(body[1])", "2", false},
		{"nil body field", nil, "$(body.x)", "", true},
		{"nil body whole", nil, "$(body)", "null", false},
		{"whole body", map[string]any{"b": float64(1), "a": "x<y"}, "$(body)", `{"a":"x\u003cy","b":1}`, false},
		{"json.Number", map[string]any{"n": json.Number("12.50")}, "$(body.n)", "12.50", false},
		{"nil extensions whole", nil, "$(extensions)", "null", false},
		{"nil extensions field", nil, "$(extensions.x)", "", true},
		{"nil header field", nil, "$(header.X-Foo)", "", true},
		{"nil header whole", nil, "$(header)", "{}", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values, missing, err := Resolve([]Param{{Name: "p", Value: tc.value}}, &Event{Body: tc.body})
			if err != nil {
				t.Fatal(err)
			}
			if tc.missing {
				if missing["p"] == nil || !errors.Is(missing["p"], ErrFieldNotFound) {
					t.Fatalf("got value %q, missing %v; want missing", values["p"], missing["p"])
				}
				return
			}
			if missing["p"] != nil {
				t.Fatalf("unexpectedly missing: %v", missing["p"])
			}
			if values["p"] != tc.want {
				t.Errorf("got %q, want %q", values["p"], tc.want)
			}
		})
	}
}

func TestResolveNilEvent(t *testing.T) {
	values, missing, err := Resolve([]Param{{Name: "a", Value: "lit"}, {Name: "b", Value: "$(body.x)"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if values["a"] != "lit" || missing["b"] == nil {
		t.Errorf("values %v missing %v", values, missing)
	}
}

func TestResolveNoMissingIsNil(t *testing.T) {
	_, missing, err := Resolve([]Param{{Name: "a", Value: "$(body.ref)"}}, fixtureEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	if missing != nil {
		t.Errorf("missing = %v, want nil", missing)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		params  []Param
		wantSub string
	}{
		{"unterminated", []Param{{Name: "rev", Value: "$(body.ref"}}, `binding param "rev"`},
		{"unterminated after text", []Param{{Name: "rev", Value: "x $(body.ref) $(body"}}, "unterminated"},
		{"empty", []Param{{Name: "e", Value: "$()"}}, "empty expression"},
		{"empty braces", []Param{{Name: "e", Value: "$({})"}}, "empty expression"},
		{"brace inside", []Param{{Name: "b", Value: "$(body.{x})"}}, "unexpected brace"},
		{"bad array", []Param{{Name: "arr", Value: "$(body.commits[)"}}, `binding param "arr": invalid binding expression: $(body.commits[)`},
		{"bad array index", []Param{{Name: "arr", Value: "$(body.commits[x])"}}, "invalid array index"},
		{"double quoted key", []Param{{Name: "q", Value: `$(body["a"])`}}, `binding param "q"`},
		{"bad filter", []Param{{Name: "f", Value: `$(body.commits[?(@.id==)].x)`}}, `binding param "f"`},
		{"empty name", []Param{{Name: "", Value: "x"}}, "empty name"},
		{"duplicate", []Param{{Name: "a", Value: "x"}, {Name: "a", Value: "y"}}, `duplicate binding param "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.params)
			if err == nil {
				t.Fatalf("Compile(%v) succeeded, want error", tc.params)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not contain %q", err, tc.wantSub)
			}
			if _, _, rerr := Resolve(tc.params, fixtureEvent(t)); rerr == nil {
				t.Errorf("Resolve succeeded, want the compile error")
			}
		})
	}
}

func TestSetReuse(t *testing.T) {
	set, err := Compile([]Param{
		{Name: "rev", Value: "$(body.head_commit.id)"},
		{Name: "msgs", Value: "$(body.commits[*].message)"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		values, missing, err := set.Resolve(fixtureEvent(t))
		if err != nil || missing != nil {
			t.Fatalf("run %d: %v %v", i, err, missing)
		}
		if values["rev"] != "abc123" || values["msgs"] != `["one","two (with parens)"]` {
			t.Fatalf("run %d: %v", i, values)
		}
	}
	values, missing, err := set.Resolve(&Event{Body: map[string]any{}})
	if err != nil || len(values) != 0 || len(missing) != 2 {
		t.Fatalf("empty body: values %v missing %v err %v", values, missing, err)
	}
}

func TestResolveConcurrent(t *testing.T) {
	set, err := Compile([]Param{
		{Name: "f", Value: `$(body.commits[?(@.id=="c1")].message)`},
		{Name: "r", Value: "$(body.ref)"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvent(t)
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				values, _, err := set.Resolve(ev)
				if err == nil && (values["f"] != "one" || values["r"] != "refs/heads/main") {
					err = errors.New("wrong values " + values["f"] + " " + values["r"])
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestUnprintableValue(t *testing.T) {
	ev := &Event{Extensions: map[string]any{"ch": make(chan int)}}
	_, _, err := Resolve([]Param{{Name: "c", Value: "$(extensions.ch)"}}, ev)
	if err == nil || !strings.Contains(err.Error(), `binding param "c"`) {
		t.Fatalf("err = %v, want an error naming the param", err)
	}
}
