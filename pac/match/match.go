// Package match reads Pipelines-as-Code's matching annotations on a PipelineRun (on-event,
// on-target-branch, on-cel-expression, on-path-changed, on-path-changed-ignore) and decides whether an
// event runs it. It is a leaf: package pac selects runs with it and `hookrun validate` (api/validate)
// checks the annotations with it.
package match

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Prefix is Pipelines-as-Code's annotation and label prefix.
const Prefix = "pipelinesascode.tekton.dev/"

// The annotations a `.tekton/` PipelineRun carries.
const (
	OnEvent             = Prefix + "on-event"
	OnTargetBranch      = Prefix + "on-target-branch"
	OnCELExpression     = Prefix + "on-cel-expression"
	OnPathChanged       = Prefix + "on-path-changed"
	OnPathChangedIgnore = Prefix + "on-path-changed-ignore"
	OnComment           = Prefix + "on-comment"
	OnLabel             = Prefix + "on-label"
	CancelInProgress    = Prefix + "cancel-in-progress"
	MaxKeepRuns         = Prefix + "max-keep-runs"
	TargetNamespace     = Prefix + "target-namespace"
	// RemoteTask ("task", "task-1", …) and RemotePipeline name tasks and pipelines to fetch from the hub or
	// a URL.
	RemoteTask     = Prefix + "task"
	RemotePipeline = Prefix + "pipeline"
)

// Event types of on-event.
const (
	Push        = "push"
	PullRequest = "pull_request"
	Incoming    = "incoming"
)

// ErrAnnotation marks an annotation that cannot be used.
var ErrAnnotation = errors.New("invalid Pipelines-as-Code annotation")

// List splits an annotation's list: "[a, b]" or "a,b"; "&#44;" is a comma inside an item.
func List(v string) []string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1]
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(strings.ReplaceAll(item, "&#44;", ","))
		item = strings.Trim(item, `"'`)
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Files are an event's changed files (CEL's files.*).
type Files struct {
	All, Added, Deleted, Modified, Renamed []string
}

// Event is what the annotations are matched against.
type Event struct {
	// Type is "push" or "pull_request".
	Type                       string
	TargetBranch, SourceBranch string
	TargetURL, SourceURL       string
	Title                      string
	Body                       any
	// Headers by lower-case name (multiple values joined with ",").
	Headers map[string]string
	Files   Files
	// FilesKnown is false when the changed files could not be listed: path annotations then match.
	FilesKnown bool
	// Params are the Repository's params, variables of on-cel-expression too.
	Params map[string]string
}

// Rule is one PipelineRun's matching annotations, compiled.
type Rule struct {
	events, branches []string
	cel              *celRule
	paths, ignore    []string
	unsupported      string
}

// Compile reads the matching annotations. A PipelineRun with neither on-cel-expression nor both on-event
// and on-target-branch matches nothing (Pipelines-as-Code ignores it); Compile returns a Rule saying so.
// Errors name the annotation.
func Compile(annotations map[string]string) (*Rule, error) {
	r := &Rule{}
	if src := strings.TrimSpace(annotations[OnCELExpression]); src != "" {
		c, err := compileCEL(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrAnnotation, OnCELExpression, err)
		}
		r.cel = c
	}
	r.events = List(annotations[OnEvent])
	for _, e := range r.events {
		switch e {
		case Push, PullRequest, Incoming:
		default:
			return nil, fmt.Errorf("%w: %s: %q is not one of push, pull_request, incoming", ErrAnnotation, OnEvent, e)
		}
	}
	r.branches = List(annotations[OnTargetBranch])
	for _, b := range r.branches {
		if !doublestar.ValidatePattern(normGlob(stripHeads(b))) {
			return nil, fmt.Errorf("%w: %s: %q is not a valid glob", ErrAnnotation, OnTargetBranch, b)
		}
	}
	var err error
	if r.paths, err = globs(annotations, OnPathChanged); err != nil {
		return nil, err
	}
	if r.ignore, err = globs(annotations, OnPathChangedIgnore); err != nil {
		return nil, err
	}
	if src := strings.TrimSpace(annotations[OnComment]); src != "" {
		if _, err := regexp.Compile(src); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrAnnotation, OnComment, err)
		}
		if r.cel == nil && len(r.events) == 0 {
			r.unsupported = OnComment + " only: runs on a pull request comment matching it"
		}
	}
	if strings.TrimSpace(annotations[OnLabel]) != "" && r.cel == nil {
		r.unsupported = OnLabel + " is not supported by hookrun (use " + OnCELExpression + ")"
	}
	return r, nil
}

// CommentMatches reports whether comment (one of its lines, or the whole) matches the on-comment regular
// expression of annotations.
func CommentMatches(annotations map[string]string, comment string) bool {
	src := strings.TrimSpace(annotations[OnComment])
	if src == "" {
		return false
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return false
	}
	if re.MatchString(strings.TrimSpace(comment)) {
		return true
	}
	for _, line := range strings.Split(comment, "\n") {
		if re.MatchString(strings.TrimSpace(line)) {
			return true
		}
	}
	return false
}

