package interceptors

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// celRequest is a GitHub-like pull_request event used by the CEL tests.
func celRequest(t testing.TB) *Request {
	t.Helper()
	body := []byte(`{
		"action": "opened",
		"ref": "refs/heads/feature/cel",
		"count": 2,
		"measure": 1.7,
		"labels": [{"name": "test-a"}, {"name": "test-b"}],
		"pull_request": {"head": {"sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}},
		"message": {"data": "aGVsbG8="},
		"config": "{\"testing\":\"value\",\"n\":3}",
		"yaml": "key1: value1\nlist:\n  - a\n  - b\n",
		"url": "https://user:pass@example.com/test/path?s=testing&m=1&m=2#first",
		"note": "héllo wörld",
		"empty": []
	}`)
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatal(err)
	}
	return &Request{
		Body:    body,
		Decoded: decoded,
		Header: header("X-Github-Event", "pull_request", "X-Secret-Token", "let-me-in",
			"X-Multi", "first", "X-Multi", "second"),
		Extensions: map[string]any{"truncated": "abc", "nested": map[string]any{"n": 1.0}},
		Namespace:  "team-a",
		Context:    Context{EventURL: "http://el.team-a.svc:8080/hooks/github?x=1", EventID: "ev-1", TriggerID: "namespaces/team-a/triggers/t1"},
	}
}

