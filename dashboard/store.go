package dashboard

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Kinds of run the dashboard lists, as they appear in URLs.
const (
	kindPipelineRun = "pipelineruns"
	kindTaskRun     = "taskruns"
)

// Run states, also the CSS class of their colour.
const (
	statePending   = "pending"
	stateRunning   = "running"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
	stateCancelled = "cancelled"
)

// Labels the dashboard reads.
const (
	labelPipelineRun  = "tekton.dev/pipelineRun"
	labelPipelineTask = "tekton.dev/pipelineTask"
	labelPipeline     = "tekton.dev/pipeline"
	labelTask         = "tekton.dev/task"
	labelEventListen  = "triggers.tekton.dev/eventlistener"
	labelTrigger      = "triggers.tekton.dev/trigger"
	labelEventID      = "triggers.tekton.dev/triggers-eventid"
	// LabelRerunOf is set on a PipelineRun the dashboard re-ran: the name of the run it copies.
	LabelRerunOf = "hookrun.dev/rerun-of"
)

// summary is what the runs page shows of one PipelineRun or TaskRun: small, so that thousands of runs
// cost little beyond the informer cache that holds the objects themselves.
type summary struct {
	Kind, Namespace, Name string
	Created               time.Time
	Start, End            time.Time
	State, Reason         string
	Message               string
	Labels                map[string]string
	// Parent is the PipelineRun a TaskRun belongs to ("" for PipelineRuns and standalone TaskRuns).
	Parent string
	// What is the Pipeline or Task it runs.
	What string
	// Source: repository, revision and branch/MR found in the run's params.
	Repo, Revision, Ref string
}

// key identifies a run in the store.
func key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// store indexes run summaries, newest first, fed by informer event handlers.
type store struct {
	mu     sync.RWMutex
	byKey  map[string]*summary
	sorted []*summary // newest first; nil when it must be rebuilt
}

func newStore() *store { return &store{byKey: map[string]*summary{}} }

func (s *store) put(r *summary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(r.Kind, r.Namespace, r.Name)
	old, ok := s.byKey[k]
	s.byKey[k] = r
	if ok && s.sorted != nil && old.Created.Equal(r.Created) {
		if i := slices.Index(s.sorted, old); i >= 0 {
			s.sorted[i] = r
			return
		}
	}
	s.sorted = nil
}

func (s *store) remove(kind, ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byKey, key(kind, ns, name))
	s.sorted = nil
}

func (s *store) get(kind, ns, name string) (*summary, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.byKey[key(kind, ns, name)]
	return r, ok
}

// exists reports whether a PipelineRun or TaskRun of that name is in namespace ns, and its kind.
func (s *store) exists(ns, name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range []string{kindPipelineRun, kindTaskRun} {
		if _, ok := s.byKey[key(k, ns, name)]; ok {
			return k, true
		}
	}
	return "", false
}

// filter selects runs on the runs page.
type filter struct {
	Namespace string
	State     string
	Kind      string // "" = PipelineRuns and standalone TaskRuns; or kindPipelineRun / kindTaskRun
	Selector  labels.Selector
	Text      string // substring of the name
}

func (f filter) match(r *summary) bool {
	switch {
	case f.Namespace != "" && r.Namespace != f.Namespace,
		f.State != "" && r.State != f.State,
		f.Kind == "" && r.Parent != "",
		f.Kind != "" && r.Kind != f.Kind,
		f.Text != "" && !strings.Contains(r.Name, f.Text),
		f.Selector != nil && !f.Selector.Matches(labels.Set(r.Labels)):
		return false
	}
	return true
}

// page returns runs offset..offset+limit of those f matches (newest first), the total matched, and the
// namespaces seen (for the filter menu).
func (s *store) page(f filter, offset, limit int) (out []summary, total int, namespaces []string) {
	s.mu.Lock()
	if s.sorted == nil {
		s.sorted = make([]*summary, 0, len(s.byKey))
		for _, r := range s.byKey {
			s.sorted = append(s.sorted, r)
		}
		sort.Slice(s.sorted, func(i, j int) bool {
			a, b := s.sorted[i], s.sorted[j]
			if !a.Created.Equal(b.Created) {
				return a.Created.After(b.Created)
			}
			return a.Name > b.Name
		})
	}
	sorted := s.sorted
	s.mu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]bool{}
	for _, r := range sorted {
		if !seen[r.Namespace] {
			seen[r.Namespace] = true
			namespaces = append(namespaces, r.Namespace)
		}
		if !f.match(r) {
			continue
		}
		if total >= offset && len(out) < limit {
			out = append(out, *r)
		}
		total++
	}
	sort.Strings(namespaces)
	return out, total, namespaces
}

