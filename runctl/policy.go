package runctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Annotations a Trigger (or an EventListener, for its inline triggers) carries.
const (
	AnnotationGroup               = "hookrun.dev/concurrency-group"
	AnnotationPolicy              = "hookrun.dev/concurrency-policy"
	AnnotationCancelDefaultBranch = "hookrun.dev/cancel-default-branch"
	AnnotationPaths               = "hookrun.dev/paths"
	AnnotationPathsIgnore         = "hookrun.dev/paths-ignore"
	AnnotationSkipCI              = "hookrun.dev/skip-ci"
)

// Labels and annotations the listener stamps on what a trigger with a group creates, read by the executor.
const (
	// LabelGroup is a hash of the namespace-free group key (a label value holds 63 characters).
	LabelGroup = "hookrun.dev/concurrency-group"
	// AnnotationKey is the group key itself, for people.
	AnnotationKey = "hookrun.dev/concurrency-key"
	// AnnotationRunPolicy is the policy of the run's group.
	AnnotationRunPolicy = "hookrun.dev/concurrency-policy"
	// AnnotationProtected is "true" on runs that cancel-in-progress must not cancel (default-branch pushes).
	AnnotationProtected = "hookrun.dev/protected"
	// AnnotationCancelledBy names the run (and delivery) that cancelled this one.
	AnnotationCancelledBy = "hookrun.dev/cancelled-by"
)

// Mode is a concurrency policy.
type Mode string

// The policies.
const (
	CancelInProgress Mode = "cancel-in-progress"
	Queue            Mode = "queue"
	Skip             Mode = "skip"
)

// ErrAnnotation marks an annotation with a value that cannot be used.
var ErrAnnotation = errors.New("invalid run-control annotation")

// celCostLimit bounds one key evaluation (the expression sees a stranger's payload).
const celCostLimit = 100_000

// Policy is a trigger's run control, compiled once per configuration version.
type Policy struct {
	groupSrc            string
	group               cel.Program // nil: no concurrency group
	Mode                Mode
	CancelDefaultBranch bool
	Paths, PathsIgnore  []string
	HonourSkipCI        bool
	// Forge is where a pull/merge request's changed files are read (AnnotationForge…); zero: from the
	// run's status annotations.
	Forge ForgeAccess
}

// ForgeAccess is a trigger's forge API credentials: a Secret key in its namespace and an API base URL.
type ForgeAccess struct {
	Secret, SecretKey, API string
}

// Event is what a group key sees: the decoded body, the headers and the interceptors' extensions.
type Event struct {
	Body       any
	Header     http.Header
	Extensions map[string]any
}

// Parse compiles the run-control annotations. A trigger with none gets a Policy that changes nothing.
// Errors name the annotation at fault.
func Parse(annotations map[string]string) (*Policy, error) {
	p := &Policy{Mode: Queue, HonourSkipCI: true}
	if src := strings.TrimSpace(annotations[AnnotationGroup]); src != "" {
		prg, err := compileKey(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrAnnotation, AnnotationGroup, err)
		}
		p.groupSrc, p.group = src, prg
	}
	if m, ok := annotations[AnnotationPolicy]; ok {
		switch Mode(strings.TrimSpace(m)) {
		case CancelInProgress, Queue, Skip:
			p.Mode = Mode(strings.TrimSpace(m))
		default:
			return nil, fmt.Errorf("%w: %s: %q is not one of cancel-in-progress, queue, skip", ErrAnnotation, AnnotationPolicy, m)
		}
		if p.group == nil {
			return nil, fmt.Errorf("%w: %s needs %s (the CEL expression of the group key)", ErrAnnotation, AnnotationPolicy, AnnotationGroup)
		}
	}
	var err error
	if p.CancelDefaultBranch, err = boolAnnotation(annotations, AnnotationCancelDefaultBranch); err != nil {
		return nil, err
	}
	if p.Paths, err = globs(annotations, AnnotationPaths); err != nil {
		return nil, err
	}
	if p.PathsIgnore, err = globs(annotations, AnnotationPathsIgnore); err != nil {
		return nil, err
	}
	if p.Forge, err = forgeAccess(annotations); err != nil {
		return nil, err
	}
	switch v := strings.TrimSpace(annotations[AnnotationSkipCI]); v {
	case "", "honour", "honor":
	case "ignore":
		p.HonourSkipCI = false
	default:
		return nil, fmt.Errorf("%w: %s: %q is not \"ignore\" or \"honour\"", ErrAnnotation, AnnotationSkipCI, v)
	}
	return p, nil
}

