// Package retention deletes old PipelineRuns after archiving their logs: keep the last N successful and
// M failed runs and nothing older than a maximum age, whichever comes first. Limits come from annotations
// on the EventListener that made the runs (label triggers.tekton.dev/eventlistener), else on the runs'
// Namespace, else from the executor's flags; a limit left unset anywhere keeps everything for it.
// Running runs are never touched. A run's logs are written to a runlogs.Archive before it is deleted (a
// run whose logs cannot be archived is kept and retried), so `hookrun logs` and the dashboard still show
// them; timed-out and cancelled runs keep their Pods (and so their logs) until retention archives them.
package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Annotations on an EventListener or a Namespace.
const (
	AnnotationSucceeded = "hookrun.dev/retain-succeeded"
	AnnotationFailed    = "hookrun.dev/retain-failed"
	AnnotationMaxAge    = "hookrun.dev/retain-max-age"
)

// ErrAnnotation marks a retention annotation that cannot be used.
var ErrAnnotation = errors.New("invalid retention annotation")

// Limits say what to keep. A nil count or a zero MaxAge keeps everything for that limit.
type Limits struct {
	Succeeded, Failed *int
	MaxAge            time.Duration
}

// Set reports whether any limit is set.
func (l Limits) Set() bool { return l.Succeeded != nil || l.Failed != nil || l.MaxAge > 0 }

// Over returns l with the limits that o sets replacing l's.
func (l Limits) Over(o Limits) Limits {
	if o.Succeeded != nil {
		l.Succeeded = o.Succeeded
	}
	if o.Failed != nil {
		l.Failed = o.Failed
	}
	if o.MaxAge > 0 {
		l.MaxAge = o.MaxAge
	}
	return l
}

// Parse reads the retention annotations. Errors name the annotation.
func Parse(annotations map[string]string) (Limits, error) {
	var l Limits
	for _, c := range []struct {
		name string
		dst  **int
	}{{AnnotationSucceeded, &l.Succeeded}, {AnnotationFailed, &l.Failed}} {
		v := strings.TrimSpace(annotations[c.name])
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Limits{}, fmt.Errorf("%w: %s: %q is not a count (0 or more)", ErrAnnotation, c.name, v)
		}
		*c.dst = &n
	}
	if v := strings.TrimSpace(annotations[AnnotationMaxAge]); v != "" {
		d, err := parseAge(v)
		if err != nil || d <= 0 {
			return Limits{}, fmt.Errorf("%w: %s: %q is not a duration such as 72h or 30d", ErrAnnotation, AnnotationMaxAge, v)
		}
		l.MaxAge = d
	}
	return l, nil
}

// parseAge is time.ParseDuration plus a days unit ("30d").
func parseAge(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