func TestCELFilterFunctions(t *testing.T) {
	sg := newSecrets("team-a/hook-secret/token", "let-me-in", "other-ns/hook-secret/token", "let-me-in")
	cases := []struct {
		filter string
		code   Code
		msg    string
	}{
		// Variables.
		{"body.action == 'opened'", OK, ""},
		{"body.action == 'closed'", Skip, "expression body.action == 'closed' did not return true"},
		{"header['X-Github-Event'][0] == 'pull_request'", OK, ""},
		{"'X-Github-Event' in header", OK, ""},
		{"extensions.truncated == 'abc' && extensions.nested.n == 1.0", OK, ""},
		{"requestURL.parseURL().path == '/hooks/github'", OK, ""},
		{"body.count == 2.0 && int(body.count) + 2 == 4 && body.measure * 3.0 > 5.0", OK, ""},
		{"body.labels.exists(x, x.name == 'test-b') && !body.labels.all(x, x.name.endsWith('-b'))", OK, ""},
		// match / canonical.
		{"header.match('X-GitHub-Event', 'pull_request')", OK, ""},
		{"header.match('x-github-event', 'pull_request')", OK, ""},
		{"header.match('X-GitHub-Event', 'push')", Skip, ""},
		{"header.match('X-Multi', 'first')", OK, ""},
		{"header.match('X-Multi', 'second')", Skip, ""}, // Tekton compares the first value only
		{"header.canonical('x-github-event') == 'pull_request'", OK, ""},
		{"header.canonical('X-Absent') == ''", OK, ""},
		// truncate.
		{"body.pull_request.head.sha.truncate(7) == '6113728'", OK, ""},
		{"truncate(body.pull_request.head.sha, 5) == '61137'", OK, ""},
		{"'abc'.truncate(10) == 'abc' && 'abc'.truncate(0) == ''", OK, ""},
		{"body.note.truncate(2) == 'hé'", OK, ""},
		{"'abc'.truncate(-1) == ''", InvalidArgument, "negative length"},
		// compareSecret.
		{"header.canonical('X-Secret-Token').compareSecret('token', 'hook-secret')", OK, ""},
		{"header.canonical('X-Secret-Token').compareSecret('token', 'hook-secret', 'team-a')", OK, ""},
		{"'let-me-i'.compareSecret('token', 'hook-secret')", Skip, ""},
		{"''.compareSecret('token', 'hook-secret')", Skip, ""},
		{"'x'.compareSecret('token', 'hook-secret', 'other-ns')", InvalidArgument, "outside the trigger's namespace"},
		{"'x'.compareSecret('token', 'missing-secret')", InvalidArgument, "missing-secret"},
		// parseJSON / parseYAML / parseURL.
		{"body.config.parseJSON().testing == 'value' && body.config.parseJSON().n == 3.0", OK, ""},
		{"'[1]'.parseJSON().size() == 1", InvalidArgument, "parseJSON"},
		{"body.yaml.parseYAML().key1 == 'value1' && body.yaml.parseYAML().list[1] == 'b'", OK, ""},
		{"'key1: [unclosed'.parseYAML().key1 == ''", InvalidArgument, "parseYAML"},
		{`body.url.parseURL().scheme == 'https' && body.url.parseURL().host == 'example.com' &&
		  body.url.parseURL().path == '/test/path' && body.url.parseURL().rawQuery == 's=testing&m=1&m=2' &&
		  body.url.parseURL().fragment == 'first' && body.url.parseURL().query['s'] == 'testing' &&
		  body.url.parseURL().query['m'] == '1,2' && body.url.parseURL().queryStrings['m'][1] == '2' &&
		  body.url.parseURL().auth.username == 'user' && body.url.parseURL().auth.password == 'pass'`, OK, ""},
		{"!('auth' in 'https://example.com/x'.parseURL())", OK, ""},
		{"'http://[::1'.parseURL().host == ''", InvalidArgument, "parseURL"},
		// marshalJSON.
		{`{'testing': 'value'}.marshalJSON() == '{"testing":"value"}'`, OK, ""},
		{`marshalJSON(body.labels) == '[{"name":"test-a"},{"name":"test-b"}]'`, OK, ""},
		{`body.pull_request.marshalJSON().parseJSON().head.sha == body.pull_request.head.sha`, OK, ""},
		{`[1, 'a&b', true, null].marshalJSON() == '[1,"a\\u0026b",true,null]'`, OK, ""}, // encoding/json's escaping, as Tekton
		{`{'b': '<x>', 'a': 1.5}.marshalJSON() == '{"a":1.5,"b":"\\u003cx\\u003e"}'`, OK, ""},
		// first / last.
		{"[1, 2, 3, 4, 5].first() == 1 && [1, 2, 3, 4, 5].last() == 5", OK, ""},
		{"first(body.labels).name == 'test-a' && last(body.labels).name == 'test-b'", OK, ""},
		{"body.labels.last().name == 'test-b'", OK, ""},
		// Tekton's first()/last() of an empty list are null, never an error.
		{"body.empty.first() == null && body.empty.last() == null", OK, ""},
		{"first(body.empty) == null && last(body.empty) == null", OK, ""},
		{"[].first() == null && [].last() == null", OK, ""},
		{"body.empty.first() == 1", Skip, ""},
		{"[7].first() == 7 && [7].last() == 7", OK, ""},
		{"body.empty.first().name == 'x'", InvalidArgument, ""},
		// translate.
		{`"This is $an Invalid5String ".translate("[^a-z0-9]+", "") == "hisisannvalid5tring"`, OK, ""},
		{`"This is $an Invalid5String ".translate("[^a-z0-9]+", "ABC") == "ABChisABCisABCanABCnvalid5ABCtringABC"`, OK, ""},
		{`'x'.translate('(', '') == ''`, InvalidArgument, "translate"},
		// cel-go extensions.
		{"body.ref.split('/')[2] == 'feature' && ['refs', 'heads', 'main'].join('/') == 'refs/heads/main'", OK, ""},
		{"'this that another'.replace('th', ' ', 2) == ' is  at another'", OK, ""},
		{"string(base64.decode(body.message.data)) == 'hello' && base64.encode(b'hello') == 'aGVsbG8='", OK, ""},
		{"sets.contains([1, 2, 3], [2]) && sets.intersects(['a'], ['a', 'b'])", OK, ""},
		{"[3, 1, 2].sort() == [1, 2, 3] && [1, 1, 2].distinct() == [1, 2] && lists.range(3) == [0, 1, 2]", OK, ""},
		{"math.greatest(1, 5, 3) == 5 && math.abs(-2) == 2", OK, ""},
		// Errors at evaluation time.
		{"body.nope == 'x'", InvalidArgument, "no such key"},
		{"body.action", InvalidArgument, "not bool"},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			ic := mustBuild(t, "cel", params(t, "filter", tc.filter), sg, Options{})
			got := ic.Process(context.Background(), celRequest(t))
			expect(t, got, tc.code, tc.msg, "let-me-in")
			if got.Code == OK && got.Extensions != nil {
				t.Fatalf("filter without overlays returned extensions %v", got.Extensions)
			}
		})
	}
	// compareSecret reads from the request's namespace.
	if calls := strings.Join(sg.calls, " "); strings.Contains(calls, "other-ns") || !strings.Contains(calls, "team-a/hook-secret/token") {
		t.Fatalf("secret lookups: %v", sg.calls)
	}
}