func forgeAccess(annotations map[string]string) (ForgeAccess, error) {
	a := ForgeAccess{Secret: strings.TrimSpace(annotations[AnnotationForgeSecret]),
		SecretKey: strings.TrimSpace(annotations[AnnotationForgeSecretKey]), API: strings.TrimSpace(annotations[AnnotationForgeAPI])}
	if a.Secret != "" && len(validation.IsDNS1123Subdomain(a.Secret)) > 0 {
		return a, fmt.Errorf("%w: %s: %q is not a Secret name", ErrAnnotation, AnnotationForgeSecret, a.Secret)
	}
	if a.SecretKey != "" && len(validation.IsConfigMapKey(a.SecretKey)) > 0 {
		return a, fmt.Errorf("%w: %s: %q is not a Secret key", ErrAnnotation, AnnotationForgeSecretKey, a.SecretKey)
	}
	if a.SecretKey == "" {
		a.SecretKey = "token"
	}
	if a.API != "" {
		if u, err := url.Parse(a.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return a, fmt.Errorf("%w: %s: %q is not an http(s) URL", ErrAnnotation, AnnotationForgeAPI, a.API)
		}
	}
	return a, nil
}

func boolAnnotation(annotations map[string]string, name string) (bool, error) {
	switch v := strings.TrimSpace(annotations[name]); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%w: %s: %q is not \"true\" or \"false\"", ErrAnnotation, name, v)
	}
}

// globs splits a comma- or newline-separated list of doublestar patterns and checks each.
func globs(annotations map[string]string, name string) ([]string, error) {
	var out []string
	for _, g := range strings.FieldsFunc(annotations[name], func(r rune) bool { return r == ',' || r == '\n' }) {
		g = strings.TrimPrefix(strings.TrimSpace(g), "/")
		if g == "" {
			continue
		}
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("%w: %s: %q is not a valid glob", ErrAnnotation, name, g)
		}
		out = append(out, g)
	}
	return out, nil
}

func compileKey(src string) (cel.Program, error) {
	mapStrDyn := cel.MapType(cel.StringType, cel.DynType)
	env, err := cel.NewEnv(
		cel.Variable("body", cel.DynType),
		cel.Variable("header", mapStrDyn),
		cel.Variable("extensions", mapStrDyn),
		ext.Strings(),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); !t.IsExactType(cel.StringType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("the expression gives %s, want string", t)
	}
	return env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
}

// HasGroup reports whether the trigger names a concurrency group.
func (p *Policy) HasGroup() bool { return p != nil && p.group != nil }

// Key evaluates the group key over ev. The key must be a non-empty string.
func (p *Policy) Key(ctx context.Context, ev Event) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	header := map[string]any{}
	for k, v := range ev.Header {
		header[strings.ToLower(k)] = v
	}
	ext := ev.Extensions
	if ext == nil {
		ext = map[string]any{}
	}
	out, _, err := p.group.ContextEval(ctx, map[string]any{"body": ev.Body, "header": header, "extensions": ext})
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", AnnotationGroup, p.groupSrc, err)
	}
	s, ok := out.Value().(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s %q: gave %v, want a non-empty string", AnnotationGroup, p.groupSrc, out.Value())
	}
	return s, nil
}

// GroupLabel is the label value of a group key: the run's namespace is part of the selection, not of the
// label.
func GroupLabel(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:40]
}

// Stamp returns the labels and annotations that put a run in key's group under p.
func (p *Policy) Stamp(key string, protected bool) (labels, annotations map[string]string) {
	labels = map[string]string{LabelGroup: GroupLabel(key)}
	annotations = map[string]string{AnnotationKey: key, AnnotationRunPolicy: string(p.Mode)}
	if protected && !p.CancelDefaultBranch {
		annotations[AnnotationProtected] = "true"
	}
	return labels, annotations
}