// state classifies a run by its Succeeded condition.
func state(st *pipelinev1.Status) (string, string, string) {
	c := st.GetCondition(pipelinev1.ConditionSucceeded)
	switch {
	case c == nil:
		return statePending, "Pending", ""
	case c.Status == corev1.ConditionTrue:
		return stateSucceeded, c.Reason, c.Message
	case c.Status == corev1.ConditionFalse && strings.Contains(c.Reason, "Cancelled"):
		return stateCancelled, c.Reason, c.Message
	case c.Status == corev1.ConditionFalse:
		return stateFailed, c.Reason, c.Message
	case c.Reason == "Pending" || c.Reason == "Queued" || c.Reason == pipelinev1.PipelineRunSpecStatusPending:
		return statePending, c.Reason, c.Message
	}
	return stateRunning, c.Reason, c.Message
}

// Params whose names say where the code comes from.
var (
	repoParam     = regexp.MustCompile(`(?i)(^|[-_.])(repo|repository|git[-_]?url|url|clone[-_]?url|project)([-_.]|$)`)
	revisionParam = regexp.MustCompile(`(?i)(revision|commit|sha|checkout)`)
	refParam      = regexp.MustCompile(`(?i)(branch|^ref$|git[-_]?ref|merge[-_]?request|mr[-_]?(id|iid)|pull[-_]?request|pr[-_]?number|source[-_]branch)`)
)

// source finds the repository, revision and branch/MR among params.
func source(ps pipelinev1.Params) (repo, rev, ref string) {
	for _, p := range ps {
		v := p.Value.StringVal
		if v == "" {
			continue
		}
		switch {
		case repo == "" && repoParam.MatchString(p.Name):
			repo = v
		case rev == "" && revisionParam.MatchString(p.Name):
			rev = v
		case ref == "" && refParam.MatchString(p.Name):
			ref = v
		}
	}
	return repo, rev, ref
}

func pipelineRunSummary(pr *pipelinev1.PipelineRun) *summary {
	st, reason, msg := state(&pr.Status.Status)
	r := &summary{Kind: kindPipelineRun, Namespace: pr.Namespace, Name: pr.Name, Created: pr.CreationTimestamp.Time,
		State: st, Reason: reason, Message: msg, Labels: pr.Labels, What: pr.Labels[labelPipeline]}
	if pr.Status.StartTime != nil {
		r.Start = pr.Status.StartTime.Time
	}
	if pr.Status.CompletionTime != nil {
		r.End = pr.Status.CompletionTime.Time
	}
	if r.What == "" && pr.Spec.PipelineRef != nil {
		r.What = pr.Spec.PipelineRef.Name
	}
	if pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled && r.State == stateRunning {
		r.Reason = "Cancelling"
	}
	r.Repo, r.Revision, r.Ref = source(pr.Spec.Params)
	return r
}

func taskRunSummary(tr *pipelinev1.TaskRun) *summary {
	st, reason, msg := state(&tr.Status.Status)
	r := &summary{Kind: kindTaskRun, Namespace: tr.Namespace, Name: tr.Name, Created: tr.CreationTimestamp.Time,
		State: st, Reason: reason, Message: msg, Labels: tr.Labels, Parent: tr.Labels[labelPipelineRun],
		What: tr.Labels[labelTask]}
	if tr.Status.StartTime != nil {
		r.Start = tr.Status.StartTime.Time
	}
	if tr.Status.CompletionTime != nil {
		r.End = tr.Status.CompletionTime.Time
	}
	if r.What == "" && tr.Spec.TaskRef != nil {
		r.What = tr.Spec.TaskRef.Name
	}
	if t := tr.Labels[labelPipelineTask]; t != "" && r.What == "" {
		r.What = t
	}
	r.Repo, r.Revision, r.Ref = source(tr.Spec.Params)
	return r
}
