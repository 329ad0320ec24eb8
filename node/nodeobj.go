package node

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// LeaseNamespace holds node heartbeat Leases.
const LeaseNamespace = "kube-node-lease"

// leaseDurationSeconds matches the kubelet's default node lease duration.
const leaseDurationSeconds = 40

func (a *Agent) nodeLabels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname": a.opts.NodeName,
		"kubernetes.io/os":       runtime.GOOS,
		"kubernetes.io/arch":     runtime.GOARCH,
		"beta.kubernetes.io/os":  runtime.GOOS,
		"node.hookrun.dev/agent": "process",
	}
	for k, v := range a.opts.Labels {
		l[k] = v
	}
	return l
}

func (a *Agent) nodeStatus(old *corev1.NodeStatus) corev1.NodeStatus {
	now := metav1.Now()
	hostname, _ := os.Hostname()
	st := corev1.NodeStatus{
		Capacity:    a.capacity.DeepCopy(),
		Allocatable: a.capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: localIP},
			{Type: corev1.NodeHostName, Address: a.opts.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.kubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               readTrim("/etc/machine-id"),
			SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           readTrim("/proc/sys/kernel/osrelease"),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: "hookrun-process://" + string(a.mounts),
			KubeletVersion:          "v0.0.0-hookrun-" + a.opts.Version,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "hookrun node agent is posting ready status (host " + hostname + ")"},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		},
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		if old == nil {
			continue
		}
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	return st
}

func readTrim(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

// registerNode creates the Node or, when it exists, refreshes its labels and status.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.cs.CoreV1().Nodes()
	n, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: a.nodeLabels()}}
		n, err = nodes.Create(ctx, n, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("node: register node %s: %w", a.opts.NodeName, err)
		}
		if err != nil {
			n, err = nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("node: get node %s: %w", a.opts.NodeName, err)
	}
	changed := false
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range a.nodeLabels() {
		if n.Labels[k] != v {
			n.Labels[k] = v
			changed = true
		}
	}
	if changed {
		if n, err = nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("node: update node %s: %w", a.opts.NodeName, err)
		}
	}
	n.Status = a.nodeStatus(&n.Status)
	if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("node: update node %s status: %w", a.opts.NodeName, err)
	}
	return nil
}

// renewLease creates or renews the Node's Lease in kube-node-lease.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.cs.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if err := a.ensureLeaseNamespace(ctx); err != nil {
			return err
		}
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       new(a.opts.NodeName),
				LeaseDurationSeconds: new(int32(leaseDurationSeconds)),
				RenewTime:            &now,
			},
		}
		if n, err := a.cs.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{}); err == nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
		}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("node: create lease: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: get lease: %w", err)
	}
	l.Spec.HolderIdentity = new(a.opts.NodeName)
	l.Spec.LeaseDurationSeconds = new(int32(leaseDurationSeconds))
	l.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("node: renew lease: %w", err)
	}
	return nil
}

func (a *Agent) ensureLeaseNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: LeaseNamespace}}
	_, err := a.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("node: create namespace %s: %w", LeaseNamespace, err)
	}
	return nil
}

// heartbeat renews the Lease and the Node's conditions every HeartbeatInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(a.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("renew lease", "err", err)
		}
		if err := a.registerNode(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("node heartbeat", "err", err)
		}
	}
}

// markNodeStopped sets Ready=False when the agent stops, best effort.
func (a *Agent) markNodeStopped() {
	ctx, cancel := context.WithTimeout(a.baseCtx, 3*time.Second)
	defer cancel()
	n, err := a.cs.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
	if err != nil {
		return
	}
	for i := range n.Status.Conditions {
		c := &n.Status.Conditions[i]
		if c.Type == corev1.NodeReady {
			c.Status = corev1.ConditionFalse
			c.Reason = "NodeAgentStopped"
			c.Message = "the hookrun node agent stopped"
			c.LastHeartbeatTime = metav1.Now()
			c.LastTransitionTime = metav1.Now()
		}
	}
	_, _ = a.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
}

// shouldBind applies the binding rule (see the package documentation) to an unscheduled Pod.
func (a *Agent) shouldBind(ctx context.Context, pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if s := pod.Spec.SchedulerName; s != "" && s != corev1.DefaultSchedulerName {
		return false
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		return false
	}
	node, err := a.cs.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
	if err != nil {
		a.log.Warn("get own node", "err", err)
		return false
	}
	if node.Spec.Unschedulable {
		return false
	}
	if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	if aff := pod.Spec.Affinity; aff != nil && aff.NodeAffinity != nil {
		if req := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; req != nil && !matchesNodeSelector(req, node) {
			return false
		}
	}
	if max, ok := a.capacity[corev1.ResourcePods]; ok && int64(a.activePods()) >= max.Value() {
		return false
	}
	return true
}

// activePods counts the non-terminal Pods bound to this node.
func (a *Agent) activePods() int {
	n := 0
	for _, obj := range a.ownPods.List() {
		p := obj.(*corev1.Pod)
		if p.Spec.NodeName == a.opts.NodeName && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}

// matchesNodeSelector evaluates required node affinity: the terms are ORed, expressions within a term ANDed.
func matchesNodeSelector(ns *corev1.NodeSelector, node *corev1.Node) bool {
	for _, term := range ns.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
			continue // an empty term matches nothing
		}
		if matchExprs(term.MatchExpressions, node.Labels) &&
			matchExprs(term.MatchFields, map[string]string{"metadata.name": node.Name}) {
			return true
		}
	}
	return false
}

func matchExprs(reqs []corev1.NodeSelectorRequirement, set map[string]string) bool {
	for _, r := range reqs {
		var op selection.Operator
		switch r.Operator {
		case corev1.NodeSelectorOpIn:
			op = selection.In
		case corev1.NodeSelectorOpNotIn:
			op = selection.NotIn
		case corev1.NodeSelectorOpExists:
			op = selection.Exists
		case corev1.NodeSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		case corev1.NodeSelectorOpGt:
			op = selection.GreaterThan
		case corev1.NodeSelectorOpLt:
			op = selection.LessThan
		default:
			return false
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil || !req.Matches(labels.Set(set)) {
			return false
		}
	}
	return true
}

// bind assigns the Pod to this node through the pods/binding subresource, as a scheduler does.
func (a *Agent) bind(ctx context.Context, pod *corev1.Pod) error {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: a.opts.NodeName},
	}
	err := a.cs.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	switch {
	case err == nil:
		a.log.Info("pod bound", "pod", pod.Namespace+"/"+pod.Name)
		return nil
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return nil // bound by someone else, or gone
	}
	return fmt.Errorf("bind pod %s/%s: %w", pod.Namespace, pod.Name, err)
}
