package runctl

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		err  string
	}{
		{"none", nil, ""},
		{"five fields", map[string]string{AnnotationSchedule: "0 3 * * 1-5"}, ""},
		{"seconds", map[string]string{AnnotationSchedule: "*/10 * * * * *"}, ""},
		{"descriptor", map[string]string{AnnotationSchedule: "@every 5m", AnnotationScheduleMissed: "once"}, ""},
		{"bad cron", map[string]string{AnnotationSchedule: "61 * * * *"}, AnnotationSchedule},
		{"bad zone", map[string]string{AnnotationSchedule: "@daily", AnnotationScheduleTimezone: "Mars/Olympus"}, AnnotationScheduleTimezone},
		{"zone in expression", map[string]string{AnnotationSchedule: "CRON_TZ=UTC 0 3 * * *"}, AnnotationScheduleTimezone},
		{"bad missed", map[string]string{AnnotationSchedule: "@daily", AnnotationScheduleMissed: "all"}, AnnotationScheduleMissed},
		{"bad params", map[string]string{AnnotationSchedule: "@daily", AnnotationScheduleParams: "[1]"}, AnnotationScheduleParams},
		{"params without schedule", map[string]string{AnnotationScheduleParams: "{}"}, AnnotationSchedule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchedule(tc.in)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want one naming %q", err, tc.err)
			}
		})
	}
}

func TestScheduleTicks(t *testing.T) {
	s, err := ParseSchedule(map[string]string{AnnotationSchedule: "30 2 * * *", AnnotationScheduleTimezone: "America/New_York",
		AnnotationScheduleParams: `{"env": "prod"}`})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	next := s.Next(from)
	if want := time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("next %v, want %v (02:30 in New York)", next, want)
	}
	if got := s.Latest(from, from.Add(72*time.Hour)); !got.Equal(time.Date(2026, 12, 4, 7, 30, 0, 0, time.UTC)) {
		t.Fatalf("latest %v", got)
	}
	if got := s.Latest(from, from.Add(time.Hour)); !got.IsZero() {
		t.Fatalf("no tick in the first hour, got %v", got)
	}
	p := s.Payload("ns", "nightly", next)
	if p["schedule"].(map[string]any)["time"] != "2026-12-02T02:30:00-05:00" || p["params"].(map[string]any)["env"] != "prod" {
		t.Fatalf("payload %v", p)
	}
}