func TestCELOverlays(t *testing.T) {
	overlays := []map[string]string{
		{"key": "truncated_sha", "expression": "body.pull_request.head.sha.truncate(7)"},
		{"key": "branch_name", "expression": "body.ref.split('/')[2]"},
		{"key": "a.b", "expression": "body.count + 1.0"},
		{"key": "a.c.d", "expression": "int(body.count) + 2"},
		{"key": `dotted\.key`, "expression": "true"},
		{"key": "labels", "expression": "body.labels.map(x, x.name.substring(x.name.lastIndexOf('-') + 1))"},
		{"key": "pr", "expression": "body.pull_request"},
		{"key": "decoded", "expression": "base64.decode(body.message.data)"},
		{"key": "nothing", "expression": "null"},
		{"key": "map", "expression": "{'k': [1u, 2.5, 'x'], 'when': timestamp('2024-01-02T03:04:05Z'), 'd': duration('90s')}"},
		{"key": "replaced", "expression": "'first'"},
		{"key": "replaced", "expression": "'second'"},
	}
	ic := mustBuild(t, "cel", params(t, "filter", "header.match('X-GitHub-Event', 'pull_request')", "overlays", overlays), nil, Options{})
	req := celRequest(t)
	got := ic.Process(context.Background(), req)
	expect(t, got, OK, "")
	want := map[string]any{
		"truncated_sha": "6113728",
		"branch_name":   "feature",
		"a":             map[string]any{"b": 3.0, "c": map[string]any{"d": 4.0}},
		"dotted.key":    true,
		"labels":        []any{"a", "b"},
		"pr":            map[string]any{"head": map[string]any{"sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}},
		"decoded":       "aGVsbG8=",
		"nothing":       nil,
		"map":           map[string]any{"k": []any{1.0, 2.5, "x"}, "when": "2024-01-02T03:04:05Z", "d": "90s"},
		"replaced":      "second",
	}
	if !reflect.DeepEqual(got.Extensions, want) {
		gotJSON, _ := json.MarshalIndent(got.Extensions, "", " ")
		t.Fatalf("extensions:\n%s", gotJSON)
	}
	// The overlay result must not alias the shared decoded body.
	got.Extensions["pr"].(map[string]any)["head"].(map[string]any)["sha"] = "changed"
	if req.Decoded.(map[string]any)["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] == "changed" {
		t.Fatal("overlay result aliases the request body")
	}
	// Extensions must be JSON-encodable as is.
	if _, err := json.Marshal(got.Extensions); err != nil {
		t.Fatal(err)
	}
	// Filter false: no overlays evaluated.
	req.Header.Set("X-Github-Event", "push")
	expect(t, ic.Process(context.Background(), req), Skip, "did not return true")

	// Overlay evaluation errors are InvalidArgument naming the key.
	bad := mustBuild(t, "cel", params(t, "overlays", []map[string]string{{"key": "bad_measure_times_3", "expression": "body.measure * 3"}}), nil, Options{})
	got = bad.Process(context.Background(), celRequest(t))
	expect(t, got, InvalidArgument, "overlay bad_measure_times_3")
	expect(t, got, InvalidArgument, "no such overload")
	nan := mustBuild(t, "cel", params(t, "overlays", []map[string]string{{"key": "nan", "expression": "0.0 / 0.0"}}), nil, Options{})
	expect(t, nan.Process(context.Background(), celRequest(t)), InvalidArgument, "JSON")
}

func TestCELBuildErrors(t *testing.T) {
	cases := []struct {
		name string
		p    map[string]json.RawMessage
		want []string
	}{
		{"non-bool filter", params(t, "filter", "'abc'"), []string{"cel interceptor: filter must evaluate to bool, got string"}},
		{"int filter", params(t, "filter", "body.count.size() + 1"), []string{"filter must evaluate to bool, got int"}},
		{"syntax error", params(t, "filter", "body.action == "), []string{`param "filter"`, "Syntax error"}},
		{"undeclared variable", params(t, "filter", "bdy.action == 'x'"), []string{`param "filter"`, "undeclared reference to 'bdy'"}},
		{"unknown function", params(t, "filter", "body.action.frobnicate()"), []string{`param "filter"`, "frobnicate"}},
		{"wrong arg type", params(t, "filter", "header.match('X', 1)"), []string{`param "filter"`}},
		{"hidden variable unreachable", params(t, "filter", "compareSecret(body, 'a', 'b', 'c')"), nil},
		{"overlay syntax error", params(t, "overlays", []map[string]string{{"key": "ok", "expression": "1"}, {"key": "broken.key", "expression": "body.("}}), []string{`param "overlays"`, `"broken.key"`}},
		{"overlay undeclared", params(t, "overlays", []map[string]string{{"key": "sha", "expression": "pull_request.sha"}}), []string{`"sha"`, "undeclared reference"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build("cel", tc.p, nil, Options{})
			if tc.want == nil {
				// compareSecret called globally type-checks (the hidden scope is dyn) but cannot work.
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Build succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	ic := mustBuild(t, "cel", params(t, "filter", "compareSecret(body, 'a', 'b', 'c')"), newSecrets(), Options{})
	expect(t, ic.Process(context.Background(), celRequest(t)), InvalidArgument, "must be called as")
}

func TestCELCostLimit(t *testing.T) {
	ten := "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
	bomb := ten + ".map(a, " + ten + ".map(b, " + ten + ".map(c, " + ten + ".map(d, " + ten + ".map(e, " + ten + ".map(f, a + b + c + d + e + f))))))" + ".size() > 0"
	cases := []struct {
		name string
		p    map[string]json.RawMessage
		opts Options
	}{
		{"filter, default limit", params(t, "filter", bomb), Options{}},
		{"overlay, default limit", params(t, "overlays", []map[string]string{{"key": "boom", "expression": bomb}}), Options{}},
		{"range based, default limit", params(t, "filter", "lists.range(1000).map(x, lists.range(100000)).size() > 0"), Options{}},
		{"small limit", params(t, "filter", "body.labels.map(x, x.name + x.name + x.name).size() > 0 && body.action.size() > 0 && body.ref.size() > 0"), Options{CELCostLimit: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ic := mustBuild(t, "cel", tc.p, nil, tc.opts)
			start := time.Now()
			got := ic.Process(context.Background(), celRequest(t))
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("cost-limited evaluation took %v", d)
			}
			// The cost budget normally stops a bomb; on a loaded machine the 1 s wall-clock cap may come
			// first. Either way the trigger fails fast with a reason saying which limit.
			expect(t, got, InvalidArgument, "")
			if !strings.Contains(got.Message, "cost limit exceeded") && (tc.opts.CELCostLimit != 0 || !strings.Contains(got.Message, "time limit exceeded")) {
				t.Fatalf("message %q names neither the cost limit nor the time limit", got.Message)
			}
		})
	}
	// The same cheap expression passes with a sufficient budget.
	ic := mustBuild(t, "cel", params(t, "filter", "body.action == 'opened'"), nil, Options{CELCostLimit: 100})
	expect(t, ic.Process(context.Background(), celRequest(t)), OK, "")
}

func TestCELTimeLimit(t *testing.T) {
	// cel-go's cost tracker is quadratic in comprehension iterations, so a
	// huge array in the payload must be stopped by the time limit.
	big := make([]any, 200000)
	for i := range big {
		big[i] = float64(i)
	}
	ic := mustBuild(t, "cel", params(t, "filter", "body.big.exists(x, x < 0.0)"), nil, Options{CELCostLimit: 1 << 62})
	start := time.Now()
	got := ic.Process(context.Background(), &Request{Decoded: map[string]any{"big": big}})
	if d := time.Since(start); d > celEvalTimeLimit+2*time.Second {
		t.Fatalf("evaluation took %v", d)
	}
	expect(t, got, InvalidArgument, "time limit exceeded")
}

func TestCELContextCancelled(t *testing.T) {
	ic := mustBuild(t, "cel", params(t, "filter", "lists.range(100000).map(x, lists.range(100000).map(y, x * y)).size() > 0"), nil, Options{CELCostLimit: 1 << 62})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := ic.Process(ctx, celRequest(t))
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled evaluation took %v", d)
	}
	expect(t, got, Internal, "interrupted")
}

func TestCELBodyFallbacks(t *testing.T) {
	ic := mustBuild(t, "cel", params(t, "filter", "size(body) == 0 && size(extensions) == 0 && size(header) == 0 && requestURL == ''"), nil, Options{})
	expect(t, ic.Process(context.Background(), &Request{}), OK, "")
	ic = mustBuild(t, "cel", params(t, "filter", "body.a == 1.0"), nil, Options{})
	expect(t, ic.Process(context.Background(), &Request{Body: []byte(`{"a":1}`)}), OK, "")
	expect(t, ic.Process(context.Background(), &Request{Body: []byte(`{"a":`)}), InvalidArgument, "JSON")
}

func TestCELConcurrent(t *testing.T) {
	sg := newSecrets("team-a/hook-secret/token", "let-me-in")
	ic := mustBuild(t, "cel", params(t,
		"filter", "header.canonical('X-Secret-Token').compareSecret('token', 'hook-secret') && body.action == 'opened'",
		"overlays", []map[string]string{{"key": "sha", "expression": "body.pull_request.head.sha.truncate(7)"}}), sg, Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				got := ic.Process(context.Background(), celRequest(t))
				if got.Code != OK || got.Extensions["sha"] != "6113728" {
					errs <- got.Message
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestHasComprehension(t *testing.T) {
	env, err := newCELEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expr  string
		loops bool
	}{
		{"body.action == 'opened'", false},
		{"body.ref.startsWith('refs/heads/') && header.match('X-GitHub-Event', 'push')", false},
		{"body.after.truncate(7)", false},
		{"body.commits.exists(c, c.message.contains('[ci]'))", true},
		{"body.labels.map(l, l.name)", true},
		{"size(body.commits.filter(c, c.distinct)) > 0", true},
		{"lists.range(3).size() == 3", false},
		{"[1, 2].all(x, x > 0) || body.action == 'x'", true},
	} {
		ast, iss := env.Compile(tc.expr)
		if iss != nil && iss.Err() != nil {
			t.Fatalf("%s: %v", tc.expr, iss.Err())
		}
		if got := hasComprehension(ast); got != tc.loops {
			t.Errorf("hasComprehension(%s) = %v, want %v", tc.expr, got, tc.loops)
		}
	}
}