// FilterPaths decides a path filter over the changed files: run reports whether the trigger runs, and
// why says what was decided (for the answer). known is false when the payload lists no files.
func (p *Policy) FilterPaths(files []string, known bool) (run bool, why string) {
	if p == nil || (len(p.Paths) == 0 && len(p.PathsIgnore) == 0) {
		return true, ""
	}
	if !known {
		return true, "path filter not evaluated: the event lists no changed files"
	}
	for _, f := range files {
		if len(p.Paths) > 0 && !matchAny(p.Paths, f) {
			continue
		}
		if matchAny(p.PathsIgnore, f) {
			continue
		}
		return true, ""
	}
	return false, fmt.Sprintf("no changed file matches %s %q / %s %q (%d files changed)",
		AnnotationPaths, strings.Join(p.Paths, ","), AnnotationPathsIgnore, strings.Join(p.PathsIgnore, ","), len(files))
}

func matchAny(patterns []string, file string) bool {
	for _, g := range patterns {
		if ok, _ := doublestar.Match(g, file); ok {
			return true
		}
	}
	return false
}

// AnnotationQueuedAt is when the listener received the delivery that made the run (RFC 3339, nanoseconds):
// runs of one group are ordered by it, then by creation time.
const AnnotationQueuedAt = "hookrun.dev/queued-at"

// QueuedAt is when a run was queued: its AnnotationQueuedAt, else created (its creation time).
func QueuedAt(annotations map[string]string, created time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, annotations[AnnotationQueuedAt]); err == nil {
		return t
	}
	return created
}

// CancelPatch is the merge patch that cancels a PipelineRun of a group (Tekton's spec.status: Cancelled,
// through the normal cancel path) and says who cancelled it.
func CancelPatch(by string) []byte {
	b, _ := json.Marshal(map[string]any{ // strings only: cannot fail
		"metadata": map[string]any{"annotations": map[string]string{AnnotationCancelledBy: by}},
		"spec":     map[string]any{"status": "Cancelled"},
	})
	return b
}

// Check returns every problem of a trigger's run-control and schedule annotations, for `hookrun
// validate` (Parse and ParseSchedule stop at the first): group keys that do not compile, policies,
// globs, cron syntax and time zones, forge credentials, and misspelt keys of these families.
func Check(annotations map[string]string) []error {
	var out []error
	sub := func(keys ...string) {
		m := map[string]string{}
		for _, k := range keys {
			if v, ok := annotations[k]; ok {
				m[k] = v
			}
		}
		if _, err := Parse(m); err != nil {
			out = append(out, err)
		}
	}
	sub(AnnotationGroup, AnnotationPolicy)
	sub(AnnotationCancelDefaultBranch)
	sub(AnnotationPaths)
	sub(AnnotationPathsIgnore)
	sub(AnnotationSkipCI)
	sub(AnnotationForgeSecret, AnnotationForgeSecretKey, AnnotationForgeAPI)
	if _, err := ParseSchedule(annotations); err != nil {
		out = append(out, err)
	}
	known := map[string]bool{AnnotationGroup: true, AnnotationPolicy: true, AnnotationCancelDefaultBranch: true,
		AnnotationPaths: true, AnnotationPathsIgnore: true, AnnotationSkipCI: true, AnnotationForgeSecret: true,
		AnnotationForgeSecretKey: true, AnnotationForgeAPI: true, AnnotationSchedule: true, AnnotationScheduleTimezone: true,
		AnnotationScheduleMissed: true, AnnotationScheduleParams: true, AnnotationKey: true, AnnotationCancelledBy: true}
	var unknown []string
	for k := range annotations {
		for _, family := range []string{"hookrun.dev/concurrency", "hookrun.dev/path", "hookrun.dev/skip", "hookrun.dev/schedule", "hookrun.dev/forge", "hookrun.dev/cancel"} {
			if strings.HasPrefix(k, family) && !known[k] {
				unknown = append(unknown, k)
				break
			}
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		out = append(out, fmt.Errorf("%w: %s: unknown annotation (misspelt?)", ErrAnnotation, k))
	}
	return out
}
