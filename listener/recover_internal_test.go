package listener

import (
	"fmt"
	"reflect"
	"testing"

	ghforge "github.com/hookrun/hookrun/forge/github"
	glforge "github.com/hookrun/hookrun/forge/gitlab"
)

func TestPlanRecovery(t *testing.T) {
	ok := func(id int64, guid string) ghforge.Delivery {
		return ghforge.Delivery{ID: id, GUID: guid, Status: "OK", StatusCode: 202}
	}
	bad := func(id int64, guid string, code int) ghforge.Delivery {
		return ghforge.Delivery{ID: id, GUID: guid, Status: "failed", StatusCode: code}
	}
	ids := func(ds []ghforge.Delivery) []int64 {
		out := []int64{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	cases := []struct {
		name              string
		listed            []ghforge.Delivery
		tries             map[string]int
		redeliver, gaveUp []int64
		newest            int64
	}{
		{"nothing", nil, nil, []int64{}, []int64{}, 0},
		{"failed once", []ghforge.Delivery{bad(3, "a", 0), bad(1, "b", 503)}, nil, []int64{1, 3}, []int64{}, 3},
		{"later success wins", []ghforge.Delivery{ok(5, "a"), bad(3, "a", 0)}, nil, []int64{}, []int64{}, 5},
		{"later failure of a delivered event: newest attempt decides", []ghforge.Delivery{bad(5, "a", 500), ok(3, "a")}, nil, []int64{5}, []int64{}, 5},
		{"newest failed attempt only", []ghforge.Delivery{bad(7, "a", 0), bad(3, "a", 0)}, map[string]int{"a": 1}, []int64{7}, []int64{}, 7},
		{"gave up", []ghforge.Delivery{bad(7, "a", 401), bad(8, "b", 0)}, map[string]int{"a": 3}, []int64{8}, []int64{7}, 8},
		{"200 with a status that is not OK", []ghforge.Delivery{{ID: 2, GUID: "a", Status: "timed out", StatusCode: 200}}, nil, []int64{2}, []int64{}, 2},
		{"no GUID", []ghforge.Delivery{bad(2, "", 0)}, nil, []int64{}, []int64{}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := planRecovery(c.listed, c.tries, 3)
			if got := ids(p.redeliver); !reflect.DeepEqual(got, c.redeliver) {
				t.Errorf("redeliver %v, want %v", got, c.redeliver)
			}
			if got := ids(p.gaveUp); !reflect.DeepEqual(got, c.gaveUp) {
				t.Errorf("gave up %v, want %v", got, c.gaveUp)
			}
			if p.newest != c.newest {
				t.Errorf("newest %d, want %d", p.newest, c.newest)
			}
		})
	}
}

func TestPlanGitLabEvents(t *testing.T) {
	ev := func(id int64, key, status string) glforge.HookEvent {
		e := glforge.HookEvent{ID: id, IdempotencyKey: key, Status: status}
		fmt.Sscan(status, &e.StatusCode)
		return e
	}
	ids := func(es []glforge.HookEvent) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	cases := []struct {
		name              string
		listed            []glforge.HookEvent
		tries             map[string]int
		redeliver, gaveUp []int64
		resolved          []string
	}{
		{"no answer, then 503", []glforge.HookEvent{ev(9, "a", glforge.InternalError), ev(4, "b", "503")}, nil, []int64{4, 9}, []int64{}, nil},
		{"a resend got through", []glforge.HookEvent{ev(12, "a", "202"), ev(9, "a", glforge.InternalError)}, map[string]int{"a": 1}, []int64{}, []int64{}, []string{"a"}},
		{"redirect counts as delivered", []glforge.HookEvent{ev(3, "a", "302")}, nil, []int64{}, []int64{}, []string{"a"}},
		{"the newest failed attempt is resent", []glforge.HookEvent{ev(12, "a", "500"), ev(9, "a", "200")}, nil, []int64{12}, []int64{}, nil},
		{"given up after max", []glforge.HookEvent{ev(12, "a", "401"), ev(13, "b", "404")}, map[string]int{"a": 3}, []int64{13}, []int64{12}, nil},
		{"no Idempotency-Key: left alone", []glforge.HookEvent{ev(5, "", glforge.InternalError)}, nil, []int64{}, []int64{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := planAttempts(c.listed, gitlabAttempt, c.tries, 3)
			if got := ids(p.redeliver); !reflect.DeepEqual(got, c.redeliver) {
				t.Errorf("resend %v, want %v", got, c.redeliver)
			}
			if got := ids(p.gaveUp); !reflect.DeepEqual(got, c.gaveUp) {
				t.Errorf("gave up %v, want %v", got, c.gaveUp)
			}
			for _, k := range c.resolved {
				if !p.resolved[k] {
					t.Errorf("%s not resolved", k)
				}
			}
		})
	}
}
