package dashboard

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func TestState(t *testing.T) {
	cases := []struct {
		name string
		cond *pipelinev1.Condition
		want string
	}{
		{"no condition", nil, statePending},
		{"succeeded", &pipelinev1.Condition{Status: corev1.ConditionTrue, Reason: "Succeeded"}, stateSucceeded},
		{"failed", &pipelinev1.Condition{Status: corev1.ConditionFalse, Reason: "Failed"}, stateFailed},
		{"cancelled", &pipelinev1.Condition{Status: corev1.ConditionFalse, Reason: "Cancelled"}, stateCancelled},
		{"taskrun cancelled", &pipelinev1.Condition{Status: corev1.ConditionFalse, Reason: "TaskRunCancelled"}, stateCancelled},
		{"queued", &pipelinev1.Condition{Status: corev1.ConditionUnknown, Reason: "Queued"}, statePending},
		{"running", &pipelinev1.Condition{Status: corev1.ConditionUnknown, Reason: "Running"}, stateRunning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var st pipelinev1.Status
			if tc.cond != nil {
				c := *tc.cond
				c.Type = pipelinev1.ConditionSucceeded
				st.Conditions = []pipelinev1.Condition{c}
			}
			if got, _, _ := state(&st); got != tc.want {
				t.Errorf("state = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	param := func(name, v string) pipelinev1.Param {
		return pipelinev1.Param{Name: name, Value: *pipelinev1.NewStringValue(v)}
	}
	pts := []pipelinev1.PipelineTask{
		{Name: "clone"},
		{Name: "lint", RunAfter: []string{"clone"}},
		{Name: "test", Params: pipelinev1.Params{param("commit", "$(tasks.clone.results.commit)")}},
		{Name: "build", RunAfter: []string{"lint", "test"},
			When: pipelinev1.WhenExpressions{{Input: "$(tasks.test.results.ok)", Operator: "in", Values: []string{"yes"}}}},
	}
	var tasks []taskView
	for i := range pts {
		tasks = append(tasks, taskView{Name: pts[i].Name, After: pts[i].RunAfter, Uses: resultDeps(&pts[i])})
	}
	tasks = append(tasks, taskView{Name: "notify", Finally: true})
	cols, edges := layout(tasks)
	var got []string
	for _, c := range cols {
		var names []string
		for _, n := range c {
			names = append(names, n.Name)
		}
		got = append(got, strings.Join(names, ","))
	}
	if want := "clone | lint,test | build | notify"; strings.Join(got, " | ") != want {
		t.Errorf("columns %q, want %q", strings.Join(got, " | "), want)
	}
	for _, want := range []string{`{"from":"clone","to":"lint","result":false}`, `{"from":"clone","to":"test","result":true}`,
		`{"from":"test","to":"build","result":false}`} {
		if !strings.Contains(edges, want) {
			t.Errorf("edges %s lack %s", edges, want)
		}
	}
	if strings.Contains(edges, `"from":"test","to":"build","result":true`) {
		t.Errorf("a result dependency already drawn as runAfter is drawn twice: %s", edges)
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Millisecond, "<1s"}, {12 * time.Second, "12s"}, {3*time.Minute + 4*time.Second, "3m 04s"},
		{2*time.Hour + 5*time.Minute, "2h 05m"}, {50 * time.Hour, "2d 02h"}, {-time.Second, "0s"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestTopicMatch(t *testing.T) {
	cases := []struct {
		topic string
		c     change
		want  bool
	}{
		{"runs", change{Kind: kindTaskRun, Namespace: "a", Name: "x"}, true},
		{"runs", change{Kind: "events", Namespace: "a", Name: "el"}, false},
		{"run/a/pipelineruns/p", change{Kind: kindPipelineRun, Namespace: "a", Name: "p"}, true},
		{"run/a/pipelineruns/p", change{Kind: kindTaskRun, Namespace: "a", Name: "p-t", Parent: "p"}, true},
		{"run/a/pipelineruns/p", change{Kind: kindTaskRun, Namespace: "b", Name: "p-t", Parent: "p"}, false},
		{"run/a/pipelineruns/p", change{Kind: kindPipelineRun, Namespace: "a", Name: "q"}, false},
		{"deliveries/a/el", change{Kind: "events", Namespace: "a", Name: "el"}, true},
		{"deliveries/a/el", change{Kind: "events", Namespace: "a", Name: "other"}, false},
	}
	for _, tc := range cases {
		m, err := topicMatch(tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		if got := m(tc.c); got != tc.want {
			t.Errorf("%s matches %+v = %v, want %v", tc.topic, tc.c, got, tc.want)
		}
	}
	if _, err := topicMatch("nope/x"); err == nil {
		t.Error("unknown topic accepted")
	}
}

func TestLinkRunsEscapes(t *testing.T) {
	s := &Server{store: newStore()}
	s.store.put(&summary{Kind: kindPipelineRun, Namespace: "ns", Name: "ci-abc12"})
	html, runs := s.linkRuns("ns", `created PipelineRun ci-abc12; other skipped: <script>alert(1)</script> ci-zzz`)
	if strings.Contains(string(html), "<script>") {
		t.Errorf("message not escaped: %s", html)
	}
	if !strings.Contains(string(html), `<a class="runlink" href="/runs/ns/pipelineruns/ci-abc12">ci-abc12</a>`) {
		t.Errorf("run not linked: %s", html)
	}
	if len(runs) != 1 || runs[0].Name != "ci-abc12" {
		t.Errorf("runs %v, want the one existing run", runs)
	}
}

func TestSource(t *testing.T) {
	ps := pipelinev1.Params{
		{Name: "git-url", Value: *pipelinev1.NewStringValue("https://g/x.git")},
		{Name: "git-revision", Value: *pipelinev1.NewStringValue("abc")},
		{Name: "branch-name", Value: *pipelinev1.NewStringValue("main")},
	}
	repo, rev, ref := source(ps)
	if repo != "https://g/x.git" || rev != "abc" || ref != "main" {
		t.Errorf("source = %q %q %q", repo, rev, ref)
	}
}
