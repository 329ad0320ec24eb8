package runctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduled triggers: annotations that fire a trigger on a schedule as well as on webhooks.
const (
	// AnnotationSchedule is a cron expression: five fields (minute hour day month weekday), an optional
	// leading seconds field, or a descriptor such as @hourly or @every 10m.
	AnnotationSchedule = "hookrun.dev/schedule"
	// AnnotationScheduleTimezone is an IANA time zone for the schedule; default UTC.
	AnnotationScheduleTimezone = "hookrun.dev/schedule-timezone"
	// AnnotationScheduleMissed is what happens to ticks missed while no listener ran: "skip" (the
	// default) forgets them; "once" fires the latest missed tick once when a listener starts.
	AnnotationScheduleMissed = "hookrun.dev/schedule-missed"
	// AnnotationScheduleParams is a JSON object given to bindings as body.params.
	AnnotationScheduleParams = "hookrun.dev/schedule-params"
)

// Schedule is a trigger's parsed schedule.
type Schedule struct {
	Expression  string
	Location    *time.Location
	CatchUpOnce bool
	Params      map[string]any
	sched       cron.Schedule
}

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule reads the schedule annotations; nil when the trigger has none. Errors name the annotation.
func ParseSchedule(annotations map[string]string) (*Schedule, error) {
	expr := strings.TrimSpace(annotations[AnnotationSchedule])
	if expr == "" {
		for _, a := range []string{AnnotationScheduleTimezone, AnnotationScheduleMissed, AnnotationScheduleParams} {
			if annotations[a] != "" {
				return nil, fmt.Errorf("%w: %s needs %s", ErrAnnotation, a, AnnotationSchedule)
			}
		}
		return nil, nil
	}
	s := &Schedule{Expression: expr, Location: time.UTC}
	if tz := strings.TrimSpace(annotations[AnnotationScheduleTimezone]); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrAnnotation, AnnotationScheduleTimezone, err)
		}
		s.Location = loc
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("%w: %s: give the time zone in %s", ErrAnnotation, AnnotationSchedule, AnnotationScheduleTimezone)
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrAnnotation, AnnotationSchedule, err)
	}
	s.sched = sched
	switch m := strings.TrimSpace(annotations[AnnotationScheduleMissed]); m {
	case "", "skip":
	case "once":
		s.CatchUpOnce = true
	default:
		return nil, fmt.Errorf("%w: %s: %q is not skip or once", ErrAnnotation, AnnotationScheduleMissed, m)
	}
	if p := annotations[AnnotationScheduleParams]; p != "" {
		if err := json.Unmarshal([]byte(p), &s.Params); err != nil {
			return nil, fmt.Errorf("%w: %s: want a JSON object: %w", ErrAnnotation, AnnotationScheduleParams, err)
		}
	}
	return s, nil
}

// Next is the first tick after t.
func (s *Schedule) Next(t time.Time) time.Time { return s.sched.Next(t.In(s.Location)) }

// Latest is the last tick in (after, until], or the zero time when there is none. It looks at most
// maxTicks ticks ahead of after, so a fine schedule over a long downtime stays cheap.
func (s *Schedule) Latest(after, until time.Time) time.Time {
	const maxTicks = 100_000
	var last time.Time
	for i, t := 0, s.Next(after); i < maxTicks && !t.IsZero() && !t.After(until); i, t = i+1, s.Next(t) {
		last = t
	}
	return last
}

// Payload is the body a tick fires the trigger with: bindings read $(body.schedule.time) and
// $(body.params.NAME).
func (s *Schedule) Payload(namespace, trigger string, tick time.Time) map[string]any {
	params := s.Params
	if params == nil {
		params = map[string]any{}
	}
	return map[string]any{
		"schedule": map[string]any{
			"trigger":    trigger,
			"namespace":  namespace,
			"expression": s.Expression,
			"timezone":   s.Location.String(),
			"time":       tick.In(s.Location).Format(time.RFC3339),
			"unix":       tick.Unix(),
		},
		"params": params,
	}
}
