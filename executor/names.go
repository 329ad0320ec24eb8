package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
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
