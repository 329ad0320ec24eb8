// Package runconfig reads the ConfigMaps Tekton users tune — config-defaults and feature-flags, in the
// executor's own namespace as Tekton's are in tekton-pipelines — and keeps the executor's current view of
// them (Store), fed by a watch (Watcher). Keys hookrun honours change its behaviour; every other key is
// reported (a log line and an Event on the ConfigMap naming the key), never silently taken.
package runconfig

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// The ConfigMaps' names (Tekton's).
const (
	DefaultsName = "config-defaults"
	FeaturesName = "feature-flags"
)

// Values of feature-flags' coschedule (Tekton's).
const (
	CoscheduleWorkspaces         = "workspaces"
	CoschedulePipelineRuns       = "pipelineruns"
	CoscheduleIsolatePipelineRun = "isolate-pipelinerun"
	CoscheduleDisabled           = "disabled"
)

// Config is what the two ConfigMaps say, with Tekton's defaults for what they leave out.
type Config struct {
	// Timeout is default-timeout-minutes: a run's timeout when it gives none (0 = no timeout).
	Timeout time.Duration
	// ServiceAccount is default-service-account: the ServiceAccount of runs that name none.
	ServiceAccount string
	// ManagedBy is default-managed-by-label-value: app.kubernetes.io/managed-by on runs' children
	// when the user set none ("" = hookrun's own value).
	ManagedBy string
	// PodTemplate is default-pod-template, merged under every run's pod template.
	PodTemplate *pipelinev1.PodTemplate
	// WorkspaceBinding is default-task-run-workspace-binding: the binding of a TaskRun's required
	// workspaces it leaves unbound.
	WorkspaceBinding *pipelinev1.WorkspaceBinding
	// MaxMatrixCombinations is default-max-matrix-combinations-count (0: not set).
	MaxMatrixCombinations int
	// Coschedule is feature-flags' coschedule (disable-affinity-assistant: "true" without a coschedule
	// means disabled).
	Coschedule string
}

// Default is the configuration when neither ConfigMap exists (Tekton's defaults).
func Default() Config {
	return Config{Timeout: time.Hour, ServiceAccount: "default", Coschedule: CoscheduleWorkspaces}
}

// Problem is one key hookrun does not take: not honoured, or a value it cannot read.
type Problem struct {
	ConfigMap, Key, Message string
}

func (p Problem) String() string { return fmt.Sprintf("%s: key %q %s", p.ConfigMap, p.Key, p.Message) }

// notHonoured says, per Tekton config-defaults key hookrun does not read, why (what hookrun does instead).
func notHonoured() map[string]string {
	return map[string]string{
		"default-affinity-assistant-pod-template": "has no effect: hookrun schedules parallel tasks together with pod affinity, it runs no affinity-assistant Pods",
		"default-cloud-events-sink":               "is not honoured: hookrun sends no run CloudEvents",
		"default-forbidden-env":                   "is not honoured: the pod template's env reaches every step",
		"default-resolver-type":                   "is not honoured: a ref with params needs its resolver",
		"default-container-resource-requirements": "is not honoured: steps get only the resources their Task and run give",
		"default-imagepullbackoff-timeout":        "is not honoured: a Pod that cannot pull its image fails at once",
		"default-create-container-error-timeout":  "is not honoured: a Pod that cannot create a container fails at once",
		"default-maximum-resolution-timeout":      "is not honoured: remote references are retried until the run's timeout",
		"default-sidecar-log-polling-interval":    "is not honoured: hookrun's results container needs no polling",
		"default-step-ref-concurrency-limit":      "is not honoured: StepActions are resolved one after another",
	}
}

// Parse reads the two ConfigMaps' data (nil when a ConfigMap does not exist). Keys that are not
// honoured or have values hookrun cannot read come back as problems; the rest of the configuration
// still applies (an unreadable value keeps the default).
func Parse(defaults, features map[string]string) (Config, []Problem) {
	c := Default()
	var problems []Problem
	bad := func(cm, key, format string, a ...any) {
		problems = append(problems, Problem{ConfigMap: cm, Key: key, Message: fmt.Sprintf(format, a...)})
	}
	for _, k := range sortedKeys(defaults) {
		if err := c.setDefault(k, defaults[k]); err != nil {
			bad(DefaultsName, k, "%v", err)
		}
	}
	coscheduleSet := false
	for _, k := range sortedKeys(features) {
		v := strings.TrimSpace(features[k])
		switch k {
		case "_example":
		case "coschedule":
			switch v {
			case CoscheduleWorkspaces, CoschedulePipelineRuns, CoscheduleIsolatePipelineRun, CoscheduleDisabled:
				c.Coschedule, coscheduleSet = v, true
			default:
				bad(FeaturesName, k, "has value %q: want workspaces, pipelineruns, isolate-pipelinerun or disabled", v)
			}
		case "disable-affinity-assistant":
			if _, err := strconv.ParseBool(v); err != nil {
				bad(FeaturesName, k, "has value %q: want true or false", v)
			}
		default:
			bad(FeaturesName, k, "is not honoured by hookrun (it is read only for coschedule and disable-affinity-assistant; see the README)")
		}
	}
	if off, _ := strconv.ParseBool(strings.TrimSpace(features["disable-affinity-assistant"])); off && !coscheduleSet {
		c.Coschedule = CoscheduleDisabled
	}
	return c, problems
}

// setDefault applies one config-defaults key.
func (c *Config) setDefault(key, value string) error {
	v := strings.TrimSpace(value)
	switch key {
	case "_example":
	case "default-timeout-minutes":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("has value %q: want a whole number of minutes (0: no timeout)", v)
		}
		c.Timeout = time.Duration(n) * time.Minute
	case "default-max-matrix-combinations-count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("has value %q: want a positive whole number", v)
		}
		c.MaxMatrixCombinations = n
	case "default-service-account":
		if v != "" {
			c.ServiceAccount = v
		}
	case "default-managed-by-label-value":
		c.ManagedBy = v
	case "default-pod-template":
		var pt pipelinev1.PodTemplate
		if err := yaml.UnmarshalStrict([]byte(value), &pt); err != nil {
			return fmt.Errorf("is not a pod template hookrun can read: %w", err)
		}
		c.PodTemplate = &pt
	case "default-task-run-workspace-binding":
		var b pipelinev1.WorkspaceBinding
		if err := yaml.UnmarshalStrict([]byte(value), &b); err != nil {
			return fmt.Errorf("is not a workspace binding hookrun can read: %w", err)
		}
		c.WorkspaceBinding = &b
	default:
		if why, ok := notHonoured()[key]; ok {
			return fmt.Errorf("%s", why)
		}
		return fmt.Errorf("is not a key hookrun (or Tekton) knows")
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Store holds the current configuration; safe for concurrent use. The zero Store is not ready: use
// NewStore.
type Store struct {
	mu  sync.RWMutex
	cur Config
}

// NewStore starts with Tekton's defaults.
func NewStore() *Store { return &Store{cur: Default()} }

// Get returns the current configuration.
func (s *Store) Get() Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur
}

// Set replaces the current configuration.
func (s *Store) Set(c Config) {
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
}