// Check returns what is wrong with a PipelineRun's matching annotations (for `hookrun validate`), each as
// "annotation: reason".
func Check(annotations map[string]string) []string {
	var out []string
	if _, err := Compile(annotations); err != nil {
		out = append(out, strings.TrimPrefix(err.Error(), ErrAnnotation.Error()+": "))
	}
	if strings.TrimSpace(annotations[OnCELExpression]) == "" {
		ev, br := strings.TrimSpace(annotations[OnEvent]) != "", strings.TrimSpace(annotations[OnTargetBranch]) != ""
		if ev != br && strings.TrimSpace(annotations[OnComment]) == "" {
			missing := OnEvent
			if ev {
				missing = OnTargetBranch
			}
			out = append(out, missing+": required with "+map[bool]string{true: OnEvent, false: OnTargetBranch}[ev]+
				" (or use "+OnCELExpression+"); without it the PipelineRun never runs")
		}
	}
	known := map[string]bool{OnEvent: true, OnTargetBranch: true, OnCELExpression: true, OnPathChanged: true,
		OnPathChangedIgnore: true, OnComment: true, OnLabel: true}
	for k := range annotations {
		if strings.HasPrefix(k, Prefix+"on-") && !known[k] {
			out = append(out, k+": unknown annotation, never matched on (the on-… annotations are on-event, on-target-branch, "+
				"on-cel-expression, on-path-changed, on-path-changed-ignore, on-comment, on-label)")
		}
		if k == RemoteTask || k == RemotePipeline || strings.HasPrefix(k, RemoteTask+"-") || strings.HasPrefix(k, RemotePipeline+"-") {
			out = append(out, k+": remote tasks and pipelines (hub, URLs) are not fetched by hookrun: put them in .tekton/ or use a resolver (taskRef.resolver)")
		}
	}
	sort.Strings(out)
	return out
}

func globs(annotations map[string]string, name string) ([]string, error) {
	var out []string
	for _, g := range List(annotations[name]) {
		g = normGlob(strings.TrimPrefix(g, "/"))
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("%w: %s: %q is not a valid glob", ErrAnnotation, name, g)
		}
		out = append(out, g)
	}
	return out, nil
}

// normGlob turns "***" (any depth, as Pipelines-as-Code's examples write it) into doublestar's "**".
func normGlob(g string) string {
	for strings.Contains(g, "***") {
		g = strings.ReplaceAll(g, "***", "**")
	}
	return g
}

func stripHeads(b string) string { return strings.TrimPrefix(b, "refs/heads/") }

// Match reports whether ev runs the PipelineRun, and if not, why.
func (r *Rule) Match(ctx context.Context, ev Event) (bool, string, error) {
	if r.cel != nil {
		ok, err := r.cel.eval(ctx, ev)
		if err != nil {
			return false, "", fmt.Errorf("%s: %w", OnCELExpression, err)
		}
		if !ok {
			return false, OnCELExpression + " is false", nil
		}
		return true, "", nil
	}
	if r.unsupported != "" {
		return false, r.unsupported, nil
	}
	if len(r.events) == 0 || len(r.branches) == 0 {
		return false, "no " + OnEvent + " and " + OnTargetBranch + " (nor " + OnCELExpression + ")", nil
	}
	if !contains(r.events, ev.Type) {
		return false, fmt.Sprintf("%s %q does not list %s", OnEvent, strings.Join(r.events, ","), ev.Type), nil
	}
	if !BranchMatches(r.branches, ev.TargetBranch) {
		return false, fmt.Sprintf("%s %q does not match %s", OnTargetBranch, strings.Join(r.branches, ","), ev.TargetBranch), nil
	}
	if ok, why := r.pathsMatch(ev); !ok {
		return false, why, nil
	}
	return true, "", nil
}

// BranchMatches reports whether branch (a name or a refs/… ref) matches one of patterns: names, globs,
// with or without refs/heads/.
func BranchMatches(patterns []string, branch string) bool {
	b := stripHeads(branch)
	for _, p := range patterns {
		p = normGlob(stripHeads(p))
		if p == b {
			return true
		}
		if ok, _ := doublestar.Match(p, b); ok {
			return true
		}
	}
	return false
}

func (r *Rule) pathsMatch(ev Event) (bool, string) {
	if len(r.paths) == 0 && len(r.ignore) == 0 || !ev.FilesKnown {
		return true, ""
	}
	for _, f := range ev.Files.All {
		if len(r.paths) > 0 && !anyGlob(r.paths, f) {
			continue
		}
		if anyGlob(r.ignore, f) {
			continue
		}
		return true, ""
	}
	return false, fmt.Sprintf("no changed file matches %s %q / %s %q", OnPathChanged, strings.Join(r.paths, ","),
		OnPathChangedIgnore, strings.Join(r.ignore, ","))
}

func anyGlob(globs []string, files ...string) bool {
	for _, f := range files {
		for _, g := range globs {
			if ok, _ := doublestar.Match(g, f); ok {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
