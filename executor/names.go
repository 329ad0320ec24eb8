package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Labels hookrun puts on TaskRuns and Pods (Tekton's names, so tkn and the Dashboard find them).
const (
	LabelPipelineRun  = "tekton.dev/pipelineRun"
	LabelPipeline     = "tekton.dev/pipeline"
	LabelPipelineTask = "tekton.dev/pipelineTask"
	LabelMemberOf     = "tekton.dev/memberOf"
	LabelTaskRun      = "tekton.dev/taskRun"
	LabelTask         = "tekton.dev/task"
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on everything the executor creates.
	ManagedByValue = "hookrun"

	MemberOfTasks   = "tasks"
	MemberOfFinally = "finally"
)

// Prefixes of Pod container names.
const (
	StepPrefix    = "step-"
	SidecarPrefix = "sidecar-"
	// PrepareContainer is the first init container; ResultsContainer the one regular container.
	PrepareContainer = "prepare"
	ResultsContainer = "hookrun-results"
	// StepBinary is the small in-Pod binary (cmd/hookrun-step) on the hookrun image's PATH: prepare runs
	// it and copies it to entrypoint.BinPath, where the wrappers and hookrun-results run it.
	StepBinary = "hookrun-step"
)

// maxNameLength is the longest object name that is also a valid label value.
const maxNameLength = 63

// childName joins parent and suffix with "-"; when that is too long it keeps a prefix and adds a hash of
// the whole name, so the result is deterministic, unique and at most 63 characters.
func childName(parent, suffix string) string {
	full := parent + "-" + suffix
	if len(full) <= maxNameLength {
		return full
	}
	h := sha256.Sum256([]byte(full))
	hash := hex.EncodeToString(h[:])[:10]
	prefix := strings.TrimRight(full[:maxNameLength-len(hash)-1], "-.")
	return prefix + "-" + hash
}

// podName is the name of the Pod of a TaskRun's attempt (0 = first run, n = nth retry).
func podName(taskRun string, attempt int) string {
	if attempt == 0 {
		return childName(taskRun, "pod")
	}
	return childName(taskRun, "pod-retry"+strconv.Itoa(attempt))
}

// stepContainerName is the container name of step i.
func stepContainerName(name string, i int) string {
	if name == "" {
		return StepPrefix + "unnamed-" + strconv.Itoa(i)
	}
	return StepPrefix + name
}

// UnnamedSidecar is the container of a sidecar without a name: Tekton names it "sidecar" ("sidecar-" with
// its trailing "-" trimmed).
const UnnamedSidecar = "sidecar"

// sidecarContainerNames are the container names of a Task's sidecars: sidecar-NAME, and for the first
// unnamed sidecar "sidecar", as Tekton names it. Tekton gives every unnamed sidecar that name, so a second
// one makes a Pod the API server refuses (duplicate container name); hookrun names the second and later
// ones sidecar-unnamed-I (I their index) instead.
func sidecarContainerNames(sidecars []pipelinev1.Sidecar) []string {
	out := make([]string, len(sidecars))
	unnamed := 0
	for i, sc := range sidecars {
		switch {
		case sc.Name != "":
			out[i] = SidecarPrefix + sc.Name
		case unnamed == 0:
			out[i] = UnnamedSidecar
			unnamed++
		default:
			out[i] = SidecarPrefix + "unnamed-" + strconv.Itoa(i)
			unnamed++
		}
	}
	return out
}

// isSidecarContainer says whether a Pod container is one of the Task's sidecars.
func isSidecarContainer(name string) bool {
	return name == UnnamedSidecar || strings.HasPrefix(name, SidecarPrefix)
}

// sidecarStatusName is the name status.sidecars reports for a sidecar container (Tekton's: the container
// name without "sidecar-").
func sidecarStatusName(container string) string {
	return strings.TrimPrefix(container, SidecarPrefix)
}

// volumeName makes a DNS-label volume name from a prefix and a user-chosen name.
func volumeName(prefix, name string) string {
	n := prefix + strings.ToLower(name)
	if len(n) <= maxNameLength {
		return n
	}
	h := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(h[:])[:10]
	return strings.TrimRight(n[:maxNameLength-len(hash)-1], "-.") + "-" + hash
}
